// protoot/cuda/detail/sinkhorn_kernels.cuh — the device side of the Sinkhorn solvers.
//
// One Sinkhorn half-step updates the potentials of one side from a reduction over the other:
//   log form:     f_i <- lambda * eps * (log a_i - LSE_j (g_j - C_ij) / eps)
//   scaling form: u_i <- (a_i / sum_j K_ij v_j)^lambda,   K = exp(-C / eps)
// (lambda = rho / (rho + eps) for a KL-relaxed side, 1 for a hard one). A "Form" policy supplies
// the term, the accumulator and the update, so every kernel below serves both forms, float and
// double. The same reduction also yields the side's L1 marginal error for free.
//
// Cost sources: a stored row-major n x m cost (row pass: one warp per row, coalesced; column
// pass: one thread per column over a chunk of rows, then a merge of the chunk partials), or two
// point clouds whose cost is recomputed tile by tile in shared memory (memory O(n + m)).
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "protoot/cuda/detail/reduction.cuh"
#include "protoot/cuda/detail/row_norms.cuh"
#include "protoot/detail/sinkhorn_math.hpp"

namespace protoot::cuda {

/// Cost between two point clouds, evaluated on the fly.
enum class PointCost {
  squared_euclidean,  ///< ||x - y||^2
  cosine,             ///< 1 - <x, y> / (||x|| ||y||) (rows must be non-zero)
};

namespace detail {

template <class S>
struct LogForm {
  using Accumulator = LogSumExp<S>;
  static constexpr bool stores_kernel = false;
  __device__ static S entry(S cost, S /*inv_eps*/) { return cost; }
  __device__ static S term(S other, S entry, S inv_eps) { return (other - entry) * inv_eps; }
  __device__ static S update(S weight, S reduced, S eps, S lambda) { return lambda * eps * (log(weight) - reduced); }
  __device__ static S marginal(S potential, S reduced, S inv_eps) { return exp(potential * inv_eps + reduced); }
  __device__ static bool valid(S potential, S /*weight*/) { return !isnan(potential) && potential != S(INFINITY); }
  __device__ static S potential(S value, S /*eps*/) { return value; }
};

template <class S>
struct ScalingForm {
  using Accumulator = Sum<S>;
  static constexpr bool stores_kernel = true;  // the stored matrix is K = exp(-C / eps)
  __device__ static S entry(S cost, S inv_eps) { return exp(-cost * inv_eps); }
  __device__ static S term(S other, S entry, S /*inv_eps*/) { return entry * other; }
  __device__ static S update(S weight, S reduced, S /*eps*/, S lambda) {
    const S ratio = weight / reduced;
    return lambda == S(1) ? ratio : pow(ratio, lambda);
  }
  __device__ static S marginal(S scaling, S reduced, S /*inv_eps*/) { return scaling * reduced; }
  // underflow of K v (0/0 or w/0) or a collapsed scaling on a side with mass
  __device__ static bool valid(S scaling, S weight) { return isfinite(scaling) && (scaling > S(0) || weight == S(0)); }
  __device__ static S potential(S scaling, S eps) { return eps * log(scaling); }
};

/// What one half-step reads and writes (all device pointers).
template <class S>
struct HalfStep {
  const S* other;     ///< potentials of the side reduced over
  const S* weights;   ///< marginal of the side being updated
  const S* current;   ///< its potentials now
  S* next;            ///< its updated potentials
  S* error_terms;     ///< |marginal_i - weight_i|, see measure_next
  bool measure_next;  ///< error of (next, other) instead of (current, other)
  S eps, inv_eps, lambda;
  S rho;         ///< KL weight of this side (infinity: hard constraint)
  int* invalid;  ///< set to 1 when an update is non-finite (scaling underflow)
};

template <class Form, class S>
__device__ void finish_entry(const HalfStep<S>& step, long long i, S reduced) {
  const S weight = step.weights[i];
  const S updated = Form::update(weight, reduced, step.eps, step.lambda);
  step.next[i] = updated;
  const S measured = step.measure_next ? updated : step.current[i];
  const S target = protoot::detail::relaxed_target(weight, Form::potential(measured, step.eps), step.rho);
  step.error_terms[i] = fabs(Form::marginal(measured, reduced, step.inv_eps) - target);
  if (!Form::valid(updated, weight)) *step.invalid = 1;
}

/// Row half-step on a stored n x m matrix: one warp per row, four loads in flight per lane.
template <class Form, class S>
__global__ void stored_row_step(const S* __restrict__ matrix, int n, int m, HalfStep<S> step) {
  const int lane = threadIdx.x % warp_size;
  const long long row = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (row >= n) return;  // uniform per warp, so the shuffles below see full warps
  const S* __restrict__ entries = matrix + row * m;
  const S* __restrict__ other = step.other;
  typename Form::Accumulator acc;
  int j = lane;
  for (; j + 3 * warp_size < m; j += 4 * warp_size) {
    const S e0 = entries[j], e1 = entries[j + warp_size], e2 = entries[j + 2 * warp_size],
            e3 = entries[j + 3 * warp_size];
    acc.add(Form::term(other[j], e0, step.inv_eps));
    acc.add(Form::term(other[j + warp_size], e1, step.inv_eps));
    acc.add(Form::term(other[j + 2 * warp_size], e2, step.inv_eps));
    acc.add(Form::term(other[j + 3 * warp_size], e3, step.inv_eps));
  }
  for (; j < m; j += warp_size) acc.add(Form::term(other[j], entries[j], step.inv_eps));
  acc = warp_reduce(acc);
  if (lane == 0) finish_entry<Form>(step, row, acc.result());
}

/// Column half-step, first stage: block (x, y) reduces columns [x*blockDim, ...) over the rows
/// of chunk y; a warp reads 32 consecutive entries of a row (coalesced).
template <class Form, class S>
__global__ void stored_column_partial(const S* __restrict__ matrix, int n, int m, const S* __restrict__ other,
                                      S inv_eps, int rows_per_chunk, typename Form::Accumulator* partial) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const int begin = blockIdx.y * rows_per_chunk;
  const int end = min(n, begin + rows_per_chunk);
  typename Form::Accumulator acc;
  const S* __restrict__ column = matrix + j;
  const long long stride = m;
  int i = begin;
  for (; i + 3 < end; i += 4) {
    const S e0 = column[i * stride], e1 = column[(i + 1) * stride], e2 = column[(i + 2) * stride],
            e3 = column[(i + 3) * stride];
    acc.add(Form::term(other[i], e0, inv_eps));
    acc.add(Form::term(other[i + 1], e1, inv_eps));
    acc.add(Form::term(other[i + 2], e2, inv_eps));
    acc.add(Form::term(other[i + 3], e3, inv_eps));
  }
  for (; i < end; ++i) acc.add(Form::term(other[i], column[i * stride], inv_eps));
  partial[static_cast<long long>(blockIdx.y) * m + j] = acc;
}

/// Column half-step, second stage: merge the chunk partials of each column and update it.
template <class Form, class S>
__global__ void stored_column_finish(const typename Form::Accumulator* partial, int chunks, int m, HalfStep<S> step) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m) return;
  typename Form::Accumulator acc = partial[j];
  for (int c = 1; c < chunks; ++c) acc.merge(partial[static_cast<long long>(c) * m + j]);
  finish_entry<Form>(step, j, acc.result());
}

