// protoot/cuda/resources.hpp — what every GPU call needs and should not remake per call: a
// stream, a cuBLAS handle bound to it, and small scratch buffers (flags, one-value sums).
//
// Every protoot::cuda function runs on the *current* Resources of the calling thread: the
// thread's default for the current device (created on first use, kept for the thread's life),
// or the Resources a caller installs with a ResourceScope, as PyTorch's CUDAStreamGuard does
// for its current stream. All kernels and copies of the call go onto that stream in order;
// results the call returns on the host are complete when it returns (it synchronises the
// stream once, when it downloads them).
//
// Where results live, one rule: the type says it. A cuda::DeviceMatrix / cuda::DeviceBuffer
// (l2_normalise_rows, prototype_cost, ...) is device memory; everything else a function returns
// (SinkhornResult, KMeansResult, top-k lists, loss values and gradients: Eigen types and
// scalars) is host memory, complete when the call returns.
//
// Without a usable device or driver, the first call throws protoot::cuda::NoDevice ("no CUDA
// device/driver"), a std::runtime_error, from the caller's own call. Plain C++
// (cuda_runtime_api.h, cublas_api.h): usable from g++-compiled files too.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <map>
#include <memory>
#include <utility>

#include "protoot/cuda/error.hpp"

namespace protoot::cuda {

/// A stream, a cuBLAS handle on it and grow-only scratch memory, for one device. Move-only;
/// not thread-safe: one Resources per thread (the defaults are per thread).
class Resources {
 public:
  /// Creates them on the current device; throws NoDevice without a usable device or driver.
  Resources() {
    detail::require_device("protoot::cuda::Resources");
    PROTOOT_CUDA_CHECK(cudaGetDevice(&device_));
    // A blocking stream: it waits for work the caller queued on the legacy default stream (a
    // cudaMemcpy or kernel that filled a DeviceMatrix's data()) and that work waits for it.
    PROTOOT_CUDA_CHECK(cudaStreamCreate(&stream_));
    const cublasStatus_t created = cublasCreate(&blas_);
    if (created != CUBLAS_STATUS_SUCCESS) cudaStreamDestroy(stream_);
    PROTOOT_CUDA_CHECK(created);
    PROTOOT_CUDA_CHECK(cublasSetStream(blas_, stream_));
  }
  Resources(const Resources&) = delete;
  Resources& operator=(const Resources&) = delete;
  ~Resources() {  // no throw from a destructor: failures here are reported by the next call
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
    cudaFree(scratch_);
  }

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }

  /// Device scratch of at least `count` T (contents undefined; valid until the next call that
  /// asks for more). Grows, never shrinks: a solve allocates it once, not per iteration.
  template <class T>
  T* scratch(std::size_t count) {
    const std::size_t bytes = count * sizeof(T);
    if (bytes > scratch_bytes_) {
      synchronize();  // earlier work may still use the old block
      cudaFree(scratch_);
      scratch_ = nullptr;
      scratch_bytes_ = 0;
      scratch_ = detail::allocate(bytes, "protoot::cuda scratch");
      scratch_bytes_ = bytes;
    }
    return static_cast<T*>(scratch_);
  }

  /// Bytes copied device -> host through protoot (DeviceBuffer::download, the scalar reads), since
  /// creation: how a test proves that data stays on the device.
  std::size_t downloaded_bytes() const { return downloaded_bytes_; }
  void count_download(std::size_t bytes) { downloaded_bytes_ += bytes; }

  /// Waits for everything queued on the stream.
  void synchronize() const { PROTOOT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  void* scratch_ = nullptr;
  std::size_t scratch_bytes_ = 0;
  std::size_t downloaded_bytes_ = 0;
};

namespace detail {
inline Resources*& installed_resources() {
  thread_local Resources* installed = nullptr;
  return installed;
}
}  // namespace detail

/// This thread's default Resources for the current device (created on first use).
/// Throws NoDevice without a usable device or driver.
inline Resources& default_resources() {
  detail::require_device("protoot::cuda");
  int device = 0;
  PROTOOT_CUDA_CHECK(cudaGetDevice(&device));
  thread_local std::map<int, std::unique_ptr<Resources>> per_device;
  std::unique_ptr<Resources>& resources = per_device[device];
  if (!resources) resources = std::make_unique<Resources>();
  return *resources;
}

/// The Resources protoot::cuda calls on this thread use now: the innermost ResourceScope's,
/// else default_resources().
inline Resources& current_resources() {
  Resources* installed = detail::installed_resources();
  return installed ? *installed : default_resources();
}

/// Makes `resources` current on this thread for the scope's lifetime (restores the previous
/// one after): protoot::cuda calls inside it run on that stream, handle and scratch.
class ResourceScope {
 public:
  explicit ResourceScope(Resources& resources) : previous_(std::exchange(detail::installed_resources(), &resources)) {}
  ResourceScope(const ResourceScope&) = delete;
  ResourceScope& operator=(const ResourceScope&) = delete;
  ~ResourceScope() { detail::installed_resources() = previous_; }

 private:
  Resources* previous_;
};

namespace detail {
/// The current stream (see current_resources()).
inline cudaStream_t stream() { return current_resources().stream(); }

/// A device int set to 0, in the current scratch (valid until the next scratch request).
inline int* cleared_flag() {
  int* flag = current_resources().scratch<int>(1);
  PROTOOT_CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), stream()));
  return flag;
}

/// `count` values copied from the device once the work queued before them is done.
template <class T>
void to_host_values(const T* device_values, std::size_t count, T* host) {
  Resources& resources = current_resources();
  const cudaStream_t queue = resources.stream();
  resources.count_download(count * sizeof(T));
  PROTOOT_CUDA_CHECK(cudaMemcpyAsync(host, device_values, count * sizeof(T), cudaMemcpyDeviceToHost, queue));
  PROTOOT_CUDA_CHECK(cudaStreamSynchronize(queue));
}

/// One value copied from the device once the work queued before it is done.
template <class T>
T to_host_value(const T* device_value) {
  T host{};
  to_host_values(device_value, 1, &host);
  return host;
}
}  // namespace detail

}  // namespace protoot::cuda
