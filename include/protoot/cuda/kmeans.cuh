// protoot/cuda/kmeans.cuh — K-means (Lloyd) with the points on the GPU.
//
// Same options, result and semantics as the CPU protoot::kmeans (kmeans.hpp): the restart loop,
// the seeding (k-means++, random, warm start) and the Lloyd loop are the CPU's
// (detail::kmeans_restarts, kmeans_plus_plus, random_points, lloyd_iterations) run over
// DeviceLloyd, the point set on the device, as faiss's Clustering::train runs over any index.
// X never leaves the device: only k x d centroids and cluster sums, k masses, the seeding's
// candidate rows and potentials, scalars and the final labels cross to the host.
//  - checks: one reduction over X (finite entries), one over the squared row norms (overflow);
//  - assignment: one cuBLAS GEMM X C^T per block of rows, then a fused argmin over the k
//    scores ||c||^2 - 2 x.c (lowest index on ties, as the CPU) that also yields distances;
//  - update: a segmented reduction of the rows by label — block (cluster c, row chunk) sums the
//    rows labelled c in index order, in double; chunks are merged in order, so the sums (and
//    the labels that follow) do not depend on scheduling;
//  - stopping: the labels are compared with the previous pass on the device (one flag);
//  - k-means++: the CPU's generator draws; a draw picks the row where the running sum of
//    w_i D_i^2 passes it, over 1024-row chunks whose masses are block reductions, so a draw
//    within rounding of a boundary may pick the neighbouring row (as the MPI back end);
//  - empty clusters take the farthest points (the CPU's rule; ties to the lowest index), one
//    argmax reduction each.
// Spherical mode works on a unit-row copy of X made on the device: rows of unit norm are divided
// by their computed norm too, and a row whose squared norm overflows is rejected (the CPU
// rescales it). Include from a .cu file.
#pragma once

#include <algorithm>
#include <climits>
#include <limits>
#include <utility>
#include <vector>

#include "protoot/cuda/detail/blas.hpp"
#include "protoot/cuda/detail/reduction.cuh"
#include "protoot/cuda/detail/row_norms.cuh"
#include "protoot/cuda/detail/sinkhorn_kernels.cuh"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/cuda/l2_normalise.cuh"
#include "protoot/kmeans.hpp"

namespace protoot {
namespace cuda::detail {

constexpr int kmeans_threads = 256;
constexpr long long kmeans_block_entries = 1LL << 26;  // point-centroid products per GEMM block
constexpr int seeding_chunk_rows = 1024;               // rows per chunk mass of a k-means++ draw

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

/// Block (chunk, dim block): partial[chunk][dim] = sum of x over the chunk's rows,
/// partial[chunk][d + dim] = sum of x^2, in double and index order.
template <class S>
__global__ void column_moments(const S* X, int n, int d, int rows_per_chunk, double* partial) {
  const int chunk = blockIdx.x, dim = blockIdx.y * blockDim.x + threadIdx.x;
  if (dim >= d) return;
  double sum = 0, squares = 0;
  for (int i = chunk * rows_per_chunk; i < min(n, (chunk + 1) * rows_per_chunk); ++i) {
    const double x = double(X[static_cast<long long>(i) * d + dim]);
    sum += x;
    squares += x * x;
  }
  partial[static_cast<long long>(chunk) * 2 * d + dim] = sum;
  partial[static_cast<long long>(chunk) * 2 * d + d + dim] = squares;
}

/// A point's k-means++ sampling mass w_i closest_i (closest null: every point at distance 1).
template <class S>
__device__ double seeding_mass(const S* weights, const S* closest, long long i) {
  return (weights ? double(weights[i]) : 1.0) * (closest ? double(closest[i]) : 1.0);
}

/// chunk_mass[c] = sum of the sampling masses of rows [c, c + 1) * seeding_chunk_rows.
template <class S>
__global__ void seeding_chunk_masses(const S* weights, const S* closest, int n, double* chunk_mass) {
  const long long begin = static_cast<long long>(blockIdx.x) * seeding_chunk_rows;
  const long long end = min(static_cast<long long>(n), begin + seeding_chunk_rows);
  Sum<double> acc;
  for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) acc.add(seeding_mass(weights, closest, i));
  acc = block_reduce(acc);
  if (threadIdx.x == 0) chunk_mass[blockIdx.x] = acc.sum;
}

/// ids[t] = the first row whose running sampling mass exceeds draws[t] * total (the CPU's
/// sample_by_mass): the chunk from the chunk masses in order, then the row within it (the
/// chunk's last row if rounding leaves the target unreached). One thread per draw.
template <class S>
__global__ void draw_rows(const S* weights, const S* closest, int n, const double* chunk_mass, int chunks,
                          const double* draws, int count, int* ids) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= count) return;
  double total = 0;
  for (int c = 0; c < chunks; ++c) total += chunk_mass[c];
  const double target = draws[t] * total;
  double run = 0;
  int chunk = 0;
  while (chunk < chunks - 1 && !(run + chunk_mass[chunk] > target)) run += chunk_mass[chunk++];
  const int begin = chunk * seeding_chunk_rows, end = min(n, begin + seeding_chunk_rows);
  int row = end - 1;
  for (int i = begin; i < end; ++i)
    if ((run += seeding_mass(weights, closest, i)) > target) {
      row = i;
      break;
    }
  ids[t] = row;
}