/// One point cloud on the device with its per-point cost term (see row_norm_terms).
template <class S>
struct Cloud {
  const S* points;  ///< count x dim, row-major
  const S* norms;   ///< per point: squared norm (squared Euclidean) or inverse norm (cosine)
  int count;
};

template <class S>
__device__ S cost_from_dot(PointCost kind, S dot, S norm_x, S norm_y) {
  if (kind == PointCost::cosine) return S(1) - dot * norm_x * norm_y;
  const S squared = norm_x + norm_y - S(2) * dot;
  return squared > S(0) ? squared : S(0);  // cancellation can dip below zero
}

/// Half-step with the cost recomputed on the fly: thread t of a block owns point x_i
/// (i = blockIdx.x * TileX + t) and reduces over all y_j, tiles of TileY points x TileD
/// coordinates staged in shared memory (+1 column of padding: conflict-free row reads).
/// The column half-step is the same kernel with the clouds swapped.
template <class Form, class S, int TileX = 128, int TileY = 32, int TileD = 32>
__global__ void __launch_bounds__(TileX) cloud_step(Cloud<S> x, Cloud<S> y, int dim, PointCost kind, HalfStep<S> step) {
  __shared__ S x_tile[TileX][TileD + 1];
  __shared__ S y_tile[TileY][TileD + 1];
  __shared__ S y_other[TileY];
  __shared__ S y_norms[TileY];
  const int t = threadIdx.x;
  const long long i = static_cast<long long>(blockIdx.x) * TileX + t;
  const long long first_x = static_cast<long long>(blockIdx.x) * TileX;
  const S norm_x = i < x.count ? x.norms[i] : S(0);
  typename Form::Accumulator acc;
  for (int j0 = 0; j0 < y.count; j0 += TileY) {
    S dot[TileY];
#pragma unroll
    for (int jj = 0; jj < TileY; ++jj) dot[jj] = S(0);
    for (int k0 = 0; k0 < dim; k0 += TileD) {
      __syncthreads();  // the previous tile (and y_other / y_norms) is no longer being read
      for (int e = t; e < TileX * TileD; e += TileX) {
        const int r = e / TileD, c = e % TileD;
        const long long p = first_x + r;
        x_tile[r][c] = (p < x.count && k0 + c < dim) ? x.points[p * dim + k0 + c] : S(0);
      }
      for (int e = t; e < TileY * TileD; e += TileX) {
        const int r = e / TileD, c = e % TileD;
        const long long q = j0 + r;
        y_tile[r][c] = (q < y.count && k0 + c < dim) ? y.points[q * dim + k0 + c] : S(0);
      }
      if (k0 == 0 && t < TileY) {
        const bool inside = j0 + t < y.count;
        y_other[t] = inside ? step.other[j0 + t] : S(0);
        y_norms[t] = inside ? y.norms[j0 + t] : S(0);
      }
      __syncthreads();
#pragma unroll 4
      for (int c = 0; c < TileD; ++c) {
        const S xv = x_tile[t][c];
#pragma unroll
        for (int jj = 0; jj < TileY; ++jj) dot[jj] += xv * y_tile[jj][c];
      }
    }
    if (i < x.count) {
#pragma unroll
      for (int jj = 0; jj < TileY; ++jj) {
        if (j0 + jj < y.count) {
          const S cost = cost_from_dot(kind, dot[jj], norm_x, y_norms[jj]);
          acc.add(Form::term(y_other[jj], Form::entry(cost, step.inv_eps), step.inv_eps));
        }
      }
    }
  }
  if (i < x.count) finish_entry<Form>(step, i, acc.result());
}

