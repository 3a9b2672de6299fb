// protoot/cuda/detail/blas.hpp — cuBLAS products on row-major device matrices, float and double:
// C = beta C + op(A) op(B), and its most used case C = A B^T (similarities for retrieval,
// point-centroid products for K-means, logits for the contrastive losses).
//
// cuBLAS is column-major: a row-major matrix is its transpose in column-major, so the
// row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T: one gemm with the
// operands swapped and the same transpose flags, on the raw pointers.
// The default math mode is kept (true float32 products, no TF32 rounding), so results can be
// compared with the CPU at 1e-4. Plain C++: usable from g++-compiled files too.
#pragma once

#include "protoot/cuda/error.hpp"
#include "protoot/cuda/resources.hpp"

namespace protoot::cuda {

namespace detail {

inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* alpha, const double* A, int lda, const double* B, int ldb, const double* beta,
                           double* C, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/// Row-major C (rows x cols) = beta C + op(A) op(B), inner dimension `inner`; A and B are
/// row-major with `a_cols` / `b_cols` columns as stored (before op).
/// Runs on the current Resources' handle and stream.
template <class S>
void product(bool transpose_a, bool transpose_b, int rows, int cols, int inner, const S* A, int a_cols, const S* B,
             int b_cols, S beta, S* C) {
  const S one = 1;
  PROTOOT_CUDA_CHECK(gemm(current_resources().blas(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                          transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, cols, rows, inner, &one, B, b_cols, A, a_cols, &beta,
                          C, cols));
}

/// C = A B^T, all row-major on the device: A rows_a x d, B rows_b x d, C rows_a x rows_b.
template <class S>
void product_with_transpose(const S* A, int rows_a, const S* B, int rows_b, int d, S* C) {
  product(false, true, rows_a, rows_b, d, A, d, B, d, S(0), C);
}

}  // namespace detail
}  // namespace protoot::cuda
