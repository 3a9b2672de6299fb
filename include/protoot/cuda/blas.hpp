// protoot/cuda/blas.hpp — the one cuBLAS product protoot needs, for float and double:
// C = A B^T with row-major A (rows_a x d), B (rows_b x d), C (rows_a x rows_b), which is how
// similarities (retrieval) and point-centroid products (K-means) are formed.
//
// cuBLAS is column-major: a row-major matrix is its transpose in column-major, so
// C^T (rows_b x rows_a, col-major) = B A^T is one gemm(op_T, op_N) on the raw pointers.
// The default math mode is kept (true float32 products, no TF32 rounding), so results can be
// compared with the CPU at 1e-4. Plain C++: usable from g++-compiled files too.
#pragma once

#include "protoot/cuda/error.hpp"

namespace protoot::cuda {

/// Owning cuBLAS handle (creation costs milliseconds: make one per solve, not per product).
class BlasHandle {
 public:
  BlasHandle() { PROTOOT_CUDA_CHECK(cublasCreate(&handle_)); }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  ~BlasHandle() { cublasDestroy(handle_); }
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

namespace detail {

inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* alpha, const double* A, int lda, const double* B, int ldb,
                           const double* beta, double* C, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/// C = A B^T, all row-major on the device: A rows_a x d, B rows_b x d, C rows_a x rows_b.
template <class S>
void product_with_transpose(const BlasHandle& blas, const S* A, int rows_a, const S* B, int rows_b, int d, S* C) {
  const S one = 1, zero = 0;
  PROTOOT_CUDA_CHECK(gemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, rows_b, rows_a, d, &one, B, d, A, d, &zero, C, rows_b));
}

}  // namespace detail
}  // namespace protoot::cuda
