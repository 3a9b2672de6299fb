// protoot/detail/l2_normalise_impl.hpp — definitions of protoot/l2_normalise.hpp.
#pragma once

#include <cmath>
#include <string>

#include "protoot/detail/validation.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/types.hpp"

namespace protoot {

template <class Derived>
Matrix<typename Derived::Scalar> l2_normalise_rows(const Eigen::MatrixBase<Derived>& x,
                                                   Vector<typename Derived::Scalar>* norms) {
  using S = typename Derived::Scalar;
  constexpr const char* where = "l2_normalise_rows";
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

template <class DY, class DN, class DG>
Matrix<typename DY::Scalar> l2_normalise_rows_backward(const Eigen::MatrixBase<DY>& y,
                                                       const Eigen::MatrixBase<DN>& norms,
                                                       const Eigen::MatrixBase<DG>& grad_y) {
  using S = typename DY::Scalar;
  constexpr const char* where = "l2_normalise_rows_backward";
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
