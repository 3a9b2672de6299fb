// protoot/mpi/sinkhorn.hpp — entropic OT whose cost rows are spread over the ranks of an MPI
// communicator (balanced, unbalanced and semi-relaxed; log and scaling forms).
//
// Rank r holds rows [o_r, o_{r+1}) of the n x m cost (ranks in order; any split, empty shards
// allowed) and the same rows of a; b (m) and the options are the same on every rank. Each
// iteration is the single-process kernel's pass over the local rows followed by ONE reduction of
// the m column sums (reduce at rank 0 + broadcast, so all ranks take identical decisions); the
// full n x m cost or plan never sits on one rank.
#pragma once

#include <mpi.h>

#include <limits>

#include "protoot/mpi/detail/sinkhorn.hpp"
#include "protoot/sinkhorn.hpp"

namespace protoot::mpi {

/// Balanced entropic OT (protoot::sinkhorn) of a row-sharded cost. Collective over `comm`.
/// C_rows: this rank's n_r x m rows (0 rows allowed; every non-empty shard has the same m);
/// a_rows (n_r): their row marginal; b (m): the column marginal, equal on all ranks, of the same
/// total mass as all of a. options as protoot::sinkhorn, identical on all ranks except f_init,
/// which holds this rank's rows (n_r; empty: zeros); the callback runs on every rank, and the
/// solve stops (interrupted) when it returns false on any rank.
/// Returns on every rank: plan = this rank's n_r x m rows, f = its n_r row potentials, the whole
/// g (m), and the same iterations, status, marginal errors and transport cost as one process
/// solving the whole problem (to rounding: column sums are added in another order).
/// Cost per iteration: O(n_r m) local work plus one reduce + broadcast of m values; at the end
/// one more for the plan's errors. Throws std::invalid_argument on EVERY rank, before any
/// iteration, on what protoot::sinkhorn rejects (on any rank), shards of different m, and
/// b or options that differ across ranks; on MPI_COMM_NULL (locally).
template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn(MPI_Comm comm, const Eigen::MatrixBase<DC>& C_rows,
                                             const Eigen::MatrixBase<DA>& a_rows, const Eigen::MatrixBase<DB>& b,
                                             const SinkhornOptions<typename DC::Scalar>& options) {
  using S = typename DC::Scalar;
  const S hard = std::numeric_limits<S>::infinity();
  return detail::solve_sharded(comm, "mpi::sinkhorn", C_rows, a_rows, b, hard, hard, options);
}

/// Unbalanced / semi-relaxed entropic OT (protoot::sinkhorn_unbalanced) of a row-sharded cost;
/// rho_a, rho_b (> 0, +infinity = hard side) equal on all ranks. Everything else as mpi::sinkhorn.
template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn_unbalanced(MPI_Comm comm, const Eigen::MatrixBase<DC>& C_rows,
                                                        const Eigen::MatrixBase<DA>& a_rows,
                                                        const Eigen::MatrixBase<DB>& b, typename DC::Scalar rho_a,
                                                        typename DC::Scalar rho_b,
                                                        const SinkhornOptions<typename DC::Scalar>& options) {
  return detail::solve_sharded(comm, "mpi::sinkhorn_unbalanced", C_rows, a_rows, b, rho_a, rho_b, options);
}

/// Entropic OT between point clouds with the squared Euclidean cost C_ij = ||x_i - y_j||^2:
/// X_rows (n_r x d, this rank's points, row marginal a_rows) against Y (m x d, column marginal b,
/// both the same on every rank). Each rank forms only its n_r x m cost block (one GEMM, units of
/// squared distance, so epsilon is too); the n x m cost never exists anywhere. rho_a, rho_b as
/// mpi::sinkhorn_unbalanced (default +infinity: balanced). Returns and throws as mpi::sinkhorn,
/// plus shards of different d, Y of another d or different across ranks, non-finite points.
/// O(n_r m d) once + O(n_r m) per iteration per rank.
template <class DX, class DA, class DB>
SinkhornResult<typename DX::Scalar> sinkhorn_point_clouds(
    MPI_Comm comm, const Eigen::MatrixBase<DX>& X_rows, const Matrix<typename DX::Scalar>& Y,
    const Eigen::MatrixBase<DA>& a_rows, const Eigen::MatrixBase<DB>& b,
    const SinkhornOptions<typename DX::Scalar>& options,
    typename DX::Scalar rho_a = std::numeric_limits<typename DX::Scalar>::infinity(),
    typename DX::Scalar rho_b = std::numeric_limits<typename DX::Scalar>::infinity()) {
  using S = typename DX::Scalar;
  detail::require_communicator(comm, "mpi::sinkhorn_point_clouds");
  const Matrix<S> C = detail::sharded_squared_distances<S>(comm, "mpi::sinkhorn_point_clouds", X_rows.derived(), Y);
  return detail::solve_sharded(comm, "mpi::sinkhorn_point_clouds", C, a_rows, b, rho_a, rho_b, options);
}

}  // namespace protoot::mpi
