// protoot/prototype_targets.hpp — ProtoOT's per-epoch target step in one call: K-means on each
// domain's features, then the four prototype OT problems (docs/method.md sections 1, 2 and 4)
//   A->A, B->B: a domain's samples onto its own prototypes, marginal = its own proportions (hard);
//   A->B, B->A: a domain's samples onto the OTHER domain's prototypes, marginal = that domain's
//               proportions, KL-relaxed by rho (they only estimate this domain's class mix).
// Proportions travel inside each KMeansResult with their centroids, so proportion j always
// belongs to prototype j: no empty cluster is dropped and no stale index pairing can happen.
#pragma once

#include <limits>
#include <string>

#include "protoot/detail/openmp.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/l2_normalize.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot {

template <class Scalar>
struct PrototypeTargetsOptions {
  /// Prototypes per domain, K >= 1 (e.g. the number of categories); a domain with warm-start
  /// prototypes takes K from their row count instead.
  Index k = 0;
  /// K-means of each domain (domain B runs with seed + 1). initial_centroids and weights must
  /// stay empty (use prototypes_a/_b). Default: spherical, 50 iterations, one k-means++ init.
  KMeansOptions<Scalar> kmeans = [] {
    KMeansOptions<Scalar> o;
    o.spherical = true;
    o.max_iterations = 50;
    return o;
  }();
  /// Warm start, K x d each (e.g. last epoch's clusters_a.centroids, or the trainer's evolving
  /// prototypes): K-means refines them, keeping prototype j as row j; with
  /// kmeans.max_iterations = 0 they are kept as they are (unit-normalised) and only their
  /// proportions are recomputed from their own nearest-prototype assignment. Empty: fresh K-means.
  Matrix<Scalar> prototypes_a, prototypes_b;
  /// The four solves (prototype_sinkhorn). Default: epsilon 0.05, log domain, to an L1 marginal
  /// error of 1e-4 (ample for training targets, and reachable in float).
  SinkhornOptions<Scalar> sinkhorn = [] {
    SinkhornOptions<Scalar> o;
    o.epsilon = Scalar(0.05);
    o.tolerance = Scalar(1e-4);
    return o;
  }();
  /// KL weight of the prototype marginal in A->B and B->A, in cost units (> 0); +infinity makes
  /// it hard. The intra-domain problems are always hard. Its scale is epsilon's: each update
  /// moves the prototype side a fraction rho / (rho + epsilon) of the way to the other domain's
  /// proportions, so rho >> epsilon is nearly hard (the default 0.1 with epsilon 0.05: 2/3).
  Scalar rho = Scalar(0.1);
  /// Solve all four with the released code's fixed recipe (prototype_sinkhorn_released)
  /// instead of `sinkhorn`.
  bool released_recipe = false;
  /// Prototype-side marginal 1/K in all four problems (SwAV's equipartition) instead of the
  /// K-means proportions: the imbalance ablation. The clusters still report their proportions.
  bool uniform_marginals = false;
};

template <class Scalar>
struct PrototypeTargets {
  /// K-means of each domain. centroids are the prototypes (unit rows, K x d) and
  /// proportions(j) is the share of the domain's samples nearest to centroids.row(j).
  KMeansResult<Scalar> clusters_a, clusters_b;
  /// <samples><prototypes>: aa = A onto A's prototypes, ab = A onto B's, ba = B onto A's, bb.
  /// assignments are the soft targets, labels the matched prototypes.
  PrototypeSinkhornResult<Scalar> aa, bb, ab, ba;
};

/// The prototype-side OT marginal of a domain's clusters: their K-means proportions, or 1/K for
/// each of the K prototypes when `uniform` (SwAV's equipartition, the imbalance ablation).
/// Returns K entries summing to 1. O(K).
template <class S>
Vector<S> prototype_marginal(const KMeansResult<S>& clusters, bool uniform) {
  const Index k = clusters.centroids.rows();
  return uniform ? Vector<S>(Vector<S>::Constant(k, S(1) / S(k))) : clusters.proportions;
}

/// ProtoOT targets for two domains: ZA (n_A x d) and ZB (n_B x d) features (any norm; cosine
/// is used throughout). Runs K-means on each (fresh, or warm-started from options.prototypes_a/_b),
/// unit-normalises the centroids, then solves A->A, B->B (hard marginals), A->B, B->A (marginal =
/// the prototype owner's proportions, relaxed by options.rho) with uniform sample marginals.
/// Cost: two K-means runs plus four O(n K d + iterations n K) solves. Throws
/// std::invalid_argument on mismatched d, K < 1 or > n, non-finite data, bad options.
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

  auto cluster = [&](const auto& Z, const Matrix<S>& warm, std::uint64_t seed_offset, const char* domain) {
    detail::require(warm.size() != 0 || options.k >= 1, where,
                    std::string("k must be >= 1 when no prototypes are given for domain ") + domain);
    KMeansOptions<S> o = options.kmeans;
    o.initial_centroids = warm;
    o.seed += seed_offset;
    KMeansResult<S> result = kmeans(Z, warm.size() != 0 ? warm.rows() : options.k, o);
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
  targets.clusters_a = cluster(ZA, options.prototypes_a, 0, "A");
  targets.clusters_b = cluster(ZB, options.prototypes_b, 1, "B");
  const S hard = std::numeric_limits<S>::infinity();
  targets.aa = solve(ZA, targets.clusters_a, hard);
  targets.bb = solve(ZB, targets.clusters_b, hard);
  targets.ab = solve(ZA, targets.clusters_b, options.rho);
  targets.ba = solve(ZB, targets.clusters_a, options.rho);
  return targets;
}

/// The released ProtoOT code's per-batch prototype step: prototype j <- the L2-normalised
/// plan-weighted mean of the samples, normalise(sum_i plan(i, j) z_i). plan: n x K (>= 0), Z:
/// n x d samples, previous: K x d prototypes, kept (normalised) for a prototype whose weighted
/// mean is zero (no mass). Returns K x d unit rows. O(n K d). Throws std::invalid_argument on
/// mismatched shapes, non-finite input or a zero previous prototype that would be kept.
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
  return l2_normalize_rows(means);
}

}  // namespace protoot
