// protoot/cuda/kmeans.cuh — K-means (Lloyd) with the points on the GPU.
//
// Same options, result and semantics as the CPU protoot::kmeans (kmeans.hpp), which this file
// builds on: seeding (k-means++ / random / warm start), empty-cluster relocation and the
// centroid update run on the host through the CPU code on k x d data, so both backends start
// from the same centroids for the same seed. The O(n k d) work runs on the device:
//  - assignment: one cuBLAS GEMM X C^T per block of rows, then a fused argmin over the k
//    scores ||c||^2 - 2 x.c (lowest index on ties, as the CPU) that also yields distances;
//  - update: a segmented reduction of the rows by label — block (cluster c, row chunk) sums the
//    rows labelled c in index order, in double; chunks are merged in order, so the sums (and
//    the labels that follow) do not depend on scheduling.
// The restart loop and the Lloyd loop are the CPU's (detail::kmeans_restarts, lloyd_iterations)
// with the GPU assign step plugged in, as faiss's Clustering::train runs over any index. The
// seeding reads a host copy of X (downloaded once per call); k-means++ therefore costs CPU time
// (k (2 + ln k) n d); warm starts and KMeansInit::random avoid it. Include from a .cu file.
#pragma once

#include <algorithm>
#include <vector>

#include "protoot/cuda/detail/blas.hpp"
#include "protoot/cuda/detail/reduction.cuh"
#include "protoot/cuda/detail/row_norms.cuh"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/kmeans.hpp"

namespace protoot {
namespace cuda::detail {

constexpr int kmeans_threads = 256;
constexpr long long kmeans_block_entries = 1LL << 26;  // point-centroid products per GEMM block

/// labels/distances of rows [first, first + rows) from their products with the centroids
/// (rows x k); inertia_terms[i] = w_i * distance_i in double. One thread per row.
template <class S>
__global__ void nearest_centroid(const S* products, int rows, int k, long long first, const S* centroid_terms,
                                 const S* squared_norms, const S* weights, bool spherical, int* labels,
                                 S* distances, double* inertia_terms) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const long long i = first + r;
  const S* row = products + static_cast<long long>(r) * k;
  int best = 0;
  S best_score = centroid_terms[0] - S(2) * row[0];
  for (int j = 1; j < k; ++j) {
    const S score = centroid_terms[j] - S(2) * row[j];
    if (score < best_score) {  // strict: the lowest index wins ties
      best_score = score;
      best = j;
    }
  }
  const S distance = spherical ? S(1) + best_score / S(2) : max(S(0), squared_norms[i] + best_score);
  labels[i] = best;
  distances[i] = distance;
  inertia_terms[i] = double(weights ? weights[i] : S(1)) * double(distance);
}

/// Block (c, chunk, dim block): partial[chunk][c][dims] = sum of w_i x_i over rows i of the chunk
/// with label c, in index order; mass_partial[chunk][c] = sum of their w_i.
template <class S>
__global__ void cluster_partial_sums(const S* X, int n, int d, const int* labels, const S* weights,
                                     int rows_per_chunk, int k, double* partial, double* mass_partial) {
  const int c = blockIdx.x, chunk = blockIdx.y;
  const int dim = blockIdx.z * blockDim.x + threadIdx.x;
  const int begin = chunk * rows_per_chunk, end = min(n, begin + rows_per_chunk);
  double sum = 0, mass = 0;
  for (int i = begin; i < end; ++i) {
    if (labels[i] != c) continue;  // uniform across the block: every thread reads the same label
    const double w = weights ? double(weights[i]) : 1.0;
    if (dim < d) sum += w * double(X[static_cast<long long>(i) * d + dim]);
    mass += w;
  }
  const long long slot = static_cast<long long>(chunk) * k + c;
  if (dim < d) partial[slot * d + dim] = sum;
  if (blockIdx.z == 0 && threadIdx.x == 0) mass_partial[slot] = mass;
}

/// sums[c][dim] (and mass[c]) = the chunk partials added in chunk order.
__global__ void merge_cluster_sums(const double* partial, const double* mass_partial, int chunks, int k, int d,
                                   double* sums, double* mass) {
  const long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < static_cast<long long>(k) * d) {
    double total = 0;
    for (int chunk = 0; chunk < chunks; ++chunk) total += partial[static_cast<long long>(chunk) * k * d + e];
    sums[e] = total;
  }
  if (e < k) {
    double total = 0;
    for (int chunk = 0; chunk < chunks; ++chunk) total += mass_partial[static_cast<long long>(chunk) * k + e];
    mass[e] = total;
  }
}

