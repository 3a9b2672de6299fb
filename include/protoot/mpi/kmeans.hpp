// protoot/mpi/kmeans.hpp — K-means (k-means++ seeding, Lloyd) on points sharded by rows over the
// ranks of an MPI communicator, with results that do not depend on the number of ranks.
#pragma once

#include <mpi.h>

#include "protoot/kmeans.hpp"
#include "protoot/mpi/detail/kmeans.hpp"

namespace protoot::mpi {

/// Rows per reduction chunk of mpi::kmeans (see there); part of what makes two runs bitwise equal.
constexpr Index kmeans_rows_per_partial = 16384;

/// protoot::kmeans of the n x d points whose rows are spread over `comm`: rank r passes its
/// n_r x d shard X_rows (consecutive global rows in rank order; any split, empty shards
/// allowed), options.weights holds the weights of its rows (n_r; empty everywhere = all ones).
/// Every other option, k and rows_per_partial must be the same on all ranks; the callback runs on
/// every rank with the global progress, and the run stops when it returns false on any rank.
/// Collective over `comm`.
///
/// Returns on every rank the global centroids, sizes, proportions, inertia, iterations and
/// history, and in `labels` the labels of this rank's rows (n_r).
/// Determinism: for the same rows (in the same global order), options and rows_per_partial the
/// result is bitwise identical on any number of ranks and any split: partial sums are formed per
/// chunk of rows_per_partial global rows and added in global chunk order, never by MPI_SUM.
/// Against protoot::kmeans the semantics are the same (seeding draws, greedy k-means++, Lloyd,
/// empty-cluster relocation, stopping rules); labels agree and centroids/inertia differ only by
/// the rounding of the other summation order. Exceptions, both ties within rounding: a uniform
/// draw at a cumulative-mass boundary, and restarts (n_init > 1) whose final inertias are equal
/// to rounding (each side may keep a different one; labels then differ by a permutation).
///
/// Cost per Lloyd iteration: O(n_r k d) local GEMM work (the CPU kernel's 512-row blocks;
/// Eigen may thread each GEMM); communication: one ordered sum of the chunk partials,
/// (c_r + c / P + 1)(k d + k + 1) doubles per rank for c_r local of c = ceil(n / R) chunks, plus
/// an Allreduce of one int. k-means++: k (2 + ln k) broadcasts of d values and ordered sums of
/// 2 + ln k values. Once at the start, at most R - 1 rows move per rank (whole chunks).
/// Throws std::invalid_argument on EVERY rank, before any work, for what protoot::kmeans
/// rejects (anywhere), k > n (all ranks together), shards of different d, k, options or
/// initial_centroids that differ across ranks, rows_per_partial not a positive multiple of
/// 512; on MPI_COMM_NULL (locally).
template <class Derived>
KMeansResult<typename Derived::Scalar> kmeans(MPI_Comm comm, const Eigen::MatrixBase<Derived>& X_rows, Index k,
                                              const KMeansOptions<typename Derived::Scalar>& options = {},
                                              Index rows_per_partial = kmeans_rows_per_partial) {
  using S = typename Derived::Scalar;
  static_assert(std::is_floating_point<S>::value, "protoot::mpi::kmeans: X must hold float or double");
  detail::require_communicator(comm, "mpi::kmeans");
  const Eigen::Ref<const Matrix<S>> rows(X_rows.derived());
  return detail::sharded_kmeans<S>(comm, rows, k, options, rows_per_partial);
}

}  // namespace protoot::mpi
