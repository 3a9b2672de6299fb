// protoot/mpi/detail/prototype.hpp — the sharded prototype OT step behind
// protoot/mpi/prototype_targets.hpp.
#pragma once

#include <mpi.h>

#include <limits>
#include <string>

#include "protoot/mpi/detail/comm.hpp"
#include "protoot/mpi/kmeans.hpp"
#include "protoot/mpi/sinkhorn.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/prototype_targets.hpp"

namespace protoot::mpi::detail {

template <class S>
PrototypeSinkhornResult<S> sharded_prototype_sinkhorn(MPI_Comm comm, const Eigen::Ref<const Matrix<S>>& Z,
                                                      const Matrix<S>& P, const Vector<S>& w,
                                                      const SinkhornOptions<S>& options, S rho,
                                                      bool normalise_similarity_rows) {
  namespace pd = protoot::detail;
  constexpr const char* where = "mpi::prototype_sinkhorn";
  CollectiveCheck check(comm, where);
  const RowLayout layout = row_layout(comm, Z.rows());
  Matrix<S> C;
  Vector<S> b;
  check.local([&] {
    b = pd::prototype_marginals<S>(1, P.rows(), w, rho, Vector<S>()).second;  // w / sum(w), checked
    C = Z.rows() ? prototype_cost(Z, P, normalise_similarity_rows) : Matrix<S>(0, P.rows());
    pd::require(layout.rows() > 0, where, "features Z are empty on every rank");
  });
  check.same("prototypes P", P.data(), P.size());
  check.same("prototype marginal w", w.data(), w.size());
  check.same("rho", rho);
  check.finish();
  const Vector<S> a = Vector<S>::Constant(Z.rows(), S(1) / S(layout.rows()));
  const S hard = std::numeric_limits<S>::infinity();
  return pd::prototype_result(std::isinf(rho) ? mpi::sinkhorn(comm, C, a, b, options)
                                              : mpi::sinkhorn_unbalanced(comm, C, a, b, hard, rho, options));
}

template <class S>
PrototypeTargets<S> sharded_prototype_targets(MPI_Comm comm, const Eigen::Ref<const Matrix<S>>& ZA,
                                              const Eigen::Ref<const Matrix<S>>& ZB,
                                              const PrototypeTargetsOptions<S>& options, Index rows_per_partial) {
  namespace pd = protoot::detail;
  constexpr const char* where = "mpi::prototype_targets";
  CollectiveCheck check(comm, where);
  const Index da = agreed_width(comm, check, where, ZA.rows(), ZA.cols(), "ZA");
  const Index db = agreed_width(comm, check, where, ZB.rows(), ZB.cols(), "ZB");
  check.local([&] {
    pd::require_size(db, da, where, "ZB must have the feature dimension d of ZA");
    pd::require(options.kmeans.initial_centroids.size() == 0 && options.kmeans.weights.size() == 0, where,
                "kmeans.initial_centroids/weights must be empty (use prototypes_a/_b)");
    pd::require(options.rho > S(0), where, "rho must be > 0 (+infinity for a hard constraint)");
    for (const Matrix<S>* warm : {&options.prototypes_a, &options.prototypes_b})
      pd::require(warm->size() != 0 || options.k >= 1, where, "k must be >= 1 when a domain has no prototypes");
    pd::require(options.cross_k >= 0, where, "cross_k must be >= 0 (0: the in-domain prototypes)");
    if (options.second_clustering())
      for (const Matrix<S>* warm : {&options.cross_prototypes_a, &options.cross_prototypes_b})
        pd::require(warm->size() != 0 || options.cross_k >= 1, where,
                    "cross_k must be >= 1 when a domain has no cross prototypes");
  });
  check.same("k", options.k);
  check.same("cross_k", options.cross_k);
  check.same("rho", options.rho);
  check.same("released_recipe", options.released_recipe);
  check.same("uniform_marginals", options.uniform_marginals);
  check.finish();

  // One domain's prototypes: mpi::kmeans (seed + 1 for B; + 2 and + 3 for the cross-domain
  // problems' second clustering), centroids on the unit sphere. Every rank holds the same
  // centroids, so a zero one throws on every rank.
  const auto prototypes_of = [&](const Eigen::Ref<const Matrix<S>>& Z, const Matrix<S>& warm, Index k, int domain,
                                 int seed_offset) {
    KMeansOptions<S> o = options.kmeans;
    o.initial_centroids = warm;
    o.seed += std::uint64_t(seed_offset);
    KMeansResult<S> clusters = mpi::kmeans(comm, Z, warm.size() ? warm.rows() : k, o, rows_per_partial);
    const Vector<S> length = clusters.centroids.rowwise().norm();
    pd::require(o.spherical || length.minCoeff() > S(0), where,
                std::string("a centroid of domain ") + "AB"[domain] + " is zero");
    if (!o.spherical) clusters.centroids = length.cwiseInverse().asDiagonal() * clusters.centroids;
    return clusters;
  };
  PrototypeTargets<S> targets;
  targets.clusters_a = prototypes_of(ZA, options.prototypes_a, options.k, 0, 0);
  targets.clusters_b = prototypes_of(ZB, options.prototypes_b, options.k, 1, 1);
  const bool second = options.second_clustering();
  targets.cross_clusters_a = second ? prototypes_of(ZA, options.cross_prototypes_a, options.cross_k, 0, 2) : targets.clusters_a;
  targets.cross_clusters_b = second ? prototypes_of(ZB, options.cross_prototypes_b, options.cross_k, 1, 3) : targets.clusters_b;
  // <samples><prototypes>: onto the own domain's prototypes with a hard marginal, onto the other's
  // relaxed by rho; the released recipe swaps in its cost and fixed options.
  const SinkhornOptions<S> solver = options.released_recipe ? released_prototype_sinkhorn_options<S>() : options.sinkhorn;
  const S hard = std::numeric_limits<S>::infinity();
  const struct {
    PrototypeSinkhornResult<S>* out;
    const Eigen::Ref<const Matrix<S>>* samples;
    const KMeansResult<S>* owner;
    S rho;
  } problems[] = {{&targets.aa, &ZA, &targets.clusters_a, hard},
                  {&targets.bb, &ZB, &targets.clusters_b, hard},
                  {&targets.ab, &ZA, &targets.cross_clusters_b, options.rho},
                  {&targets.ba, &ZB, &targets.cross_clusters_a, options.rho}};
  for (const auto& p : problems) {
    const Vector<S> marginal = prototype_marginal(*p.owner, options.uniform_marginals);
    *p.out = sharded_prototype_sinkhorn<S>(comm, *p.samples, p.owner->centroids, marginal, solver, p.rho,
                                           options.released_recipe);
  }
  return targets;
}

}  // namespace protoot::mpi::detail