template <class S>
__global__ void centroid_terms(const S* C, int k, int d, bool spherical, S* terms) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= k) return;
  S squared = 0;
  for (int t = 0; t < d; ++t) squared += C[static_cast<long long>(j) * d + t] * C[static_cast<long long>(j) * d + t];
  terms[j] = spherical ? S(0) : squared;  // spherical: argmin -x.c, the CPU's rule
}

/// Device state of one K-means problem: the points, their weights and norms, the workspaces.
template <class S>
class DeviceLloyd {
 public:
  DeviceLloyd(const DeviceMatrix<S>& X, Index k, const Vector<S>& weights, bool spherical)
      : X_(X), n_(static_cast<int>(X.rows())), d_(static_cast<int>(X.cols())), k_(static_cast<int>(k)),
        spherical_(spherical),
        block_rows_(static_cast<int>(std::max<long long>(1, std::min<long long>(n_, kmeans_block_entries / k_)))),
        centroids_(static_cast<std::size_t>(k_) * d_, "centroids"), terms_(k_, "centroid norms"),
        norms_(n_, "point norms"), products_(static_cast<std::size_t>(block_rows_) * k_, "point-centroid products"),
        labels_(n_, "labels"), distances_(n_, "distances"), inertia_terms_(n_, "inertia terms"), inertia_(1),
        chunks_(std::max(1, std::min(n_ / 1024 + 1, 64))), rows_per_chunk_((n_ + chunks_ - 1) / chunks_),
        partial_(static_cast<std::size_t>(chunks_) * k_ * d_, "cluster partial sums"),
        mass_partial_(static_cast<std::size_t>(chunks_) * k_, "cluster partial masses"),
        sums_(static_cast<std::size_t>(k_) * d_, "cluster sums"), mass_(k_, "cluster masses") {
    if (weights.size()) weights_ = to_device(weights);
    require_finite_rows(X, "cuda::kmeans", "X", norms_, NormTerm::squared);
  }

