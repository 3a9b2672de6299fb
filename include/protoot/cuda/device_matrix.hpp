// protoot/cuda/device_matrix.hpp — owning device memory with a shape: where the data lives
// picks the backend (a protoot function taking a DeviceMatrix runs on the GPU).
//
// DeviceBuffer<T> is a move-only typed allocation (workspaces, labels, potentials);
// DeviceMatrix<S> adds a row-major shape (rows are samples, as protoot::Matrix) and the
// host <-> device copies. Copies are queued on the current stream (resources.hpp) behind the
// work already there: host data can be reused as soon as upload() returns, and download()
// returns once the data is on the host. Plain C++: usable from g++-compiled files too.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "protoot/cuda/error.hpp"
#include "protoot/cuda/resources.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/types.hpp"

namespace protoot::cuda {
namespace detail {
// the argument checks of validation.hpp, under the CUDA backend's detail namespace
using protoot::detail::fail;
using protoot::detail::require;
using protoot::detail::require_distribution;
using protoot::detail::require_finite;
using protoot::detail::require_nonempty;
using protoot::detail::require_positive;
using protoot::detail::require_size;
using protoot::detail::require_weights;
}  // namespace detail

/// Move-only device allocation of `size` elements of T (uninitialised).
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t size, const char* what = "a device buffer")
      : data_(size ? static_cast<T*>(detail::allocate(size * sizeof(T), what)) : nullptr), size_(size) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~DeviceBuffer() { cudaFree(data_); }  // no throw from a destructor; a bad free is reported by the next call

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

  /// Copies `count` elements from host memory into the start of the buffer.
  void upload(const T* host, std::size_t count) {
    detail::require(count <= size_, "cuda::DeviceBuffer::upload", "more elements than the buffer holds");
    if (count)
      PROTOOT_CUDA_CHECK(cudaMemcpyAsync(data_, host, count * sizeof(T), cudaMemcpyHostToDevice, detail::stream()));
  }
  /// Copies `count` elements, starting at element `first`, to host memory.
  void download(T* host, std::size_t count, std::size_t first = 0) const {
    detail::require(first + count <= size_, "cuda::DeviceBuffer::download", "more elements than the buffer holds");
    if (!count) return;
    const cudaStream_t stream = detail::stream();
    PROTOOT_CUDA_CHECK(cudaMemcpyAsync(host, data_ + first, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
    PROTOOT_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Row-major rows x cols matrix in device memory (rows are samples).
template <class Scalar>
class DeviceMatrix {
 public:
  DeviceMatrix() = default;
  /// Uninitialised rows x cols matrix.
  DeviceMatrix(Index rows, Index cols) : buffer_(checked_size(rows, cols), "a DeviceMatrix"), rows_(rows), cols_(cols) {}
  /// Uploads any Eigen expression (any storage order), converting to Scalar.
  template <class Derived>
  explicit DeviceMatrix(const Eigen::MatrixBase<Derived>& host) : DeviceMatrix(host.rows(), host.cols()) {
    upload(host);
  }

  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  Index size() const { return rows_ * cols_; }
  bool empty() const { return size() == 0; }
  Scalar* data() { return buffer_.data(); }
  const Scalar* data() const { return buffer_.data(); }

  /// Copies `host` (same shape) into the matrix.
  template <class Derived>
  void upload(const Eigen::MatrixBase<Derived>& host) {
    if (host.rows() != rows_ || host.cols() != cols_)
      detail::fail("cuda::DeviceMatrix::upload", "shape " + shape(host.rows(), host.cols()) +
                                                   " does not match the device matrix " + shape(rows_, cols_));
    const Matrix<Scalar> row_major = host.template cast<Scalar>();
    buffer_.upload(row_major.data(), static_cast<std::size_t>(row_major.size()));
  }
  /// Copies the matrix to the host.
  Matrix<Scalar> download() const {
    Matrix<Scalar> host(rows_, cols_);
    buffer_.download(host.data(), static_cast<std::size_t>(host.size()));
    return host;
  }

 private:
  static std::string shape(Index rows, Index cols) { return std::to_string(rows) + " x " + std::to_string(cols); }
  static std::size_t checked_size(Index rows, Index cols) {
    detail::require(rows >= 0 && cols >= 0, "cuda::DeviceMatrix", "negative shape " + shape(rows, cols));
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  }

  DeviceBuffer<Scalar> buffer_;
  Index rows_ = 0, cols_ = 0;
};

/// Uploads a host vector or matrix into a fresh buffer (row-major element order).
template <class Derived>
DeviceBuffer<typename Derived::Scalar> to_device(const Eigen::MatrixBase<Derived>& host) {
  using Scalar = typename Derived::Scalar;
  const Matrix<Scalar> row_major = host;
  DeviceBuffer<Scalar> buffer(static_cast<std::size_t>(row_major.size()));
  buffer.upload(row_major.data(), buffer.size());
  return buffer;
}

/// Downloads the first `count` elements of a buffer into a host vector.
template <class Scalar>
Vector<Scalar> to_host(const DeviceBuffer<Scalar>& buffer, Index count) {
  Vector<Scalar> host(count);
  buffer.download(host.data(), static_cast<std::size_t>(count));
  return host;
}

}  // namespace protoot::cuda
