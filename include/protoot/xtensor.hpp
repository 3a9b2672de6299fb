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
#include <type_traits>

#include <xtensor/xcontainer.hpp>
#include <xtensor/xlayout.hpp>
#include <xtensor/xtensor.hpp>

#include "protoot/types.hpp"
#include "protoot/detail/validation.hpp"

namespace protoot {
namespace detail {

/// True for xtensor containers and adaptors (xarray, xtensor, xtensor_fixed, xt::adapt), whose
/// data() is their first element with unit strides. A view's data() is its underlying array's
/// buffer (no offset, no strides), so mapping it would return the wrong elements.
template <class T>
inline constexpr bool is_xtensor_container_v = std::is_base_of_v<xt::xcontainer<T>, T>;

}  // namespace detail

/// A 2-D row-major xtensor container as a read-only row-major Eigen matrix (no copy).
/// Throws std::invalid_argument if it is not 2-D or not row-major; views and lazy expressions
/// do not compile (xt::eval them first).
template <class Container>
Eigen::Map<const Matrix<typename Container::value_type>> as_matrix(const Container& x) {
  static_assert(detail::is_xtensor_container_v<Container>,
                "protoot::as_matrix takes an xtensor container, not a view or expression: use xt::eval");
  detail::require(x.dimension() == 2, "as_matrix",
                  "expects a 2-D array (got " + std::to_string(x.dimension()) + " dimensions)");
  detail::require(x.layout() == xt::layout_type::row_major, "as_matrix",
                  "expects a row-major array (xt::layout_type::row_major)");
  return {x.data(), Index(x.shape()[0]), Index(x.shape()[1])};
}

/// A 1-D xtensor container as a read-only Eigen vector (no copy). Throws std::invalid_argument if
/// it is not 1-D; views and lazy expressions do not compile (xt::eval them first).
template <class Container>
Eigen::Map<const Vector<typename Container::value_type>> as_vector(const Container& x) {
  static_assert(detail::is_xtensor_container_v<Container>,
                "protoot::as_vector takes an xtensor container, not a view or expression: use xt::eval");
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