/// out (count x d) = the rows ids of X (n x d).
template <class S>
__global__ void gather_rows(const S* X, int d, const int* ids, int count, S* out) {
  const long long total = static_cast<long long>(count) * d;
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<long long>(gridDim.x) * blockDim.x)
    out[e] = X[static_cast<long long>(ids[e / d]) * d + e % d];
}

/// D (n x m, holding the products x_i.c_j) <- max(0, -2 x_i.c_j + ||x_i||^2 + ||c_j||^2), capped
/// by closest_i when closest is given: the CPU's distances_to_candidates, term for term.
template <class S>
__global__ void candidate_distances(S* D, long long n, int m, const S* norms, const S* candidate_norms,
                                    const S* closest) {
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < n * m;
       e += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long i = e / m;
    const S d2 = max(S(0), S(-2) * D[e] + norms[i] + candidate_norms[e % m]);
    D[e] = closest ? min(d2, closest[i]) : d2;
  }
}

/// potential[j] = sum_i w_i D_ij (double), one block per candidate j.
template <class S>
__global__ void weighted_column_sums(const S* D, int n, int m, const S* weights, double* potential) {
  const int j = blockIdx.x;
  Sum<double> acc;
  for (long long i = threadIdx.x; i < n; i += blockDim.x)
    acc.add((weights ? double(weights[i]) : 1.0) * double(D[i * m + j]));
  acc = block_reduce(acc);
  if (threadIdx.x == 0) potential[j] = acc.sum;
}

/// closest_i = D_ij (n x m) for the kept candidate j.
template <class S>
__global__ void take_column(const S* D, int n, int m, int j, S* closest) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) closest[i] = D[i * m + j];
}

/// The farthest point so far: larger distance first, lower index on ties (block_reduce's accumulator).
template <class S>
struct Farthest {
  S distance = -std::numeric_limits<S>::infinity();
  int index = INT_MAX;

  __device__ void merge(const Farthest& other) {
    if (other.distance > distance || (other.distance == distance && other.index < index)) *this = other;
  }
  __device__ Farthest shuffle_xor(int lane_mask) const {
    return Farthest{__shfl_xor_sync(0xffffffffu, distance, lane_mask), __shfl_xor_sync(0xffffffffu, index, lane_mask)};
  }
};

/// Moves the farthest point (by distances; taken points hold -inf) into cluster `to`:
/// picked = {its index, its previous label}; its distance becomes -inf. One block.
template <class S>
__global__ void take_farthest_point(S* distances, int n, int* labels, int to, int* picked) {
  Farthest<S> acc;
  for (int i = threadIdx.x; i < n; i += blockDim.x) acc.merge(Farthest<S>{distances[i], i});
  acc = block_reduce(acc);
  if (threadIdx.x != 0) return;
  picked[0] = acc.index;
  picked[1] = labels[acc.index];
  labels[acc.index] = to;
  distances[acc.index] = -std::numeric_limits<S>::infinity();
}

