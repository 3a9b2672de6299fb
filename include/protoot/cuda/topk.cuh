// protoot/cuda/topk.cuh — exact top-k retrieval on the GPU: blocked GEMM + per-row selection.
//
// A block of queries meets the whole gallery in one cuBLAS product (bounded to
// similarity_block_entries scores on the device), then one thread block per query selects its k
// best: a pass over the row keeps only scores above the running k-th best (after the first few
// hundred items almost nothing passes), and the few candidates are merged into the current best
// list by a bitonic sort in shared memory. Ranking order and tie rule are the CPU's
// (retrieval.hpp): score descending, then gallery index ascending; results are identical up to
// the rounding of the products. Include from a .cu file compiled by nvcc.
#pragma once

#include <algorithm>
#include <climits>
#include <limits>
#include <string>

#include "protoot/cuda/detail/blas.hpp"
#include "protoot/cuda/detail/row_norms.cuh"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/cuda/l2_normalise.cuh"
#include "protoot/retrieval.hpp"

namespace protoot {
namespace cuda {

/// Largest k the GPU selection supports (the candidate list lives in shared memory).
constexpr Index max_topk = 1024;

namespace detail {

constexpr int topk_threads = 256;
constexpr int topk_slots = 1024;  // best-list capacity (>= k); candidates use as many again
constexpr long long similarity_block_entries = 1LL << 26;  // scores per GEMM block (256 MiB in float)

/// Sorts keys[0, count) (count a power of two) best first: score descending, index ascending.
template <class S>
__device__ void bitonic_sort_best_first(S* score, int* index, int count) {
  for (int size = 2; size <= count; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int t = threadIdx.x; t < count / 2; t += blockDim.x) {
        const int i = 2 * t - (t & (stride - 1));  // i has the `stride` bit clear; partner i + stride
        const int j = i + stride;
        const bool j_first = score[j] > score[i] || (score[j] == score[i] && index[j] < index[i]);
        const bool i_first = score[i] > score[j] || (score[i] == score[j] && index[i] < index[j]);
        const bool ascending = (i & size) == 0;  // "ascending" = best first in this sub-sequence
        if (ascending ? j_first : i_first) {
          const S s = score[i];
          score[i] = score[j];
          score[j] = s;
          const int x = index[i];
          index[i] = index[j];
          index[j] = x;
        }
      }
      __syncthreads();
    }
  }
}

/// Row r of `scores` (rows x m) -> its k best (score, index), written at out_*[(first_row + r) * k].
/// Shared memory: slots [0, topk_slots) hold the best list (sorted), [topk_slots, 2 topk_slots)
/// the candidates of the current round. A candidate must beat the k-th best so far; an item equal
/// to it can never enter, since it comes later in index order than every kept item.
template <class S>
__global__ void __launch_bounds__(topk_threads) select_topk(const S* scores, int m, int k, long long first_row,
                                                            S* out_scores, int* out_indices) {
  __shared__ S score[2 * topk_slots];
  __shared__ int index[2 * topk_slots];
  __shared__ int candidates;
  __shared__ S threshold;
  const S* row = scores + static_cast<long long>(blockIdx.x) * m;
  for (int s = threadIdx.x; s < 2 * topk_slots; s += blockDim.x) {
    score[s] = -std::numeric_limits<S>::infinity();
    index[s] = INT_MAX;
  }
  if (threadIdx.x == 0) {
    candidates = 0;
    threshold = -std::numeric_limits<S>::infinity();
  }
  __syncthreads();
  auto merge = [&] {  // all threads; leaves candidates empty and the threshold raised
    bitonic_sort_best_first(score, index, 2 * topk_slots);
    for (int s = topk_slots + threadIdx.x; s < 2 * topk_slots; s += blockDim.x) {
      score[s] = -std::numeric_limits<S>::infinity();
      index[s] = INT_MAX;
    }
    if (threadIdx.x == 0) {
      candidates = 0;
      threshold = score[k - 1];
    }
    __syncthreads();
  };
  for (int base = 0; base < m; base += blockDim.x) {
    const int j = base + threadIdx.x;
    if (j < m) {
      const S value = row[j];
      if (value > threshold) {
        const int slot = atomicAdd(&candidates, 1);  // < topk_slots: merged before it could fill
        score[topk_slots + slot] = value;
        index[topk_slots + slot] = j;
      }
    }
    __syncthreads();
    const bool full = candidates > topk_slots - static_cast<int>(blockDim.x);
    __syncthreads();  // everyone has read `candidates` before the next round's atomics change it
    if (full) merge();
  }
  if (candidates > 0) merge();
  const long long out = (first_row + blockIdx.x) * k;
  for (int t = threadIdx.x; t < k; t += blockDim.x) {
    out_scores[out + t] = score[t];
    out_indices[out + t] = index[t];
  }
}

template <class S>
void validate_topk(const char* where, const DeviceMatrix<S>& queries, const DeviceMatrix<S>& gallery, Index k) {
  require(!queries.empty(), where, "queries is empty");
  require(!gallery.empty(), where, "gallery is empty");
  require_size(gallery.cols(), queries.cols(), where, "gallery columns (feature dimension)");
  require(k >= 1 && k <= gallery.rows(), where,
          "k = " + std::to_string(k) + " must be in [1, " + std::to_string(gallery.rows()) + "]");
  require(k <= max_topk, where, "k = " + std::to_string(k) + " exceeds the GPU limit " + std::to_string(max_topk));
  require(queries.rows() < INT_MAX && gallery.rows() < INT_MAX && queries.cols() < INT_MAX, where,
          "shapes must be below 2^31");
}

/// The search on validated inputs (see inner_product_topk).
template <class S>
TopK<S> search(const DeviceMatrix<S>& queries, const DeviceMatrix<S>& gallery, Index k) {
  const int n = static_cast<int>(queries.rows()), m = static_cast<int>(gallery.rows());
  const int d = static_cast<int>(queries.cols()), kk = static_cast<int>(k);
  const int block_rows = static_cast<int>(std::max<long long>(1, std::min<long long>(n, similarity_block_entries / m)));
  DeviceBuffer<S> similarities(static_cast<std::size_t>(block_rows) * m, "a block of similarities");
  DeviceBuffer<S> best_scores(static_cast<std::size_t>(n) * kk, "top-k scores");
  DeviceBuffer<int> best_indices(static_cast<std::size_t>(n) * kk, "top-k indices");
  for (int first = 0; first < n; first += block_rows) {
    const int rows = std::min(block_rows, n - first);
    product_with_transpose(queries.data() + static_cast<long long>(first) * d, rows, gallery.data(), m, d,
                           similarities.data());
    select_topk<<<rows, topk_threads, 0, cuda::detail::stream()>>>(similarities.data(), m, kk, first,
                                                                   best_scores.data(), best_indices.data());
    PROTOOT_CUDA_CHECK_LAUNCH(select_topk);
  }
  TopK<S> result{IndexMatrix(n, kk), Matrix<S>(n, kk)};
  best_scores.download(result.scores.data(), best_scores.size());
  Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> indices(n, kk);
  best_indices.download(indices.data(), best_indices.size());
  result.indices = indices.cast<Index>();
  return result;
}

}  // namespace detail
}  // namespace cuda