  /// One assignment pass; fills labels, distances (device) and, when `next`, the cluster sums.
  double assign(const Matrix<S>& C, protoot::detail::ClusterSums* next) {
    centroids_.upload(C.data(), static_cast<std::size_t>(C.size()));
    centroid_terms<<<(k_ + 127) / 128, 128, 0, cuda::detail::stream()>>>(centroids_.data(), k_, d_, spherical_,
                                                                         terms_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(centroid_terms);
    for (int first = 0; first < n_; first += block_rows_) {
      const int rows = std::min(block_rows_, n_ - first);
      product_with_transpose(X_.data() + static_cast<long long>(first) * d_, rows, centroids_.data(), k_, d_,
                             products_.data());
      nearest_centroid<<<(rows + kmeans_threads - 1) / kmeans_threads, kmeans_threads, 0, cuda::detail::stream()>>>(
          products_.data(), rows, k_, first, terms_.data(), norms_.data(), weights_.data(), spherical_, labels_.data(),
          distances_.data(), inertia_terms_.data());
      PROTOOT_CUDA_CHECK_LAUNCH(nearest_centroid);
    }
    if (next) cluster_sums(*next);
    sum_kernel<<<1, 1024, 0, cuda::detail::stream()>>>(inertia_terms_.data(), n_, inertia_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(sum_kernel);
    double inertia = 0;
    inertia_.download(&inertia, 1);
    return inertia;
  }

  IndexVector labels() const {
    std::vector<int> host(static_cast<std::size_t>(n_));
    labels_.download(host.data(), host.size());
    IndexVector labels(n_);
    for (int i = 0; i < n_; ++i) labels(i) = host[static_cast<std::size_t>(i)];
    return labels;
  }
  Vector<S> distances() const { return to_host(distances_, n_); }

 private:
  void cluster_sums(protoot::detail::ClusterSums& next) {
    const int dim_threads = std::min(kmeans_threads, (d_ + 31) / 32 * 32);
    const dim3 grid(k_, chunks_, (d_ + dim_threads - 1) / dim_threads);
    cluster_partial_sums<<<grid, dim_threads, 0, cuda::detail::stream()>>>(
        X_.data(), n_, d_, labels_.data(), weights_.data(), rows_per_chunk_, k_, partial_.data(), mass_partial_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(cluster_partial_sums);
    const long long entries = static_cast<long long>(k_) * d_;
    merge_cluster_sums<<<static_cast<int>((std::max<long long>(entries, k_) + 255) / 256), 256, 0,
                         cuda::detail::stream()>>>(partial_.data(), mass_partial_.data(), chunks_, k_, d_, sums_.data(),
                                                   mass_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(merge_cluster_sums);
    next.sums.resize(k_, d_);
    next.mass.resize(k_);
    sums_.download(next.sums.data(), static_cast<std::size_t>(entries));
    mass_.download(next.mass.data(), static_cast<std::size_t>(k_));
  }

  const DeviceMatrix<S>& X_;
  int n_, d_, k_;
  bool spherical_;
  int block_rows_;
  DeviceBuffer<S> weights_, centroids_, terms_, norms_, products_;
  DeviceBuffer<int> labels_;
  DeviceBuffer<S> distances_;
  DeviceBuffer<double> inertia_terms_, inertia_;
  int chunks_, rows_per_chunk_;
  DeviceBuffer<double> partial_, mass_partial_, sums_, mass_;
};

/// One Lloyd run from `centroids` on the device: the CPU's loop (lloyd_iterations: stopping
/// rules, callback, update) with the GPU assign step; relocation of empty clusters on the host.
template <class S>
void lloyd(DeviceLloyd<S>& device, const protoot::detail::KMeansData<S>& data, Matrix<S> centroids,
           const KMeansOptions<S>& options, double shift_tolerance, int restart, KMeansResult<S>& result) {
  const Index n = data.X.rows();
  IndexVector labels;
  protoot::detail::lloyd_iterations(
      centroids, data.spherical, options, shift_tolerance, restart, result, labels,
      [&](protoot::detail::ClusterSums& next) {
        const double inertia = device.assign(centroids, &next);
        labels = device.labels();
        if (!(next.mass.array() > 0).all()) {  // the distances cross to the host only then
          Vector<S> distances = device.distances();
          protoot::detail::relocate_empty_clusters(data, labels, distances, next);
        }
        return inertia;
      },
      [&](const IndexVector& previous) { return previous.size() == n && labels == previous; });
  const double inertia = device.assign(centroids, nullptr);
  protoot::detail::finish_lloyd(data, device.labels(), std::move(centroids), inertia, result);
}

}  // namespace cuda::detail

/// K-means of the rows of X (n x d) on the GPU: the CPU protoot::kmeans's contract, options and
/// result (seeding, restarts, warm start, weights, spherical mode, empty-cluster relocation),
/// with the assignment (GEMM + fused argmin) and the centroid sums on the device; see the file
/// comment. Same seed and options give the same starting centroids as the CPU, hence the same
/// labels up to rounding of the products at near-ties. Per iteration: an n k d GEMM, one read of
/// X for the sums, O(n) bytes to the host (labels). Throws std::invalid_argument as the CPU
/// version, protoot::cuda::Error on device failures.
template <class S>
KMeansResult<S> kmeans(const cuda::DeviceMatrix<S>& X, Index k, const KMeansOptions<S>& options = {}) {
  constexpr const char* where = "cuda::kmeans";
  detail::require(!X.empty(), where, "X is empty");
  detail::require(X.rows() < (Index(1) << 31) && X.cols() < (Index(1) << 31), where, "X is too large");
  const Matrix<S> host = X.download();  // seeding and the CPU's argument checks
  detail::validate_kmeans<S>(host, k, options);
  const Matrix<S> unit = detail::unit_rows_copy<S>(host, options.spherical, where);
  const Matrix<S>& points = unit.size() ? unit : host;
  const cuda::DeviceMatrix<S> unit_device = unit.size() ? cuda::DeviceMatrix<S>(unit) : cuda::DeviceMatrix<S>();
  cuda::detail::DeviceLloyd<S> device(unit.size() ? unit_device : X, k, options.weights, options.spherical);
  const detail::KMeansData<S> data{points, points.rowwise().squaredNorm(),
                                   options.weights.size() ? &options.weights : nullptr, options.spherical};
  return detail::kmeans_restarts(data, k, options, where,
                                 [&](Matrix<S> start, double shift_tolerance, int restart, KMeansResult<S>& result) {
                                   cuda::detail::lloyd(device, data, std::move(start), options, shift_tolerance,
                                                       restart, result);
                                 });
}

}  // namespace protoot
