// protoot/costs.hpp — ground costs between two point clouds, as POT 0.8.2's ot.dist(X, Y, metric):
// the C of sinkhorn(C, a, b, options) when the marginals live on points.
#pragma once

#include "protoot/types.hpp"

namespace protoot {

/// Squared Euclidean cost C_ij = ||x_i - y_j||^2 (= POT 0.8.2 `ot.dist(X, Y)`, its default
/// metric "sqeuclidean"). X: n x d, Y: m x d, float or double, finite. Computed as
/// ||x_i||^2 + ||y_j||^2 - 2 x_i.y_j (one GEMM, as POT does), so entries carry an absolute
/// rounding error of about u (||x_i||^2 + ||y_j||^2) and cancellation below 0 is clamped to 0.
/// Returns n x m. O(n m d) time, O(n m) memory. Throws std::invalid_argument on empty or
/// non-finite input, mismatched d, or squared row norms that overflow.
template <class DX, class DY>
Matrix<typename DX::Scalar> sqeuclidean_cost(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& Y);

/// Cosine cost C_ij = 1 - cos(x_i, y_j), in [0, 2] (= POT 0.8.2 `ot.dist(X, Y, metric="cosine")`,
/// i.e. scipy's cdist "cosine", up to rounding; clamped to [0, 2]). X: n x d, Y: m x d, rows
/// need not be normalised; a zero row has no direction and throws. Returns n x m.
/// O(n m d) time (one GEMM on unit-row copies of X and Y), O((n + m) d + n m) memory. Throws
/// std::invalid_argument on empty or non-finite input, mismatched d or zero rows.
template <class DX, class DY>
Matrix<typename DX::Scalar> cosine_cost(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DY>& Y);

}  // namespace protoot

#include "protoot/detail/costs_impl.hpp"