/// Exact top-k maximum inner product search on the GPU: for each query row (n x d) the k gallery
/// rows (m x d) with the largest <q, g>, best first (score descending, index ascending), as the
/// CPU inner_product_topk. Requires 1 <= k <= min(m, cuda::max_topk), equal d, finite data.
/// Time: the n x m x d GEMM (cuBLAS) plus one read of each score; device memory
/// O(min(n m, 2^26) + n k). Results are returned to the host.
template <class S>
TopK<S> inner_product_topk(const cuda::DeviceMatrix<S>& queries, const cuda::DeviceMatrix<S>& gallery, Index k) {
  constexpr const char* where = "cuda::inner_product_topk";
  cuda::detail::validate_topk(where, queries, gallery, k);
  cuda::DeviceBuffer<S> norms(static_cast<std::size_t>(std::max(queries.rows(), gallery.rows())), "row norms");
  cuda::detail::require_finite_rows(queries, where, "queries", norms, cuda::detail::NormTerm::squared);
  cuda::detail::require_finite_rows(gallery, where, "gallery", norms, cuda::detail::NormTerm::squared);
  return cuda::detail::search(queries, gallery, k);
}

/// Exact top-k by cosine similarity on the GPU: inner_product_topk on L2-normalised copies of
/// the rows (zero rows throw std::invalid_argument), as the CPU cosine_topk.
template <class S>
TopK<S> cosine_topk(const cuda::DeviceMatrix<S>& queries, const cuda::DeviceMatrix<S>& gallery, Index k) {
  constexpr const char* where = "cuda::cosine_topk";
  cuda::detail::validate_topk(where, queries, gallery, k);
  return cuda::detail::search(cuda::detail::unit_rows(queries, where, "queries"),
                              cuda::detail::unit_rows(gallery, where, "gallery"), k);
}

}  // namespace protoot
