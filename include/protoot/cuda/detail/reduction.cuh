// protoot/cuda/detail/reduction.cuh — the streaming accumulators the kernels reduce with.
//
// A Sinkhorn pass is a reduction over one axis of the cost with either log-sum-exp (log form)
// or a plain sum (scaling form). Both are written as mergeable accumulators, so the same
// kernel body reduces within a thread, across a warp (shuffles) and across blocks (partials).
#pragma once

#include <cuda_runtime.h>

#include <limits>

namespace protoot::cuda::detail {

constexpr int warp_size = 32;

/// Online log-sum-exp: keeps (max, sum of exp(v - max)); safe when every value is -inf
/// (zero-mass marginal entries), where the result is -inf rather than NaN.
template <class S>
struct LogSumExp {
  S max = -std::numeric_limits<S>::infinity();
  S sum = S(0);

  __device__ void add(S v) {
    if (v > max) {
      sum = sum * exp(max - v) + S(1);  // exp(-inf) = 0 on the first finite value
      max = v;
    } else if (v > -std::numeric_limits<S>::infinity()) {
      sum += exp(v - max);
    }
  }
  __device__ void merge(const LogSumExp& other) {
    if (other.max == -std::numeric_limits<S>::infinity()) return;
    if (max == -std::numeric_limits<S>::infinity()) {
      *this = other;
      return;
    }
    const S top = max > other.max ? max : other.max;
    sum = sum * exp(max - top) + other.sum * exp(other.max - top);
    max = top;
  }
  __device__ S result() const {
    return max == -std::numeric_limits<S>::infinity() ? max : max + log(sum);
  }
  __device__ LogSumExp shuffle_xor(int lane_mask) const {
    LogSumExp other;
    other.max = __shfl_xor_sync(0xffffffffu, max, lane_mask);
    other.sum = __shfl_xor_sync(0xffffffffu, sum, lane_mask);
    return other;
  }
};

/// Plain sum, with the same interface as LogSumExp.
template <class S>
struct Sum {
  S sum = S(0);

  __device__ void add(S v) { sum += v; }
  __device__ void merge(const Sum& other) { sum += other.sum; }
  __device__ S result() const { return sum; }
  __device__ Sum shuffle_xor(int lane_mask) const { return Sum{__shfl_xor_sync(0xffffffffu, sum, lane_mask)}; }
};

/// Butterfly reduction: every lane of the warp ends with the merged accumulator.
template <class Accumulator>
__device__ Accumulator warp_reduce(Accumulator acc) {
  for (int mask = warp_size / 2; mask > 0; mask /= 2) acc.merge(acc.shuffle_xor(mask));
  return acc;
}

/// Block-wide merge (blockDim.x a multiple of 32, at most 1024); the result is valid in thread 0.
template <class Accumulator>
__device__ Accumulator block_reduce(Accumulator acc) {
  // raw storage: a __shared__ object may not have a (non-empty) constructor
  __shared__ alignas(Accumulator) unsigned char storage[warp_size * sizeof(Accumulator)];
  Accumulator* warp_results = reinterpret_cast<Accumulator*>(storage);
  const int lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
  acc = warp_reduce(acc);
  __syncthreads();  // warp_results may still be read by a previous call in this kernel
  if (lane == 0) warp_results[warp] = acc;
  __syncthreads();
  if (warp == 0) {
    acc = lane < static_cast<int>(blockDim.x / warp_size) ? warp_results[lane] : Accumulator{};
    acc = warp_reduce(acc);
  }
  return acc;
}

/// out[0] = sum of x[0..n) (one block; for the O(n) error and cost vectors).
template <class S>
__global__ void sum_kernel(const S* x, long long n, S* out) {
  Sum<S> acc;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) acc.add(x[i]);
  acc = block_reduce(acc);
  if (threadIdx.x == 0) out[0] = acc.sum;
}

}  // namespace protoot::cuda::detail