/// Stored cost entry (i, j).
template <class S>
struct StoredCost {
  const S* cost;
  int cols;
  __device__ S operator()(long long i, long long j) const { return cost[i * cols + j]; }
};

/// Point-cloud cost entry (i, j), a dot product per entry (used once, for the plan).
template <class S>
struct CloudCost {
  Cloud<S> x, y;
  int dim;
  PointCost kind;
  __device__ S operator()(long long i, long long j) const {
    S dot = 0;
    for (int k = 0; k < dim; ++k) dot += x.points[i * dim + k] * y.points[j * dim + k];
    return cost_from_dot(kind, dot, x.norms[i], y.norms[j]);
  }
};

/// Matrix entry of the form (K = exp(-C/eps) for the scaling form), rows [0, n) of a stored cost.
template <class Form, class S>
__global__ void form_entries(const S* cost, long long count, S inv_eps, S* entries) {
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += static_cast<long long>(gridDim.x) * blockDim.x)
    entries[e] = Form::entry(cost[e], inv_eps);
}

/// max over non-negative values through their bits (IEEE order = integer order for x >= 0).
__device__ inline void atomic_max_non_negative(float* address, float value) {
  atomicMax(reinterpret_cast<unsigned int*>(address), __float_as_uint(value));
}
__device__ inline void atomic_max_non_negative(double* address, double value) {
  atomicMax(reinterpret_cast<unsigned long long*>(address),
            static_cast<unsigned long long>(__double_as_longlong(value)));
}

