// protoot/detail/prototype_sinkhorn_impl.hpp — definitions of protoot/prototype_sinkhorn.hpp.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "protoot/costs.hpp"
#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/types.hpp"

namespace protoot {

template <class DZ, class DP>
Matrix<typename DZ::Scalar> prototype_cost(const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P,
                                           bool normalise_similarity_rows) {
  using S = typename DZ::Scalar;
  static_assert(std::is_same<S, typename DP::Scalar>::value, "protoot::prototype_cost: Z and P scalar types differ");
  constexpr const char* where = "prototype_cost";
  detail::require_feature_pair(Z, P, where, "features Z", "prototypes P",
                               "prototypes P must have the feature dimension d of Z");
  Matrix<S> similarity;
  detail::parallel_product(similarity, detail::unit_rows(Z, where, "features Z"),
                           detail::unit_rows(P, where, "prototypes P").transpose());
  if (normalise_similarity_rows) {
    const Vector<S> row_norm = similarity.rowwise().norm();
    for (Index i = 0; i < similarity.rows(); ++i)
      if (row_norm(i) > S(0)) similarity.row(i) /= row_norm(i);  // an all-zero row stays zero
  }
  return (S(1) - similarity.array()).matrix();
}

template <class Scalar>
SinkhornOptions<Scalar> released_prototype_sinkhorn_options() {
  SinkhornOptions<Scalar> options;
  options.epsilon = Scalar(0.05);
  options.max_iterations = 3;
  options.tolerance = Scalar(0);
  options.log_domain = false;
  return options;
}

namespace detail {

/// The validated marginals of a problem with n samples and k prototypes (shared by the CPU and
/// CUDA front ends): a = the sample marginal (uniform 1/n when empty), b = w scaled to a's
/// computed mass (not 1 - rounding), which the balanced solver checks.
template <class S, class DW>
std::pair<Vector<S>, Vector<S>> prototype_marginals(Index n, Index k, const Eigen::MatrixBase<DW>& w, S rho,
                                                    const Vector<S>& sample_marginal) {
  constexpr const char* where = "prototype_sinkhorn";
  require_size(w.size(), k, where, "prototype marginal w must have one entry per prototype");
  const Vector<S> w_vec = w.template cast<S>();
  require_distribution(w_vec, where, "prototype marginal w", 1e-4);
  Vector<S> a = Vector<S>::Constant(n, S(1) / S(n));
  if (sample_marginal.size() != 0) {
    require_size(sample_marginal.size(), n, where, "sample marginal must have one entry per sample");
    require_distribution(sample_marginal, where, "sample marginal", 1e-4);
    a = sample_marginal / S(total_mass(sample_marginal));
  }
  require(rho > S(0), where, "rho must be > 0 (+infinity for a hard prototype marginal)");
  // Scaled in double: a float a.sum() drifts by ~n u (1.00001 at n = 50,000), which the
  // balanced solver's mass check would then reject.
  Vector<S> b = w_vec * S(total_mass(a) / total_mass(w_vec));
  return {std::move(a), std::move(b)};
}

/// Adds the training targets to a solved n x k plan: row-normalised assignments and argmax labels.
template <class S>
PrototypeSinkhornResult<S> prototype_result(SinkhornResult<S>&& solved) {
  PrototypeSinkhornResult<S> result;
  static_cast<SinkhornResult<S>&>(result) = std::move(solved);
  result.assignments = result.plan;
  result.labels.resize(result.plan.rows());
  for (Index i = 0; i < result.plan.rows(); ++i) {
    const S mass = result.plan.row(i).sum();
    if (mass > S(0)) result.assignments.row(i) /= mass;
    result.plan.row(i).maxCoeff(&result.labels(i));
  }
  return result;
}

}  // namespace detail

template <class DC, class DW>
PrototypeSinkhornResult<typename DC::Scalar> prototype_sinkhorn_on_cost(
    const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DW>& w,
    const SinkhornOptions<typename DC::Scalar>& options,
    typename DC::Scalar rho,
    const Vector<typename DC::Scalar>& sample_marginal) {
  using S = typename DC::Scalar;
  detail::require_nonempty(C, "prototype_sinkhorn", "cost C");
  const auto [a, b] = detail::prototype_marginals<S>(C.rows(), C.cols(), w, rho, sample_marginal);
  const S hard = std::numeric_limits<S>::infinity();
  return detail::prototype_result(std::isinf(rho) ? sinkhorn(C, a, b, options)
                                                  : sinkhorn_unbalanced(C, a, b, hard, rho, options));
}

template <class DZ, class DP, class DW>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn(
    const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DW>& w,
    const SinkhornOptions<typename DZ::Scalar>& options,
    typename DZ::Scalar rho,
    const Vector<typename DZ::Scalar>& sample_marginal) {
  return prototype_sinkhorn_on_cost(prototype_cost(Z, P), w, options, rho, sample_marginal);
}

template <class DZ, class DP, class DW>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn_released(
    const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DW>& w,
    typename DZ::Scalar rho) {
  using S = typename DZ::Scalar;
  return prototype_sinkhorn_on_cost(prototype_cost(Z, P, true), w, released_prototype_sinkhorn_options<S>(), rho);
}

}  // namespace protoot
