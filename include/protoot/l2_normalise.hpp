// protoot/l2_normalise.hpp — row L2 normalisation and its backward pass.
//
// Features and prototypes live on the unit sphere, so every head ends with this step; its
// Jacobian is the projection onto the tangent plane of the sphere, scaled by 1 / ||x||.
#pragma once

#include "protoot/types.hpp"

namespace protoot {

/// y_i = x_i / ||x_i|| for every row of x (n x d, n, d >= 1). When `norms` is given it receives
/// ||x_i|| (n), which l2_normalise_rows_backward needs. A zero or non-finite row throws
/// std::invalid_argument (its direction is undefined). O(n d).
template <class Derived>
Matrix<typename Derived::Scalar> l2_normalise_rows(const Eigen::MatrixBase<Derived>& x,
                                                   Vector<typename Derived::Scalar>* norms = nullptr);

/// Backward of y = l2_normalise_rows(x): given y (n x d), the norms ||x_i|| (n) and dL/dy
/// (n x d), returns dL/dx = (dL/dy - y (y . dL/dy)) / ||x|| row by row. Throws
/// std::invalid_argument on mismatched shapes, NaN/Inf in any input or norms <= 0. O(n d).
template <class DY, class DN, class DG>
Matrix<typename DY::Scalar> l2_normalise_rows_backward(const Eigen::MatrixBase<DY>& y,
                                                       const Eigen::MatrixBase<DN>& norms,
                                                       const Eigen::MatrixBase<DG>& grad_y);

}  // namespace protoot

#include "protoot/detail/l2_normalise_impl.hpp"