/// summary[0] = max |value| over the finite values, summary[1] = 1 when one is NaN or Inf;
/// both zeroed before. Grid-stride, one atomic per warp.
template <class S>
__global__ void cost_summary(const S* values, long long count, S* summary) {
  S largest = 0;
  bool finite = true;
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += static_cast<long long>(gridDim.x) * blockDim.x) {
    const S value = values[e];
    if (isfinite(value))
      largest = fmax(largest, fabs(value));
    else
      finite = false;
  }
  for (int offset = warp_size / 2; offset > 0; offset /= 2)
    largest = fmax(largest, __shfl_xor_sync(0xffffffffu, largest, offset));
  if (!finite) summary[1] = S(1);
  if (threadIdx.x % warp_size == 0) atomic_max_non_negative(summary, largest);
}

/// {max |value| over the finite values, whether every value is finite} of values[0, count) on the
/// device, from one cost_summary pass; only the two scalars cross to the host.
template <class S>
std::pair<S, bool> summarise_values(const S* values, long long count) {
  S* summary = current_resources().scratch<S>(2);
  PROTOOT_CUDA_CHECK(cudaMemsetAsync(summary, 0, 2 * sizeof(S), stream()));
  if (count > 0) {
    cost_summary<<<grid_stride_blocks(count), 256, 0, stream()>>>(values, count, summary);
    PROTOOT_CUDA_CHECK_LAUNCH(cost_summary);
  }
  S host[2];
  to_host_values(summary, 2, host);
  return {host[0], host[1] == S(0)};
}

/// Scalings -> potentials (f = eps log u) in place.
template <class S>
__global__ void scalings_to_potentials(S* values, int count, S eps) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) values[i] = eps * log(values[i]);
}

/// values[i] <- values[i]^power (scalings re-expressed at a new epsilon).
template <class S>
__global__ void power_in_place(S* values, int count, S power) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) values[i] = pow(values[i], power);
}

/// Rows [first_row, first_row + rows) of plan = exp((f_i + g_j - C_ij) / eps), one warp per row;
/// `plan` (rows x m, may be null) receives them and cost_terms[i] = sum_j P_ij C_ij.
template <class S, class Cost>
__global__ void plan_rows(Cost cost, long long first_row, int rows, int m, const S* f, const S* g, S inv_eps, S* plan,
                          S* cost_terms) {
  const int lane = threadIdx.x % warp_size;
  const long long local = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (local >= rows) return;
  const long long i = first_row + local;
  const S fi = f[i];
  Sum<S> acc;
  for (int j = lane; j < m; j += warp_size) {
    const S c = cost(i, j);
    const S p = exp((fi + g[j] - c) * inv_eps);
    if (plan) plan[local * m + j] = p;
    if (p > S(0)) acc.add(p * c);  // skips 0 * inf
  }
  acc = warp_reduce(acc);
  if (lane == 0) cost_terms[i] = acc.sum;
}

}  // namespace detail
}  // namespace protoot::cuda
