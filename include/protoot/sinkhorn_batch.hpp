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
/// each problem's contract (shapes may differ between problems). Problems run in parallel, one
/// thread each, so options.callback (if any) is called concurrently and must be thread-safe.
/// Bad input in any problem throws std::invalid_argument naming the problem index before any
/// work starts. Cost: the sum of the problems' costs, divided over the OpenMP threads.
template <class S>
std::vector<SinkhornResult<S>> sinkhorn_batch(const std::vector<Matrix<S>>& costs, const std::vector<Vector<S>>& as,
                                              const std::vector<Vector<S>>& bs,
                                              const SinkhornOptions<S>& options);

/// As above with one cost shared by every problem (e.g. a fixed grid and many histograms).
template <class S>
std::vector<SinkhornResult<S>> sinkhorn_batch(const Matrix<S>& cost, const std::vector<Vector<S>>& as,
                                              const std::vector<Vector<S>>& bs,
                                              const SinkhornOptions<S>& options);

/// Problem k = sinkhorn_unbalanced(costs[k], as[k], bs[k], rho_a, rho_b, options), in parallel
/// as sinkhorn_batch().
template <class S>
std::vector<SinkhornResult<S>> sinkhorn_unbalanced_batch(const std::vector<Matrix<S>>& costs,
                                                         const std::vector<Vector<S>>& as,
                                                         const std::vector<Vector<S>>& bs,
                                                         typename Vector<S>::Scalar rho_a,
                                                         typename Vector<S>::Scalar rho_b,
                                                         const SinkhornOptions<S>& options);

}  // namespace protoot

#include "protoot/detail/sinkhorn_batch_impl.hpp"
