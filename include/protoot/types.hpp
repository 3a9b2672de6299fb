// protoot/types.hpp — the dense types every protoot header speaks.
//
// Rows are samples (the NumPy / PyTorch convention), so matrices are row-major: a feature
// matrix read from a C-ordered .npy file maps onto Matrix<S> without a transpose, and the
// row-wise kernels (log-sum-exp over a cost row, top-k of a similarity row) stream contiguously.
//
// Entry points take any Eigen expression and read it through Eigen::Ref<const Matrix<S>>:
// row-major storage (a Matrix<S>, an Eigen::Map of a NumPy / PyTorch buffer, a block of rows
// or leading columns of a row-major matrix) is used in place; a column-major matrix or an
// unevaluated expression is first copied into row-major storage. Doc comments say where a
// function copies its input regardless (to normalise it, say).
#pragma once

// Eigen's own warnings under strict flags are silenced for its lines only (see eigen_push.hpp).
#include "protoot/detail/eigen_push.hpp"
#include <Eigen/Core>
#include "protoot/detail/eigen_pop.hpp"

namespace protoot {

using Index = Eigen::Index;

/// Dense row-major matrix (rows are samples).
template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Dense column vector (marginals, potentials, per-sample values).
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// Integer labels / assignments, one per sample.
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

}  // namespace protoot
