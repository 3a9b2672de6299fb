// protoot/xtensor.hpp — pass xtensor arrays to protoot and get results back as xtensor.
//
//   xt::xtensor<double, 2> C = ...;  xt::xtensor<double, 1> a = ..., b = ...;
//   auto r = protoot::sinkhorn(protoot::as_matrix(C), protoot::as_vector(a), protoot::as_vector(b), opts);
//   xt::xtensor<double, 2> plan = protoot::to_xtensor(r.plan);
//
// as_matrix / as_vector are zero-copy Eigen::Maps over the array's buffer, so the array must
// outlive them. They take evaluated containers (xt::xarray, xt::xtensor, xt::xtensor_fixed), not
// lazy expressions or views: evaluate those first (xt::eval).
#pragma once

#include <string>

#include <xtensor/xlayout.hpp>
#include <xtensor/xtensor.hpp>

#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot {

/// A 2-D row-major xtensor container as a read-only row-major Eigen matrix (no copy).
/// Throws std::invalid_argument if it is not 2-D or not row-major.
template <class Container>
Eigen::Map<const Matrix<typename Container::value_type>> as_matrix(const Container& x) {
  detail::require(x.dimension() == 2, "as_matrix",
                  "expects a 2-D array (got " + std::to_string(x.dimension()) + " dimensions)");
  detail::require(x.layout() == xt::layout_type::row_major, "as_matrix",
                  "expects a row-major array (xt::layout_type::row_major)");
  return {x.data(), Index(x.shape()[0]), Index(x.shape()[1])};
}

/// A 1-D xtensor container as a read-only Eigen vector (no copy). Throws std::invalid_argument if
/// it is not 1-D.
template <class Container>
Eigen::Map<const Vector<typename Container::value_type>> as_vector(const Container& x) {
  detail::require(x.dimension() == 1, "as_vector",
                  "expects a 1-D array (got " + std::to_string(x.dimension()) + " dimensions)");
  return {x.data(), Index(x.shape()[0])};
}

/// Copies an Eigen matrix (any storage order) into a row-major xt::xtensor<Scalar, 2>.
template <class Derived>
xt::xtensor<typename Derived::Scalar, 2> to_xtensor(const Eigen::MatrixBase<Derived>& m) {
  using Scalar = typename Derived::Scalar;
  auto out = xt::xtensor<Scalar, 2>::from_shape({std::size_t(m.rows()), std::size_t(m.cols())});
  Eigen::Map<Matrix<Scalar>>(out.data(), m.rows(), m.cols()) = m;
  return out;
}

}  // namespace protoot
