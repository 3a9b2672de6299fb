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
  });
  check.same("k", options.k);
  check.same("rho", options.rho);
  check.same("released_recipe", options.released_recipe);
  check.finish();

  auto cluster = [&](const Eigen::Ref<const Matrix<S>>& Z, const Matrix<S>& warm, std::uint64_t seed_offset,
                     const char* domain) {
    KMeansOptions<S> o = options.kmeans;
    o.initial_centroids = warm;
    o.seed += seed_offset;
    KMeansResult<S> result = mpi::kmeans(comm, Z, warm.size() != 0 ? warm.rows() : options.k, o, rows_per_partial);
    if (!o.spherical) {  // the same centroids on every rank: every rank throws or none
      const Vector<S> norms = result.centroids.rowwise().norm();
      pd::require(norms.minCoeff() > S(0), where, std::string("a centroid of domain ") + domain + " is zero");
      result.centroids = norms.cwiseInverse().asDiagonal() * result.centroids;
    }
    return result;
  };
  auto solve = [&](const Eigen::Ref<const Matrix<S>>& Z, const KMeansResult<S>& owner, S rho) {
    return options.released_recipe
               ? sharded_prototype_sinkhorn<S>(comm, Z, owner.centroids, owner.proportions,
                                               released_prototype_sinkhorn_options<S>(), rho, true)
               : sharded_prototype_sinkhorn<S>(comm, Z, owner.centroids, owner.proportions, options.sinkhorn, rho, false);
  };
  PrototypeTargets<S> targets;
  targets.clusters_a = cluster(ZA, options.prototypes_a, 0, "A");
  targets.clusters_b = cluster(ZB, options.prototypes_b, 1, "B");
  const S hard = std::numeric_limits<S>::infinity();
  targets.aa = solve(ZA, targets.clusters_a, hard);
  targets.bb = solve(ZB, targets.clusters_b, hard);
  targets.ab = solve(ZA, targets.clusters_b, options.rho);
  targets.ba = solve(ZB, targets.clusters_a, options.rho);
  return targets;
}

}  // namespace protoot::mpi::detail
