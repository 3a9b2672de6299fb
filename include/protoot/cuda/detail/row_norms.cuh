// protoot/cuda/detail/row_norms.cuh — per-row norm terms of a row-major matrix on the device, the
// O(n d) preprocessing shared by the point-cloud cost, cosine retrieval, K-means and the losses
// (it doubles as their check for non-finite data).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "protoot/cuda/device_matrix.hpp"

namespace protoot::cuda::detail {

/// Which norm term row_norm_terms() writes per row.
enum class NormTerm {
  squared,  ///< ||x||^2
  inverse,  ///< 1 / ||x|| (zero rows are flagged)
};

/// out[i] = the norm term of row i of `rows` (count x dim); sets *invalid when a row is not
/// finite, or is zero under NormTerm::inverse. One thread per row.
template <class S>
__global__ void row_norm_terms(const S* rows, int count, int dim, NormTerm term, S* out, int* invalid) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  S squared = 0;
  for (int k = 0; k < dim; ++k) {
    const S v = rows[static_cast<long long>(i) * dim + k];
    squared += v * v;
  }
  if (!isfinite(squared) || (term == NormTerm::inverse && squared == S(0))) *invalid = 1;
  out[i] = term == NormTerm::inverse ? S(1) / sqrt(squared) : squared;
}

/// out_i = rows_i * scale[i] (count x dim), grid-stride over the entries.
template <class S>
__global__ void scale_rows(const S* rows, long long count, int dim, const S* scale, S* out) {
  const long long total = count * dim;
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<long long>(gridDim.x) * blockDim.x)
    out[e] = rows[e] * scale[e / dim];
}

/// Blocks of 256 threads for a grid-stride kernel over `entries` (capped: threads loop).
inline int grid_stride_blocks(long long entries) {
  return static_cast<int>(std::min<long long>((entries + 255) / 256, 65535));
}

/// norms = the norm terms of x's rows; throws std::invalid_argument (naming `where` and `name`)
/// when a row is not finite, or is zero under NormTerm::inverse.
template <class S>
void require_finite_rows(const DeviceMatrix<S>& x, const char* where, const char* name, DeviceBuffer<S>& norms,
                         NormTerm term) {
  if (x.rows() == 0) return;
  int* invalid = cleared_flag();
  const int count = static_cast<int>(x.rows());
  row_norm_terms<<<(count + 255) / 256, 256, 0, cuda::detail::stream()>>>(x.data(), count, static_cast<int>(x.cols()),
                                                                          term, norms.data(), invalid);
  PROTOOT_CUDA_CHECK_LAUNCH(row_norm_terms);
  if (to_host_value(invalid))
    fail(where,
         std::string(name) + (term == NormTerm::inverse ? " has a zero or non-finite row" : " contains NaN or Inf"));
}

}  // namespace protoot::cuda::detail
