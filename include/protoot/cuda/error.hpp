// protoot/cuda/error.hpp — CUDA runtime and cuBLAS failures become C++ exceptions.
//
// Every device call in protoot goes through PROTOOT_CUDA_CHECK, so a failure surfaces as an
// exception whose message names the call that failed, where, and why, instead of a silently
// wrong result. Running out of device memory gets its own type (OutOfMemory), with the request
// and the free/total memory in the message, because it is the one failure a caller can act on
// (smaller batches, the on-the-fly cost instead of a stored one).
//
// Plain C++ (cuda_runtime_api.h, cublas_api.h): usable from g++-compiled files as well as nvcc.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace protoot::cuda {

/// A CUDA runtime or cuBLAS call failed; what() names the call, file:line and the error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Device memory is exhausted; what() gives the bytes requested and the device's free/total.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

/// No usable CUDA device or driver (none installed, none visible, or a driver older than the
/// toolkit): what() starts with "no CUDA device/driver". Thrown by the first protoot::cuda call.
class NoDevice : public Error {
 public:
  using Error::Error;
};

namespace detail {

/// The runtime errors that mean "there is no GPU to run on" rather than a failed call.
inline bool means_no_device(cudaError_t status) {
  return status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver ||
         status == cudaErrorCompatNotSupportedOnDevice;
}

inline std::string no_device_message(const char* where, cudaError_t status) {
  return std::string("no CUDA device/driver: ") + where + " needs a GPU (" + cudaGetErrorName(status) + ": " +
         cudaGetErrorString(status) + ")";
}

/// Throws NoDevice unless a CUDA device can be used.
inline void require_device(const char* where) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count == 0) status = cudaErrorNoDevice;
  if (status == cudaSuccess) return;
  cudaGetLastError();
  throw NoDevice(no_device_message(where, status));
}

inline std::string call_site(const char* call, const char* file, int line) {
  return std::string("protoot::cuda: ") + call + " failed at " + file + ":" + std::to_string(line);
}

/// Throws for a failed runtime call (OutOfMemory for cudaErrorMemoryAllocation).
inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear the (non-sticky) error so the next call does not report it again
  const std::string message = call_site(call, file, line) + ": " + cudaGetErrorName(status) + " (" +
                              cudaGetErrorString(status) + ")";
  if (status == cudaErrorMemoryAllocation) throw OutOfMemory(message);
  if (means_no_device(status)) throw NoDevice(no_device_message(call, status));
  throw Error(message);
}

inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string message = call_site(call, file, line) + ": " + cublasGetStatusName(status) + " (" +
                              cublasGetStatusString(status) + ")";
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemory(message);
  throw Error(message);
}

/// cudaMalloc with a message that says how much was asked for and how much the device has.
inline void* allocate(std::size_t bytes, const char* what) {
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw OutOfMemory("protoot::cuda: out of device memory allocating " + std::to_string(bytes) +
                      " bytes for " + what + " (device has " + std::to_string(free_bytes) + " of " +
                      std::to_string(total_bytes) + " bytes free)");
  }
  check(status, "cudaMalloc", __FILE__, __LINE__);
  return pointer;
}

}  // namespace detail

/// True when a usable CUDA device is present (false without a driver or a GPU); never throws.
inline bool device_available() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();
  return ok;
}

}  // namespace protoot::cuda

/// Checks a cudaError_t or cublasStatus_t expression; throws protoot::cuda::Error naming it.
#define PROTOOT_CUDA_CHECK(call) ::protoot::cuda::detail::check((call), #call, __FILE__, __LINE__)

/// Checks the launch of the kernel just issued (configuration errors, earlier async faults).
#define PROTOOT_CUDA_CHECK_LAUNCH(kernel) \
  ::protoot::cuda::detail::check(cudaGetLastError(), "launch of " #kernel, __FILE__, __LINE__)
