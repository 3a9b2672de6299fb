// protoot/detail/costs_impl.hpp — definitions of protoot/costs.hpp.
#pragma once

#include <string>
#include <type_traits>

#include "protoot/costs.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// ||x_i - y_j||^2 as ||x_i||^2 + ||y_j||^2 - 2 x_i.y_j, clamped at 0 (cancellation), on
/// validated input.
template <class S>
Matrix<S> squared_distances(const Eigen::Ref<const Matrix<S>>& X, const Eigen::Ref<const Matrix<S>>& Y) {
  Matrix<S> C = S(-2) * X * Y.transpose();
  C.colwise() += X.rowwise().squaredNorm();
  C.rowwise() += Y.rowwise().squaredNorm().transpose();
  return C.cwiseMax(S(0));
}

/// A copy of X with unit rows, each scaled by its largest entry first (normalise_direction) so
/// that rows near 1e200 or 1e-200 keep their direction. Throws on a zero row.
template <class D>
Matrix<typename D::Scalar> unit_rows(const Eigen::MatrixBase<D>& X, const char* where, const char* name) {
  using S = typename D::Scalar;
  Matrix<S> U = X;
  for (Index i = 0; i < U.rows(); ++i) {
    auto row = U.row(i);
    require(normalise_direction(row) > S(0), where, std::string(name) + " have a zero row (cosine undefined)");
  }
  return U;
}

/// 1 - cos(x_i, y_j) clamped to [0, 2] (rounding can put cos(x, x) just above 1, and a cost
/// outside [0, 2] is meaningless), on validated input; zero rows throw, naming `where`.
template <class DX, class DY>
Matrix<typename DX::Scalar> cosine_distances(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& Y,
                                             const char* where, const char* x_name, const char* y_name) {
  using S = typename DX::Scalar;
  const Matrix<S> similarity = unit_rows(X, where, x_name) * unit_rows(Y, where, y_name).transpose();
  return (S(1) - similarity.array()).cwiseMax(S(0)).cwiseMin(S(2)).matrix();
}

}  // namespace detail

template <class DX, class DY>
Matrix<typename DX::Scalar> sqeuclidean_cost(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& Y) {
  using S = typename DX::Scalar;
  static_assert(std::is_same<S, typename DY::Scalar>::value, "protoot::sqeuclidean_cost: X and Y scalar types differ");
  constexpr const char* where = "sqeuclidean_cost";
  detail::require_feature_pair(X, Y, where, "X", "Y", "Y must have the feature dimension d of X");
  // Inf - Inf would make the cost NaN: a squared norm that overflows must be reported as such.
  detail::require_finite(X.rowwise().squaredNorm(), where, "squared row norms of X (overflow: rescale X)");
  detail::require_finite(Y.rowwise().squaredNorm(), where, "squared row norms of Y (overflow: rescale Y)");
  return detail::squared_distances<S>(X, Y);
}

template <class DX, class DY>
Matrix<typename DX::Scalar> cosine_cost(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& Y) {
  using S = typename DX::Scalar;
  static_assert(std::is_same<S, typename DY::Scalar>::value, "protoot::cosine_cost: X and Y scalar types differ");
  constexpr const char* where = "cosine_cost";
  detail::require_feature_pair(X, Y, where, "X", "Y", "Y must have the feature dimension d of X");
  return detail::cosine_distances(X, Y, where, "X", "Y");
}

}  // namespace protoot
