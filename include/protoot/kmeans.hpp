// protoot/kmeans.hpp — K-means (Lloyd) with k-means++ seeding, per-point weights, warm start
// and a spherical (cosine) mode: the clustering that gives ProtoOT its prototypes and the
// cluster proportions used as prototype-side marginals.
//
// Every pass over the data is blocked: a block of rows meets all centroids in one GEMM
// (||x||^2 - 2 x c^T + ||c||^2), blocks run in parallel under OpenMP, and the same pass
// accumulates the next centroids, so one Lloyd iteration reads X once.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "protoot/kmeans_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// How the first centroids are chosen when no warm start is given.
enum class KMeansInit {
  kmeans_plus_plus,  ///< greedy k-means++ (several local trials per centre, as scikit-learn)
  random,            ///< k distinct data points, uniformly (as faiss)
};

/// State handed to KMeansOptions::callback after each Lloyd iteration.
template <class Scalar>
struct KMeansProgress {
  int restart;             ///< 0-based restart index (< n_init)
  int iteration;           ///< 1-based Lloyd iteration
  Scalar inertia;          ///< objective of the centroids this iteration started from
  Scalar centroid_shift;   ///< sum of squared centroid moves in this iteration
};

template <class Scalar>
struct KMeansOptions {
  /// Independent restarts (each with its own seeding); the lowest final inertia wins.
  /// Ignored (one run) when initial_centroids is given.
  int n_init = 1;
  /// Lloyd iterations per restart (>= 0). 0 only assigns the points to the initial centroids:
  /// with a warm start this gives the labels/proportions of given prototypes, unchanged.
  int max_iterations = 300;
  /// Stop when the summed squared centroid shift of one iteration is at most
  /// tolerance * (mean per-feature variance of X) — scikit-learn's rule; also stop when the
  /// labels no longer change. 0 disables the shift rule.
  Scalar tolerance = Scalar(1e-4);
  std::uint64_t seed = 0;
  /// Cosine K-means for directional data: rows of X are L2-normalised (a copy is made only if
  /// they are not unit already; zero rows are an error), a point goes to the centroid of
  /// highest cosine, centroids are renormalised to unit length each iteration, and the inertia
  /// is sum_i w_i (1 - cos(x_i, c_label(i))).
  bool spherical = false;
  KMeansInit init = KMeansInit::kmeans_plus_plus;
  /// Candidates tried per k-means++ centre, at most min(n, 1024); 0 means 2 + floor(ln k)
  /// (scikit-learn's choice).
  int local_trials = 0;
  /// Warm start: k x d centroids to start Lloyd from (e.g. last epoch's prototypes); empty
  /// means seed with `init`. Centroid j of the result is the one that evolved from row j.
  Matrix<Scalar> initial_centroids;
  /// Per-point weights (size n, >= 0, positive total); empty means all ones. Weights enter the
  /// centroid means, the inertia, k-means++ sampling and the proportions.
  Vector<Scalar> weights;
  /// Train on at most k * max_points_per_centroid points drawn at random (with `seed`; faiss's
  /// subsampling, 256 by default there), then assign all n points to the trained centroids:
  /// labels, sizes, proportions and inertia cover every point; iterations and inertia_history
  /// are the sample's. 0 trains on all points. protoot::kmeans only: cuda:: and mpi::kmeans
  /// reject a nonzero value.
  Index max_points_per_centroid = 0;
  /// Called after each Lloyd iteration; return false to stop this restart early.
  std::function<bool(const KMeansProgress<Scalar>&)> callback;
};

/// K-means clustering of the rows of X (n x d, any Eigen expression; float or double; row-major
/// storage is read in place, other layouts are copied once, see types.hpp).
///
/// Seeds with greedy k-means++ (or random points, or `options.initial_centroids`), then runs
/// Lloyd iterations: assign each point to its nearest centroid, move each centroid to the
/// weighted mean of its points. Empty clusters are re-seeded with the points farthest from
/// their centroids, so centroids are never NaN. `n_init` restarts keep the lowest inertia.
/// Euclidean inertia is sum_i w_i ||x_i - c_label(i)||^2; spherical: see KMeansOptions.
///
/// Cost per iteration: one n x d x k GEMM in row blocks (OpenMP over blocks) plus O(n d);
/// k-means++ costs about k * (2 + ln k) * n * d. Extra memory O(n + 16 * (block * k + k * d)),
/// plus an n x d copy in spherical mode when the rows of X are not already unit.
/// Throws std::invalid_argument for k <= 0, k > n, empty or non-finite X (or X so large that
/// its squared norms overflow), bad weights or warm-start shapes, zero rows in spherical mode.
template <class Derived>
KMeansResult<typename Derived::Scalar> kmeans(const Eigen::MatrixBase<Derived>& X, Index k,
                                              const KMeansOptions<typename Derived::Scalar>& options = {});

}  // namespace protoot

#include "protoot/detail/kmeans_impl.hpp"
