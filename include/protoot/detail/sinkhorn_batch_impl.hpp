// protoot/detail/sinkhorn_batch_impl.hpp — definitions of protoot/sinkhorn_batch.hpp.
#pragma once

#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "protoot/detail/openmp.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_batch.hpp"

namespace protoot {
namespace detail {

/// Validates every problem (on the calling thread, so errors name the problem index), then
/// solves them in parallel. cost_of(k) returns problem k's cost matrix (any Eigen matrix of S).
template <class S, class CostOf>
std::vector<SinkhornResult<S>> solve_sinkhorn_batch(const char* where, CostOf&& cost_of, std::size_t count,
                                                    const std::vector<Vector<S>>& as,
                                                    const std::vector<Vector<S>>& bs, S rho_a, S rho_b,
                                                    const SinkhornOptions<S>& options) {
  require(as.size() == count && bs.size() == count, where,
          "need one a and one b per problem (got " + std::to_string(as.size()) + " and " +
              std::to_string(bs.size()) + " for " + std::to_string(count) + " problems)");
  for (std::size_t k = 0; k < count; ++k) {
    const std::string problem = std::string(where) + " (problem " + std::to_string(k) + ")";
    validate_sinkhorn<S>(problem.c_str(), cost_of(k), as[k], bs[k], rho_a, rho_b, options);
  }
  std::vector<SinkhornResult<S>> results(count);
  std::exception_ptr error;
PROTOOT_OMP(parallel for schedule(dynamic))
  for (std::ptrdiff_t k = 0; k < std::ptrdiff_t(count); ++k) {
    try {
      const Eigen::Ref<const Matrix<S>> cost(cost_of(std::size_t(k)));
      results[std::size_t(k)] =
          SinkhornKernel<S>(cost, as[std::size_t(k)], bs[std::size_t(k)], rho_a, rho_b, options, false).solve();
    } catch (...) {  // e.g. std::bad_alloc: must not escape the parallel region
PROTOOT_OMP(critical(protoot_sinkhorn_batch))
      error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace detail

template <class Cost>
std::vector<SinkhornResult<typename Cost::Scalar>> sinkhorn_batch(
    const std::vector<Cost>& costs, const std::vector<Vector<typename Cost::Scalar>>& as,
    const std::vector<Vector<typename Cost::Scalar>>& bs, const SinkhornOptions<typename Cost::Scalar>& options) {
  using S = typename Cost::Scalar;
  const S hard = std::numeric_limits<S>::infinity();
  return detail::solve_sinkhorn_batch<S>(
      "sinkhorn_batch", [&](std::size_t k) -> const Cost& { return costs[k]; }, costs.size(), as, bs, hard, hard,
      options);
}

template <class DC>
std::vector<SinkhornResult<typename DC::Scalar>> sinkhorn_batch(
    const Eigen::MatrixBase<DC>& cost, const std::vector<Vector<typename DC::Scalar>>& as,
    const std::vector<Vector<typename DC::Scalar>>& bs, const SinkhornOptions<typename DC::Scalar>& options) {
  using S = typename DC::Scalar;
  const S hard = std::numeric_limits<S>::infinity();
  const Eigen::Ref<const Matrix<S>> shared(cost.derived());
  return detail::solve_sinkhorn_batch<S>(
      "sinkhorn_batch", [&](std::size_t) -> const Eigen::Ref<const Matrix<S>>& { return shared; }, as.size(), as, bs,
      hard, hard, options);
}

template <class Cost>
std::vector<SinkhornResult<typename Cost::Scalar>> sinkhorn_unbalanced_batch(
    const std::vector<Cost>& costs, const std::vector<Vector<typename Cost::Scalar>>& as,
    const std::vector<Vector<typename Cost::Scalar>>& bs, typename Cost::Scalar rho_a, typename Cost::Scalar rho_b,
    const SinkhornOptions<typename Cost::Scalar>& options) {
  using S = typename Cost::Scalar;
  return detail::solve_sinkhorn_batch<S>(
      "sinkhorn_unbalanced_batch", [&](std::size_t k) -> const Cost& { return costs[k]; }, costs.size(), as, bs,
      rho_a, rho_b, options);
}

}  // namespace protoot
