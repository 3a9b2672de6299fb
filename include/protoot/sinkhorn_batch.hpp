// protoot/sinkhorn_batch.hpp — many independent small Sinkhorn problems in one call.
//
// Small problems (say 64 x 64) are too small to split across threads, but a batch of them is
// not: each problem runs on one thread, problems spread over the OpenMP threads.
#pragma once

#include <vector>

#include "protoot/sinkhorn_options.hpp"
#include "protoot/sinkhorn_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// Solves problem k = sinkhorn(costs[k], as[k], bs[k], options) for every k; see sinkhorn() for
/// each problem's contract (shapes may differ between problems). `Cost` is any row-major Eigen
/// matrix type: Matrix<S>, or Eigen::Map<const Matrix<S>> / Eigen::Ref<const Matrix<S>> views of
/// storage the caller owns, which are read in place; a column-major cost is copied (once for the
/// checks, once for the solve). Problems run in parallel, one thread each, so options.callback
/// (if any) is called concurrently and must be thread-safe. Bad input in any problem throws
/// std::invalid_argument naming the problem index before any work starts. Cost: the sum of the
/// problems' costs, divided over the OpenMP threads.
template <class Cost>
std::vector<SinkhornResult<typename Cost::Scalar>> sinkhorn_batch(
    const std::vector<Cost>& costs, const std::vector<Vector<typename Cost::Scalar>>& as,
    const std::vector<Vector<typename Cost::Scalar>>& bs, const SinkhornOptions<typename Cost::Scalar>& options);

/// As above with one cost shared by every problem (e.g. a fixed grid and many histograms): any
/// Eigen expression, read in place when it is row-major storage, else copied once.
template <class DC>
std::vector<SinkhornResult<typename DC::Scalar>> sinkhorn_batch(
    const Eigen::MatrixBase<DC>& cost, const std::vector<Vector<typename DC::Scalar>>& as,
    const std::vector<Vector<typename DC::Scalar>>& bs, const SinkhornOptions<typename DC::Scalar>& options);

/// Problem k = sinkhorn_unbalanced(costs[k], as[k], bs[k], rho_a, rho_b, options), in parallel
/// as sinkhorn_batch(); `Cost` as there.
template <class Cost>
std::vector<SinkhornResult<typename Cost::Scalar>> sinkhorn_unbalanced_batch(
    const std::vector<Cost>& costs, const std::vector<Vector<typename Cost::Scalar>>& as,
    const std::vector<Vector<typename Cost::Scalar>>& bs, typename Cost::Scalar rho_a, typename Cost::Scalar rho_b,
    const SinkhornOptions<typename Cost::Scalar>& options);

}  // namespace protoot

#include "protoot/detail/sinkhorn_batch_impl.hpp"
