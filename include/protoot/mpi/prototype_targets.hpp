// protoot/mpi/prototype_targets.hpp — ProtoOT's per-epoch OT step (protoot/prototype_targets.hpp)
// over banks of both domains sharded by rows across the ranks of an MPI communicator.
#pragma once

#include <mpi.h>

#include <limits>

#include "protoot/mpi/detail/prototype.hpp"
#include "protoot/mpi/kmeans.hpp"
#include "protoot/prototype_targets.hpp"

namespace protoot::mpi {

/// protoot::prototype_sinkhorn of sharded samples: Z_rows (n_r x d, this rank's rows; any split,
/// empty shards allowed) onto prototypes P (k x d) with prototype marginal w (k), relaxed by rho
/// (+infinity: hard), sample marginal uniform 1 / n over all ranks' rows. The n_r x k cost block
/// 1 - cos(z_i, p_j) is formed on each rank from its rows (`normalise_similarity_rows` as in
/// protoot::prototype_cost), never the whole n x k; P, w, rho and options are the same on every
/// rank. Returns this rank's rows of plan, assignments, labels and f, and the global rest
/// (see mpi::sinkhorn). O(n_r k d) + mpi::sinkhorn. Errors as protoot::prototype_sinkhorn and
/// mpi::sinkhorn, thrown on every rank.
template <class DZ>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn(
    MPI_Comm comm, const Eigen::MatrixBase<DZ>& Z_rows, const Matrix<typename DZ::Scalar>& P,
    const Vector<typename DZ::Scalar>& w, const SinkhornOptions<typename DZ::Scalar>& options,
    typename DZ::Scalar rho = std::numeric_limits<typename DZ::Scalar>::infinity(),
    bool normalise_similarity_rows = false) {
  using S = typename DZ::Scalar;
  detail::require_communicator(comm, "mpi::prototype_sinkhorn");
  return detail::sharded_prototype_sinkhorn<S>(comm, Z_rows.derived(), P, w, options, rho, normalise_similarity_rows);
}

/// protoot::prototype_targets with domain A's features sharded as ZA_rows (n_A,r x d) and B's
/// as ZB_rows (n_B,r x d) over `comm` (each domain split independently). Runs mpi::kmeans on each
/// domain (rows_per_partial as there), then the four solves with mpi::prototype_sinkhorn.
/// options must be the same on every rank. Returns the global clusters (labels: this rank's
/// rows) and, for aa/ab (rows of A) and ba/bb (rows of B), this rank's rows of each solve.
/// The K-means part is bitwise independent of the number of ranks; the solves agree with the
/// single process to rounding. Errors as protoot::prototype_targets, on every rank.
template <class DA, class DB>
PrototypeTargets<typename DA::Scalar> prototype_targets(MPI_Comm comm, const Eigen::MatrixBase<DA>& ZA_rows,
                                                        const Eigen::MatrixBase<DB>& ZB_rows,
                                                        const PrototypeTargetsOptions<typename DA::Scalar>& options,
                                                        Index rows_per_partial = kmeans_rows_per_partial) {
  using S = typename DA::Scalar;
  static_assert(std::is_same<S, typename DB::Scalar>::value, "protoot::mpi::prototype_targets: ZA and ZB scalar types differ");
  detail::require_communicator(comm, "mpi::prototype_targets");
  return detail::sharded_prototype_targets<S>(comm, ZA_rows.derived(), ZB_rows.derived(), options, rows_per_partial);
}

}  // namespace protoot::mpi
