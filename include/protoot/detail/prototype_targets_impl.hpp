// protoot/detail/prototype_targets_impl.hpp — definitions of protoot/prototype_targets.hpp.
#pragma once

#include <limits>
#include <string>

#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/prototype_targets.hpp"
#include "protoot/types.hpp"

namespace protoot {

template <class S>
Vector<S> prototype_marginal(const KMeansResult<S>& clusters, bool uniform) {
  const Index k = clusters.centroids.rows();
  return uniform ? Vector<S>(Vector<S>::Constant(k, S(1) / S(k))) : clusters.proportions;
}

template <class DA, class DB>
PrototypeTargets<typename DA::Scalar> prototype_targets(const Eigen::MatrixBase<DA>& ZA,
                                                        const Eigen::MatrixBase<DB>& ZB,
                                                        const PrototypeTargetsOptions<typename DA::Scalar>& options) {
  using S = typename DA::Scalar;
  static_assert(std::is_same<S, typename DB::Scalar>::value, "protoot::prototype_targets: ZA and ZB scalar types differ");
  constexpr const char* where = "prototype_targets";
  detail::require_size(ZB.cols(), ZA.cols(), where, "ZB must have the feature dimension d of ZA");
  detail::require(options.kmeans.initial_centroids.size() == 0 && options.kmeans.weights.size() == 0, where,
                  "kmeans.initial_centroids/weights must be empty (use prototypes_a/_b)");
  detail::require(options.rho > S(0), where, "rho must be > 0 (+infinity for a hard constraint)");
  detail::require(options.cross_k >= 0, where, "cross_k must be >= 0 (0: the in-domain prototypes)");

  auto cluster = [&](const auto& Z, const Matrix<S>& warm, Index k, std::uint64_t seed_offset, const char* domain) {
    detail::require(warm.size() != 0 || k >= 1, where,
                    std::string("k must be >= 1 when no prototypes are given for domain ") + domain);
    KMeansOptions<S> o = options.kmeans;
    o.initial_centroids = warm;
    o.seed += seed_offset;
    KMeansResult<S> result = kmeans(Z, warm.size() != 0 ? warm.rows() : k, o);
    if (!o.spherical) {  // Euclidean centroids become prototypes on the sphere
      const Vector<S> norms = result.centroids.rowwise().norm();
      detail::require(norms.minCoeff() > S(0), where, std::string("a centroid of domain ") + domain + " is zero");
      result.centroids = norms.cwiseInverse().asDiagonal() * result.centroids;
    }
    return result;
  };
  auto solve = [&](const auto& Z, const KMeansResult<S>& owner, S rho) {
    const Vector<S> marginal = prototype_marginal(owner, options.uniform_marginals);
    return options.released_recipe ? prototype_sinkhorn_released(Z, owner.centroids, marginal, rho)
                                   : prototype_sinkhorn(Z, owner.centroids, marginal, options.sinkhorn, rho);
  };

  PrototypeTargets<S> targets;
  targets.clusters_a = cluster(ZA, options.prototypes_a, options.k, 0, "A");
  targets.clusters_b = cluster(ZB, options.prototypes_b, options.k, 1, "B");
  const bool second = options.second_clustering();
  targets.cross_clusters_a = second ? cluster(ZA, options.cross_prototypes_a, options.cross_k, 2, "A") : targets.clusters_a;
  targets.cross_clusters_b = second ? cluster(ZB, options.cross_prototypes_b, options.cross_k, 3, "B") : targets.clusters_b;
  const S hard = std::numeric_limits<S>::infinity();
  targets.aa = solve(ZA, targets.clusters_a, hard);
  targets.bb = solve(ZB, targets.clusters_b, hard);
  targets.ab = solve(ZA, targets.cross_clusters_b, options.rho);
  targets.ba = solve(ZB, targets.cross_clusters_a, options.rho);
  return targets;
}

template <class DP, class DZ, class DC>
Matrix<typename DZ::Scalar> plan_weighted_prototypes(const Eigen::MatrixBase<DP>& plan, const Eigen::MatrixBase<DZ>& Z,
                                                     const Eigen::MatrixBase<DC>& previous) {
  using S = typename DZ::Scalar;
  constexpr const char* where = "plan_weighted_prototypes";
  detail::require_size(plan.rows(), Z.rows(), where, "plan rows (one per sample)");
  detail::require_size(previous.rows(), plan.cols(), where, "previous prototypes (one per plan column)");
  detail::require_size(previous.cols(), Z.cols(), where, "previous prototypes' dimension");
  detail::require_finite(plan, where, "plan");
  detail::require_finite(Z, where, "Z");
  detail::require_finite(previous, where, "previous");
  Matrix<S> means;
  detail::parallel_product(means, plan.transpose(), Z);
  for (Index j = 0; j < means.rows(); ++j)
    if (!(means.row(j).norm() > S(0))) means.row(j) = previous.row(j);
  return l2_normalise_rows(means);
}

}  // namespace protoot
