// protoot/cuda/l2_normalise.cuh — row L2 normalisation and its backward pass on the GPU.
//
// The same contract as protoot/l2_normalise.hpp with the data on the device: heads end with this
// step, so its output stays on the device (a DeviceMatrix) for the losses that follow.
// One warp per row: the norm is a warp reduction, the row is then rescaled by the same lanes
// that read it (safe in place). Include from a .cu file compiled by nvcc.
#pragma once

#include <climits>
#include <string>

#include "protoot/cuda/detail/reduction.cuh"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/l2_normalise.hpp"

namespace protoot {
namespace cuda::detail {

/// The lowest row index a kernel flags (atomicMin), or -1: how kernels report bad rows so the
/// host can name the first one, as the CPU messages do.
class FirstBadRow {
 public:
  /// In the current scratch: valid until the next scratch request.
  FirstBadRow() : flag_(current_resources().scratch<int>(1)) {
    PROTOOT_CUDA_CHECK(cudaMemcpyAsync(flag_, &none_, sizeof(int), cudaMemcpyHostToDevice, stream()));
  }
  int* data() { return flag_; }
  /// The flagged row, or -1 when none was.
  Index get() const {
    const int row = to_host_value(flag_);
    return row == none_ ? Index(-1) : Index(row);
  }

 private:
  static constexpr int none_ = INT_MAX;
  int* flag_;
};

/// Warps of a 256-thread block, and the blocks needed for one warp per row.
constexpr int rows_per_block = 256 / warp_size;
inline int blocks_for_rows(Index rows) { return static_cast<int>((rows + rows_per_block - 1) / rows_per_block); }

/// y_i = x_i / ||x_i|| (n x d; y may be x); norms[i] = ||x_i|| when norms is given. A zero or
/// non-finite row is flagged in bad_row (and copied unchanged) when bad_row is given, else kept
/// as is: a zero similarity row stays zero in prototype_cost. One warp per row.
template <class S>
__global__ void normalise_rows(const S* x, int n, int d, S* y, S* norms, int* bad_row) {
  const int lane = threadIdx.x % warp_size;
  const long long i = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (i >= n) return;
  const S* row = x + i * d;
  Sum<S> squares;
  for (int t = lane; t < d; t += warp_size) squares.add(row[t] * row[t]);
  const S norm = sqrt(warp_reduce(squares).sum);
  const bool usable = norm > S(0) && isfinite(norm);
  if (!usable && bad_row && lane == 0) atomicMin(bad_row, static_cast<int>(i));
  for (int t = lane; t < d; t += warp_size) y[i * d + t] = usable ? row[t] / norm : row[t];
  if (norms && lane == 0) norms[i] = norm;
}

/// dx_i = (g_i - y_i (y_i . g_i)) / norms[i] (n x d); a row whose norm is not > 0 is flagged in
/// bad_row. One warp per row.
template <class S>
__global__ void normalise_rows_backward(const S* y, const S* norms, const S* g, int n, int d, S* dx, int* bad_row) {
  const int lane = threadIdx.x % warp_size;
  const long long i = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (i >= n) return;
  Sum<S> radial;
  for (int t = lane; t < d; t += warp_size) radial.add(y[i * d + t] * g[i * d + t]);
  const S r = warp_reduce(radial).sum, norm = norms[i];
  if (!(norm > S(0)) && lane == 0) atomicMin(bad_row, static_cast<int>(i));
  for (int t = lane; t < d; t += warp_size) dx[i * d + t] = (g[i * d + t] - r * y[i * d + t]) / norm;
}

/// The unit rows of x (norms into `norms` when given); throws std::invalid_argument naming
/// `where` and `name` at the first zero or non-finite row.
template <class S>
DeviceMatrix<S> unit_rows(const DeviceMatrix<S>& x, const char* where, const char* name,
                          DeviceBuffer<S>* norms = nullptr) {
  require(!x.empty(), where, std::string(name) + " is empty");
  require(x.rows() < INT_MAX && x.cols() < INT_MAX, where, "shapes must be below 2^31");
  DeviceMatrix<S> y(x.rows(), x.cols());
  if (norms && norms->size() != static_cast<std::size_t>(x.rows()))
    *norms = DeviceBuffer<S>(static_cast<std::size_t>(x.rows()), "row norms");
  FirstBadRow bad;
  normalise_rows<<<blocks_for_rows(x.rows()), 256, 0, cuda::detail::stream()>>>(
      x.data(), static_cast<int>(x.rows()), static_cast<int>(x.cols()), y.data(), norms ? norms->data() : nullptr,
      bad.data());
  PROTOOT_CUDA_CHECK_LAUNCH(normalise_rows);
  if (const Index row = bad.get(); row >= 0)
    fail(where, std::string(name) + " row " + std::to_string(row) + " has zero (or non-finite) norm");
  return y;
}

}  // namespace cuda::detail

/// y_i = x_i / ||x_i|| for every row of x (n x d, n, d >= 1) on the GPU, the CPU
/// l2_normalise_rows' contract; y stays on the device. When `norms` is given it receives ||x_i||
/// (n, on the device; resized), which the backward needs. A zero or non-finite row throws
/// std::invalid_argument naming the first such row. O(n d), one read and one write of x.
template <class S>
cuda::DeviceMatrix<S> l2_normalise_rows(const cuda::DeviceMatrix<S>& x, cuda::DeviceBuffer<S>* norms = nullptr) {
  return cuda::detail::unit_rows(x, "cuda::l2_normalise_rows", "x", norms);
}

/// Backward of y = l2_normalise_rows(x) on the GPU: given y (n x d), the norms ||x_i|| (n) and
/// dL/dy (n x d), all on the device, returns dL/dx = (dL/dy - y (y . dL/dy)) / ||x|| row by row
/// (on the device). Throws std::invalid_argument on mismatched shapes or a norm that is not > 0.
/// O(n d).
template <class S>
cuda::DeviceMatrix<S> l2_normalise_rows_backward(const cuda::DeviceMatrix<S>& y, const cuda::DeviceBuffer<S>& norms,
                                                 const cuda::DeviceMatrix<S>& grad_y) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::l2_normalise_rows_backward";
  require_size(static_cast<Index>(norms.size()), y.rows(), where, "norms must have one entry per row of y");
  require_size(grad_y.rows(), y.rows(), where, "grad_y rows");
  require_size(grad_y.cols(), y.cols(), where, "grad_y columns");
  cuda::DeviceMatrix<S> dx(y.rows(), y.cols());
  if (y.empty()) return dx;
  FirstBadRow bad;
  normalise_rows_backward<<<blocks_for_rows(y.rows()), 256, 0, cuda::detail::stream()>>>(
      y.data(), norms.data(), grad_y.data(), static_cast<int>(y.rows()), static_cast<int>(y.cols()), dx.data(),
      bad.data());
  PROTOOT_CUDA_CHECK_LAUNCH(normalise_rows_backward);
  if (bad.get() >= 0) fail(where, "norms must be > 0");
  return dx;
}

}  // namespace protoot