/// *changed = 1 when a and b differ somewhere in [0, n).
__global__ void any_difference(const int* a, const int* b, int n, int* changed) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n && a[i] != b[i]) *changed = 1;
}

/// Grows `buffer` to at least `count` elements (contents undefined after growth).
template <class T>
void reserve(DeviceBuffer<T>& buffer, std::size_t count, const char* what) {
  if (buffer.size() < count) buffer = DeviceBuffer<T>(count, what);
}

/// The point set of one K-means problem on the device (X, weights, squared norms) and its
/// workspaces: the Lloyd assign step, and the members of the CPU's HostPoints
/// (detail/kmeans_impl.hpp) that the restart loop and the seeding run on.
template <class S>
class DeviceLloyd {
 public:
  DeviceLloyd(const DeviceMatrix<S>& X, Index k, const KMeansOptions<S>& options)
      : X_(X),
        n_(static_cast<int>(X.rows())),
        d_(static_cast<int>(X.cols())),
        k_(static_cast<int>(k)),
        spherical_(options.spherical),
        host_weights_(options.weights.size() ? &options.weights : nullptr),
        block_rows_(static_cast<int>(std::max<long long>(1, std::min<long long>(n_, kmeans_block_entries / k_)))),
        centroids_(static_cast<std::size_t>(k_) * d_, "centroids"),
        terms_(k_, "centroid norms"),
        norms_(n_, "point norms"),
        products_(static_cast<std::size_t>(block_rows_) * k_, "point-centroid products"),
        labels_(n_, "labels"),
        previous_labels_(n_, "previous labels"),
        distances_(n_, "distances"),
        inertia_terms_(n_, "inertia terms"),
        inertia_(1),
        chunks_(std::max(1, std::min(n_ / 1024 + 1, 64))),
        rows_per_chunk_((n_ + chunks_ - 1) / chunks_),
        partial_(static_cast<std::size_t>(chunks_) * k_ * d_, "cluster partial sums"),
        mass_partial_(static_cast<std::size_t>(chunks_) * k_, "cluster partial masses"),
        sums_(static_cast<std::size_t>(k_) * d_, "cluster sums"),
        mass_(k_, "cluster masses"),
        seeding_chunks_((n_ + seeding_chunk_rows - 1) / seeding_chunk_rows),
        chunk_mass_(static_cast<std::size_t>(seeding_chunks_), "k-means++ chunk masses"),
        closest_(n_, "k-means++ closest distances") {
    if (host_weights_) weights_ = to_device(*host_weights_);
    // a norm that overflows is reported by max_squared_norm(), as on the CPU, not as bad data
    row_norm_terms<<<(n_ + 255) / 256, 256, 0, stream()>>>(X_.data(), n_, d_, NormTerm::squared, norms_.data(),
                                                           cleared_flag());
    PROTOOT_CUDA_CHECK_LAUNCH(row_norm_terms);
  }

  Index rows() const { return n_; }
  Index cols() const { return d_; }
  double max_squared_norm() const {
    const auto [largest, finite] = summarise_values(norms_.data(), n_);
    return finite ? double(largest) : std::numeric_limits<double>::infinity();
  }
  double mean_feature_variance() const {
    DeviceBuffer<double> partial(static_cast<std::size_t>(chunks_) * 2 * d_, "column moments");
    column_moments<<<dim3(chunks_, (d_ + 255) / 256), 256, 0, stream()>>>(X_.data(), n_, d_, rows_per_chunk_,
                                                                          partial.data());
    PROTOOT_CUDA_CHECK_LAUNCH(column_moments);
    std::vector<double> host(partial.size());
    partial.download(host.data(), host.size());
    double variance = 0;
    for (int dim = 0; dim < d_; ++dim) {
      double sum = 0, squares = 0;
      for (int chunk = 0; chunk < chunks_; ++chunk) {
        sum += host[static_cast<std::size_t>(chunk) * 2 * d_ + dim];
        squares += host[static_cast<std::size_t>(chunk) * 2 * d_ + d_ + dim];
      }
      variance += squares / n_ - (sum / n_) * (sum / n_);
    }
    return variance / d_;
  }
  Matrix<S> gather(const std::vector<Index>& ids) const {
    DeviceBuffer<S> rows(ids.size() * d_, "gathered rows");
    gather_to(ids, rows);
    Matrix<S> host(static_cast<Index>(ids.size()), d_);
    rows.download(host.data(), static_cast<std::size_t>(host.size()));
    return host;
  }

