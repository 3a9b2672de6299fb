// protoot/l2_normalize.hpp — row L2 normalisation and its backward pass.
//
// Features and prototypes live on the unit sphere, so every head ends with this step; its
// Jacobian is the projection onto the tangent plane of the sphere, scaled by 1 / ||x||.
#pragma once

#include <cmath>
#include <string>

#include <Eigen/Core>

#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot {

/// y_i = x_i / ||x_i|| for every row of x (n x d, n, d >= 1). When `norms` is given it receives
/// ||x_i|| (n), which l2_normalize_rows_backward needs. A zero or non-finite row throws
/// std::invalid_argument (its direction is undefined). O(n d).
template <class Derived>
Matrix<typename Derived::Scalar> l2_normalize_rows(const Eigen::MatrixBase<Derived>& x,
                                                   Vector<typename Derived::Scalar>* norms = nullptr) {
  using S = typename Derived::Scalar;
  constexpr const char* where = "l2_normalize_rows";
  detail::require_nonempty(x, where, "x");
  detail::require_finite(x, where, "x");
  Matrix<S> y = x;
  Vector<S> n(y.rows());
  for (Index i = 0; i < y.rows(); ++i) {
    auto row = y.row(i);
    n(i) = detail::normalise_direction(row);  // scaled: no square overflows for rows near 1e200
    if (!(n(i) > S(0)) || !std::isfinite(static_cast<double>(n(i))))
      detail::fail(where, "row " + std::to_string(i) + " has zero (or overflowing) norm");
  }
  if (norms) *norms = std::move(n);
  return y;
}

/// Backward of y = l2_normalize_rows(x): given y (n x d), the norms ||x_i|| (n) and dL/dy
/// (n x d), returns dL/dx = (dL/dy - y (y . dL/dy)) / ||x|| row by row. Throws
/// std::invalid_argument on mismatched shapes, NaN/Inf in any input or norms <= 0. O(n d).
template <class DY, class DN, class DG>
Matrix<typename DY::Scalar> l2_normalize_rows_backward(const Eigen::MatrixBase<DY>& y,
                                                       const Eigen::MatrixBase<DN>& norms,
                                                       const Eigen::MatrixBase<DG>& grad_y) {
  using S = typename DY::Scalar;
  constexpr const char* where = "l2_normalize_rows_backward";
  detail::require_size(norms.size(), y.rows(), where, "norms must have one entry per row of y");
  detail::require_size(grad_y.rows(), y.rows(), where, "grad_y rows");
  detail::require_size(grad_y.cols(), y.cols(), where, "grad_y columns");
  detail::require_finite(y, where, "y");
  detail::require_finite(norms, where, "norms");
  detail::require_finite(grad_y, where, "grad_y");
  if (!(norms.array() > S(0)).all()) detail::fail(where, "norms must be > 0");
  const Vector<S> radial = (y.array() * grad_y.array()).rowwise().sum();
  return ((grad_y - radial.asDiagonal() * y).array().colwise() / norms.array()).matrix();
}

}  // namespace protoot
