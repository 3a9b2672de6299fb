// protoot/prototype_targets.hpp — ProtoOT's per-epoch target step in one call: K-means on each
// domain's features, then the four prototype OT problems (docs/method.md sections 1, 2 and 4)
//   A->A, B->B: a domain's samples onto its own prototypes, marginal = its own proportions (hard);
//   A->B, B->A: a domain's samples onto the OTHER domain's prototypes, marginal = that domain's
//               proportions, KL-relaxed by rho (they only estimate this domain's class mix).
//               With cross_k set, the other domain's prototypes here are a second, finer
//               clustering: finer clusters are purer, so a sample's tie to one is more often right.
// Proportions travel inside each KMeansResult with their centroids, so proportion j always
// belongs to prototype j: no empty cluster is dropped and no stale index pairing can happen.
#pragma once

#include "protoot/kmeans.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/types.hpp"

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
  /// Prototypes per domain in the cross-domain problems A->B and B->A. 0: the in-domain ones.
  /// Otherwise each domain is clustered a second time into cross_k clusters (same K-means
  /// options, seeds + 2 for A and + 3 for B), or cross_prototypes_a/_b (each cross_k' x d; its
  /// row count wins) are refined as prototypes_a/_b are, and A->B, B->A tie the samples to those
  /// (PrototypeTargets::cross_clusters_a/_b). Requires cross_k <= the domain's samples.
  Index cross_k = 0;
  Matrix<Scalar> cross_prototypes_a, cross_prototypes_b;

  /// True when the cross-domain problems use a second clustering (cross_k or a cross warm start set).
  bool second_clustering() const {
    return cross_k != 0 || cross_prototypes_a.size() != 0 || cross_prototypes_b.size() != 0;
  }
};

template <class Scalar>
struct PrototypeTargets {
  /// K-means of each domain. centroids are the prototypes (unit rows, K x d) and
  /// proportions(j) is the share of the domain's samples nearest to centroids.row(j).
  KMeansResult<Scalar> clusters_a, clusters_b;
  /// The prototypes of the cross-domain problems: ab ties A's samples to cross_clusters_b, ba
  /// ties B's to cross_clusters_a. Copies of clusters_a/_b unless options.cross_k or
  /// cross_prototypes_a/_b asked for a second clustering.
  KMeansResult<Scalar> cross_clusters_a, cross_clusters_b;
  /// <samples><prototypes>: aa = A onto A's prototypes, ab = A onto B's cross prototypes,
  /// ba = B onto A's cross prototypes, bb. assignments are the soft targets, labels the matched
  /// prototypes.
  PrototypeSinkhornResult<Scalar> aa, bb, ab, ba;
};

/// The prototype-side OT marginal of a domain's clusters: their K-means proportions, or 1/K for
/// each of the K prototypes when `uniform` (SwAV's equipartition, the imbalance ablation).
/// Returns K entries summing to 1. O(K).
template <class S>
Vector<S> prototype_marginal(const KMeansResult<S>& clusters, bool uniform);

/// ProtoOT targets for two domains: ZA (n_A x d) and ZB (n_B x d) features (any norm; cosine
/// is used throughout). Runs K-means on each (fresh, or warm-started from options.prototypes_a/_b),
/// unit-normalises the centroids, then solves A->A, B->B (hard marginals), A->B, B->A (marginal =
/// the prototype owner's proportions, relaxed by options.rho; onto the owner's second, finer
/// clustering when options.cross_k is set) with uniform sample marginals.
/// Cost: two K-means runs (four with cross_k) plus four O(n K d + iterations n K) solves. Throws
/// std::invalid_argument on mismatched d, K < 1 or > n, cross_k < 0 or > n, non-finite data,
/// bad options.
template <class DA, class DB>
PrototypeTargets<typename DA::Scalar> prototype_targets(const Eigen::MatrixBase<DA>& ZA,
                                                        const Eigen::MatrixBase<DB>& ZB,
                                                        const PrototypeTargetsOptions<typename DA::Scalar>& options);

/// The released ProtoOT code's per-batch prototype step: prototype j <- the L2-normalised
/// plan-weighted mean of the samples, normalise(sum_i plan(i, j) z_i). plan: n x K (>= 0), Z:
/// n x d samples, previous: K x d prototypes, kept (normalised) for a prototype whose weighted
/// mean is zero (no mass). Returns K x d unit rows. O(n K d). Throws std::invalid_argument on
/// mismatched shapes, non-finite input or a zero previous prototype that would be kept.
template <class DP, class DZ, class DC>
Matrix<typename DZ::Scalar> plan_weighted_prototypes(const Eigen::MatrixBase<DP>& plan, const Eigen::MatrixBase<DZ>& Z,
                                                     const Eigen::MatrixBase<DC>& previous);

}  // namespace protoot

#include "protoot/detail/prototype_targets_impl.hpp"