  void start_seeding() { seeded_ = false; }
  void draw_candidates(const std::vector<double>& draws) {
    const int count = static_cast<int>(draws.size());
    const S* closest = seeded_ ? closest_.data() : nullptr;
    seeding_chunk_masses<<<seeding_chunks_, 256, 0, stream()>>>(weights_.data(), closest, n_, chunk_mass_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(seeding_chunk_masses);
    reserve(draws_, draws.size(), "k-means++ draws");
    reserve(candidate_ids_, draws.size(), "k-means++ candidates");
    draws_.upload(draws.data(), draws.size());
    draw_rows<<<(count + 255) / 256, 256, 0, stream()>>>(weights_.data(), closest, n_, chunk_mass_.data(),
                                                         seeding_chunks_, draws_.data(), count, candidate_ids_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(draw_rows);
    gather_ids(candidate_ids_, count, candidates_);
    candidate_count_ = count;
  }
  std::vector<double> candidate_potentials(bool capped) {
    const int m = candidate_count_;
    reserve(candidate_distances_, static_cast<std::size_t>(n_) * m, "k-means++ candidate distances");
    reserve(candidate_norms_, static_cast<std::size_t>(m), "k-means++ candidate norms");
    reserve(potentials_, static_cast<std::size_t>(m), "k-means++ potentials");
    row_norm_terms<<<(m + 255) / 256, 256, 0, stream()>>>(candidates_.data(), m, d_, NormTerm::squared,
                                                          candidate_norms_.data(), cleared_flag());
    PROTOOT_CUDA_CHECK_LAUNCH(row_norm_terms);
    product_with_transpose(X_.data(), n_, candidates_.data(), m, d_, candidate_distances_.data());
    candidate_distances<<<grid_stride_blocks(static_cast<long long>(n_) * m), 256, 0, stream()>>>(
        candidate_distances_.data(), n_, m, norms_.data(), candidate_norms_.data(), capped ? closest_.data() : nullptr);
    PROTOOT_CUDA_CHECK_LAUNCH(candidate_distances);
    weighted_column_sums<<<m, 256, 0, stream()>>>(candidate_distances_.data(), n_, m, weights_.data(),
                                                  potentials_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(weighted_column_sums);
    std::vector<double> host(static_cast<std::size_t>(m));
    potentials_.download(host.data(), host.size());
    return host;
  }
  Matrix<S> keep_candidate(Index j) {
    take_column<<<(n_ + 255) / 256, 256, 0, stream()>>>(candidate_distances_.data(), n_, candidate_count_,
                                                        static_cast<int>(j), closest_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(take_column);
    seeded_ = true;
    Matrix<S> row(1, d_);
    candidates_.download(row.data(), static_cast<std::size_t>(d_), static_cast<std::size_t>(j) * d_);
    return row;
  }

  /// Before each Lloyd run: the next labels_unchanged() has no previous labels to compare with.
  void start_run() { have_previous_ = false; }

  /// One assignment pass; fills labels, distances (device) and, when `next`, the cluster sums.
  double assign(const Matrix<S>& C, protoot::detail::ClusterSums* next) {
    centroids_.upload(C.data(), static_cast<std::size_t>(C.size()));
    centroid_terms<<<(k_ + 127) / 128, 128, 0, stream()>>>(centroids_.data(), k_, d_, spherical_, terms_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(centroid_terms);
    for (int first = 0; first < n_; first += block_rows_) {
      const int rows = std::min(block_rows_, n_ - first);
      product_with_transpose(X_.data() + static_cast<long long>(first) * d_, rows, centroids_.data(), k_, d_,
                             products_.data());
      nearest_centroid<<<(rows + kmeans_threads - 1) / kmeans_threads, kmeans_threads, 0, stream()>>>(
          products_.data(), rows, k_, first, terms_.data(), norms_.data(), weights_.data(), spherical_, labels_.data(),
          distances_.data(), inertia_terms_.data());
      PROTOOT_CUDA_CHECK_LAUNCH(nearest_centroid);
    }
    if (next) cluster_sums(*next);
    sum_kernel<<<1, 1024, 0, stream()>>>(inertia_terms_.data(), n_, inertia_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(sum_kernel);
    return to_host_value(inertia_.data());
  }

  /// The CPU's relocate_empty_clusters on device data: each empty cluster (in index order) takes
  /// the farthest remaining point, whose row and weight leave its cluster's sums.
  void relocate_empty_clusters(protoot::detail::ClusterSums& next) {
    std::vector<int> empty;
    for (int j = 0; j < k_; ++j)
      if (!(next.mass(j) > 0)) empty.push_back(j);
    for (const int to : empty) {
      int* picked = current_resources().scratch<int>(2);
      take_farthest_point<<<1, 1024, 0, stream()>>>(distances_.data(), n_, labels_.data(), to, picked);
      PROTOOT_CUDA_CHECK_LAUNCH(take_farthest_point);
      int host[2];
      to_host_values(picked, 2, host);
      const int i = host[0], from = host[1];
      Matrix<S> row(1, d_);
      to_host_values(X_.data() + static_cast<long long>(i) * d_, static_cast<std::size_t>(d_), row.data());
      const double w = host_weights_ ? double((*host_weights_)(i)) : 1.0;
      const Eigen::RowVectorXd x = row.row(0).template cast<double>();
      next.sums.row(from) -= w * x;
      next.mass(from) -= w;
      next.sums.row(to) = w * x;
      next.mass(to) = w;
    }
  }

  /// Whether the labels equal the previous pass's of this run; they become the previous ones.
  bool labels_unchanged() {
    bool unchanged = false;
    if (have_previous_) {
      int* changed = cleared_flag();
      any_difference<<<(n_ + 255) / 256, 256, 0, stream()>>>(labels_.data(), previous_labels_.data(), n_, changed);
      PROTOOT_CUDA_CHECK_LAUNCH(any_difference);
      unchanged = to_host_value(changed) == 0;
    }
    std::swap(labels_, previous_labels_);
    have_previous_ = true;
    return unchanged;
  }

  IndexVector labels() const {
    std::vector<int> host(static_cast<std::size_t>(n_));
    labels_.download(host.data(), host.size());
    IndexVector labels(n_);
    for (int i = 0; i < n_; ++i) labels(i) = host[static_cast<std::size_t>(i)];
    return labels;
  }

 private:
  void gather_to(const std::vector<Index>& ids, DeviceBuffer<S>& rows) const {
    const std::vector<int> narrow(ids.begin(), ids.end());  // ids < n < 2^31
    DeviceBuffer<int> device_ids(narrow.size(), "row ids");
    device_ids.upload(narrow.data(), narrow.size());
    gather_ids(device_ids, static_cast<int>(narrow.size()), rows);
  }
  void gather_ids(const DeviceBuffer<int>& ids, int count, DeviceBuffer<S>& rows) const {
    reserve(rows, static_cast<std::size_t>(count) * d_, "gathered rows");
    gather_rows<<<grid_stride_blocks(static_cast<long long>(count) * d_), 256, 0, stream()>>>(X_.data(), d_, ids.data(),
                                                                                              count, rows.data());
    PROTOOT_CUDA_CHECK_LAUNCH(gather_rows);
  }

  void cluster_sums(protoot::detail::ClusterSums& next) {
    const int dim_threads = std::min(kmeans_threads, (d_ + 31) / 32 * 32);
    const dim3 grid(k_, chunks_, (d_ + dim_threads - 1) / dim_threads);
    cluster_partial_sums<<<grid, dim_threads, 0, stream()>>>(
        X_.data(), n_, d_, labels_.data(), weights_.data(), rows_per_chunk_, k_, partial_.data(), mass_partial_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(cluster_partial_sums);
    const long long entries = static_cast<long long>(k_) * d_;
    merge_cluster_sums<<<static_cast<int>((std::max<long long>(entries, k_) + 255) / 256), 256, 0, stream()>>>(
        partial_.data(), mass_partial_.data(), chunks_, k_, d_, sums_.data(), mass_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(merge_cluster_sums);
    next.sums.resize(k_, d_);
    next.mass.resize(k_);
    sums_.download(next.sums.data(), static_cast<std::size_t>(entries));
    mass_.download(next.mass.data(), static_cast<std::size_t>(k_));
  }

  const DeviceMatrix<S>& X_;
  int n_, d_, k_;
  bool spherical_;
  const Vector<S>* host_weights_;  // null: all ones
  int block_rows_;
  DeviceBuffer<S> weights_, centroids_, terms_, norms_, products_;
  DeviceBuffer<int> labels_, previous_labels_;
  bool have_previous_ = false;
  DeviceBuffer<S> distances_;
  DeviceBuffer<double> inertia_terms_, inertia_;
  int chunks_, rows_per_chunk_;
  DeviceBuffer<double> partial_, mass_partial_, sums_, mass_;
  // k-means++ state
  int seeding_chunks_;
  DeviceBuffer<double> chunk_mass_, draws_, potentials_;
  DeviceBuffer<S> closest_, candidates_, candidate_norms_, candidate_distances_;
  DeviceBuffer<int> candidate_ids_;
  int candidate_count_ = 0;
  bool seeded_ = false;
};

/// One Lloyd run from `centroids` on the device: the CPU's loop (lloyd_iterations: stopping
/// rules, callback, update) with the GPU assign step; the labels stay on the device until the end.
template <class S>
void lloyd(DeviceLloyd<S>& points, Matrix<S> centroids, const KMeansOptions<S>& options, double shift_tolerance,
           int restart, KMeansResult<S>& result) {
  IndexVector host_labels;  // lloyd_iterations' host labels: unused, the device compares its own
  points.start_run();
  protoot::detail::lloyd_iterations(
      centroids, options.spherical, options, shift_tolerance, restart, result, host_labels,
      [&](protoot::detail::ClusterSums& next) {
        const double inertia = points.assign(centroids, &next);
        points.relocate_empty_clusters(next);
        return inertia;
      },
      [&](const IndexVector&) { return points.labels_unchanged(); });
  const double inertia = points.assign(centroids, nullptr);
  protoot::detail::finish_lloyd(options.weights.size() ? &options.weights : nullptr, points.labels(),
                                std::move(centroids), inertia, result);
}

}  // namespace cuda::detail

/// K-means of the rows of X (n x d) on the GPU: the CPU protoot::kmeans's contract, options and
/// result (seeding, restarts, warm start, weights, spherical mode, empty-cluster relocation),
/// with every pass over X on the device; see the file comment. Same seed and options give the
/// same generator draws as the CPU, hence the same starting centroids and labels up to rounding
/// at near-ties. Per iteration: an n k d GEMM, one read of X for the sums, k x d sums and k
/// masses to the host; k-means++ adds an n x trials GEMM and n x trials distances per centre.
/// X itself is never copied to the host. Throws std::invalid_argument as the CPU version,
/// protoot::cuda::Error on device failures.
template <class S>
KMeansResult<S> kmeans(const cuda::DeviceMatrix<S>& X, Index k, const KMeansOptions<S>& options = {}) {
  constexpr const char* where = "cuda::kmeans";
  detail::require(!X.empty(), where, "X is empty");
  detail::require(X.rows() < (Index(1) << 31) && X.cols() < (Index(1) << 31), where, "X is too large");
  detail::validate_kmeans_arguments<S>(X.rows(), X.cols(), k, options);
  detail::require(options.max_points_per_centroid == 0, where,
                  "max_points_per_centroid (training on a sample) is protoot::kmeans only: pass a sample instead");
  detail::require(cuda::detail::summarise_values(X.data(), static_cast<long long>(X.size())).second, where,
                  "X contains NaN or Inf");
  const cuda::DeviceMatrix<S> unit =
      options.spherical ? cuda::detail::unit_rows(X, where, "X") : cuda::DeviceMatrix<S>();
  cuda::detail::DeviceLloyd<S> points(options.spherical ? unit : X, k, options);
  return detail::kmeans_restarts(
      points, k, options, where, [&](Matrix<S> start, double shift_tolerance, int restart, KMeansResult<S>& result) {
        cuda::detail::lloyd(points, std::move(start), options, shift_tolerance, restart, result);
      });
}

}  // namespace protoot
