// protoot/detail/kmeans_impl.hpp — definitions of protoot/kmeans.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

constexpr Index kmeans_block_rows = 512;
/// k-means++ candidates per centre: far above scikit-learn's 2 + ln k, and small enough that the
/// n x trials distance block cannot exhaust memory.
constexpr Index kmeans_max_local_trials = 1024;

/// Per-cluster accumulators of one pass (double, so float data sums without drift).
struct ClusterSums {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> sums;  // k x d, sum w x
  Eigen::VectorXd mass;                                                          // k, sum w
};

/// The point set K-means works on: X (rows unit in spherical mode), squared row norms, weights,
/// and for a memory-mapped X the hook that hands a row block's pages back once a pass is done
/// with it (empty for X in memory).
template <class Scalar>
struct KMeansData {
  Eigen::Ref<const Matrix<Scalar>> X;
  Vector<Scalar> squared_norms;
  const Vector<Scalar>* weights;  // null: all ones
  bool spherical;
  std::function<void(Index first, Index rows)> release = {};

  Scalar weight(Index i) const { return weights ? (*weights)(i) : Scalar(1); }
  void done_with(Index first, Index rows) const {
    if (release) release(first, rows);
  }
};

/// Row blocks are grouped into at most this many chunks, each run in order by one thread with
/// its own partial sums, reduced in chunk order: the count depends on n only, never on the
/// thread count, so 1 and 2 threads return bitwise identical results.
constexpr Index kmeans_max_chunks = 16;

inline Index kmeans_chunks(Index n) {
  return std::max<Index>(1, std::min(kmeans_max_chunks, (n + kmeans_block_rows - 1) / kmeans_block_rows));
}

/// Calls body(first_row, rows, chunk) for every row block of an n-row matrix, chunk in
/// [0, kmeans_chunks(n)); body must only write per-chunk or per-row state.
template <class Body>
void for_each_row_block(Index n, int threads, Body&& body) {
  const Index blocks = (n + kmeans_block_rows - 1) / kmeans_block_rows, chunks = kmeans_chunks(n);
PROTOOT_OMP(parallel for schedule(static, 1) num_threads(threads) if (threads > 1))
  for (Index chunk = 0; chunk < chunks; ++chunk)
    for (Index b = blocks * chunk / chunks; b < blocks * (chunk + 1) / chunks; ++b) {
      const Index first = b * kmeans_block_rows;
      body(first, std::min(kmeans_block_rows, n - first), static_cast<int>(chunk));
    }
}

/// Threads for a pass of `work` multiply-adds over n rows (see threads_for).
inline int kmeans_threads(Index n, Index work) { return threads_for(work, kmeans_chunks(n)); }

/// Nearest-centroid pass: labels and distances of every point for centroids C, returns the
/// inertia; when `next` is given also accumulates the weighted sums and masses per cluster.
template <class Scalar>
double assign_to_centroids(const KMeansData<Scalar>& data, const Matrix<Scalar>& C, IndexVector& labels,
                           Vector<Scalar>& distances, ClusterSums* next) {
  const Index n = data.X.rows(), d = data.X.cols(), k = C.rows();
  const int threads = kmeans_threads(n, n * d * k);
  // Euclidean: argmin ||c||^2 - 2 x.c ; spherical (unit rows): argmin -x.c, i.e. 0 - 2 x.c / 2.
  const Vector<Scalar> c_term = data.spherical ? Vector<Scalar>::Zero(k) : Vector<Scalar>(C.rowwise().squaredNorm());
  const auto chunks = static_cast<std::size_t>(kmeans_chunks(n));
  std::vector<Matrix<Scalar>> products(chunks);
  std::vector<ClusterSums> partial(next ? chunks : 0);
  std::vector<double> inertia(chunks, 0.0);
  for_each_row_block(n, threads, [&](Index first, Index rows, int t) {
    Matrix<Scalar>& G = products[std::size_t(t)];
    G.noalias() = data.X.middleRows(first, rows) * C.transpose();
    if (next && partial[std::size_t(t)].mass.size() == 0) {
      partial[std::size_t(t)].sums.setZero(k, d);
      partial[std::size_t(t)].mass.setZero(k);
    }
    for (Index r = 0; r < rows; ++r) {
      const Index i = first + r;
      Index best;
      const Scalar score = (c_term.transpose() - Scalar(2) * G.row(r)).minCoeff(&best);
      const Scalar dist = data.spherical ? Scalar(1) + score / Scalar(2)
                                         : std::max(Scalar(0), data.squared_norms(i) + score);
      labels(i) = best;
      distances(i) = dist;
      const Scalar w = data.weight(i);
      inertia[std::size_t(t)] += double(w) * double(dist);
      if (next) {
        partial[std::size_t(t)].sums.row(best) += double(w) * data.X.row(i).template cast<double>();
        partial[std::size_t(t)].mass(best) += double(w);
      }
    }
    data.done_with(first, rows);
  });
  if (next) {
    next->sums.setZero(k, d);
    next->mass.setZero(k);
    for (const ClusterSums& p : partial) {
      if (p.mass.size() == 0) continue;
      next->sums += p.sums;
      next->mass += p.mass;
    }
  }
  return std::accumulate(inertia.begin(), inertia.end(), 0.0);
}

/// Empty clusters take the points farthest from their centroids (scikit-learn's rule): each
/// such point leaves its cluster's sums and alone forms the empty cluster.
template <class Scalar>
void relocate_empty_clusters(const KMeansData<Scalar>& data, IndexVector& labels, Vector<Scalar>& distances,
                             ClusterSums& next) {
  std::vector<Index> empty;
  for (Index j = 0; j < next.mass.size(); ++j)
    if (!(next.mass(j) > 0)) empty.push_back(j);
  if (empty.empty()) return;
  std::vector<Index> order(static_cast<std::size_t>(data.X.rows()));
  std::iota(order.begin(), order.end(), Index(0));
  const auto farthest = order.begin() + static_cast<std::ptrdiff_t>(std::min(empty.size(), order.size()));
  std::partial_sort(order.begin(), farthest, order.end(),
                    [&](Index a, Index b) { return distances(a) > distances(b); });
  for (std::size_t e = 0; e < empty.size() && e < order.size(); ++e) {
    const Index i = order[e], from = labels(i), to = empty[e];
    const double w = double(data.weight(i));
    const Eigen::RowVectorXd x = data.X.row(i).template cast<double>();
    next.sums.row(from) -= w * x;
    next.mass(from) -= w;
    next.sums.row(to) = w * x;
    next.mass(to) = w;
    labels(i) = to;
    distances(i) = Scalar(0);
  }
}

/// New centroids from the accumulated sums; a cluster without mass (or, in spherical mode,
/// with a zero mean direction) keeps its previous centroid rather than becoming NaN.
template <class Scalar>
void update_centroids(const ClusterSums& next, bool spherical, Matrix<Scalar>& C) {
  for (Index j = 0; j < C.rows(); ++j) {
    if (!(next.mass(j) > 0)) continue;
    Eigen::RowVectorXd mean = next.sums.row(j) / next.mass(j);
    if (spherical) {
      const double norm = mean.norm();
      if (!(norm > 0)) continue;
      mean /= norm;
    }
    C.row(j) = mean.cast<Scalar>();
  }
}

/// Index i with probability mass[i] / total, by inverse CDF over the running sum.
inline Index sample_by_mass(const std::vector<double>& cumulative, double u) {
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u * cumulative.back());
  return std::min<Index>(static_cast<Index>(it - cumulative.begin()), static_cast<Index>(cumulative.size()) - 1);
}

/// Squared distances of rows [first, first + rows) of the data to the candidates (one GEMM) into
/// `block` (rows x candidates), each capped by closest(i) when `closest` is given.
template <class Scalar, class Block>
void distances_to_candidates(const KMeansData<Scalar>& data, Index first, Index rows, const Matrix<Scalar>& candidates,
                             const Vector<Scalar>& candidate_norms, const Vector<Scalar>* closest, Block&& block) {
  block.noalias() = Scalar(-2) * data.X.middleRows(first, rows) * candidates.transpose();
  for (Index r = 0; r < rows; ++r)
    for (Index j = 0; j < candidates.rows(); ++j) {
      const Scalar d2 = std::max(Scalar(0), block(r, j) + data.squared_norms(first + r) + candidate_norms(j));
      block(r, j) = closest ? std::min(d2, (*closest)(first + r)) : d2;
    }
}

/// The point set as the restart loop and the seeding see it, on the host. The CUDA back end's
/// DeviceLloyd has the same members over device data:
///  - rows(), cols(); max_squared_norm() (Inf or NaN when a norm overflowed);
///    mean_feature_variance() (E[x^2] - E[x]^2 averaged over the features, unweighted);
///  - gather(ids): those rows;
///  - k-means++ state, closest_i (1 for every point at start_seeding()):
///    draw_candidates(u) draws one row per u in [0, 1) with probability w_i closest_i / total,
///    candidate_potentials(capped) returns sum_i w_i D_ij per candidate j, D_ij the squared
///    distance (capped by closest_i when `capped`), keep_candidate(j) sets closest to D_.j and
///    returns candidate j.
template <class Scalar>
class HostPoints {
 public:
  explicit HostPoints(const KMeansData<Scalar>& data) : data_(data) {}

  Index rows() const { return data_.X.rows(); }
  Index cols() const { return data_.X.cols(); }
  double max_squared_norm() const {
    return data_.squared_norms.allFinite() ? double(data_.squared_norms.maxCoeff())
                                           : std::numeric_limits<double>::infinity();
  }
  double mean_feature_variance() const {  // as E[x^2] - E[x]^2 in double, one blocked pass
    const Index n = rows(), d = cols();
    Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(kmeans_chunks(n), d), squares = sums;
    for_each_row_block(n, kmeans_threads(n, n * d), [&](Index first, Index count, int t) {
      const auto block = data_.X.middleRows(first, count).template cast<double>();
      sums.row(t) += block.colwise().sum();
      squares.row(t) += block.colwise().squaredNorm();
      data_.done_with(first, count);
    });
    const Eigen::RowVectorXd mean = sums.colwise().sum() / double(n), second = squares.colwise().sum() / double(n);
    return (second - mean.cwiseAbs2()).mean();
  }
  Matrix<Scalar> gather(const std::vector<Index>& ids) const {
    Matrix<Scalar> out(static_cast<Index>(ids.size()), cols());
    for (std::size_t t = 0; t < ids.size(); ++t) out.row(static_cast<Index>(t)) = data_.X.row(ids[t]);
    return out;
  }

  void start_seeding() { closest_ = Vector<Scalar>::Ones(rows()); }
  void draw_candidates(const std::vector<double>& draws) {
    std::vector<double> cumulative(static_cast<std::size_t>(rows()));
    double run = 0;
    for (Index i = 0; i < rows(); ++i) cumulative[static_cast<std::size_t>(i)] = (run += double(data_.weight(i)) * double(closest_(i)));
    std::vector<Index> ids;
    for (const double u : draws) ids.push_back(sample_by_mass(cumulative, u));
    candidates_ = gather(ids);
  }
  std::vector<double> candidate_potentials(bool capped) {
    const Index n = rows(), m = candidates_.rows();
    const Vector<Scalar> candidate_norms = candidates_.rowwise().squaredNorm();
    distance_to_.resize(n, m);
    // potential(chunk, j): candidate j's summed distances over one chunk's rows (a flat matrix, not
    // a vector of vectors, whose destructor GCC 12 misreports under -Wfree-nonheap-object).
    Eigen::MatrixXd potential = Eigen::MatrixXd::Zero(kmeans_chunks(n), m);
    for_each_row_block(n, kmeans_threads(n, n * cols() * m), [&](Index first, Index count, int t) {
      auto block = distance_to_.middleRows(first, count);
      distances_to_candidates(data_, first, count, candidates_, candidate_norms, capped ? &closest_ : nullptr, block);
      for (Index r = 0; r < count; ++r)
        for (Index j = 0; j < m; ++j) potential(t, j) += double(data_.weight(first + r)) * double(block(r, j));
      data_.done_with(first, count);
    });
    std::vector<double> total(static_cast<std::size_t>(m), 0.0);
    for (Index t = 0; t < potential.rows(); ++t)  // chunk order: the same sums on every thread count
      for (Index j = 0; j < m; ++j) total[static_cast<std::size_t>(j)] += potential(t, j);
    return total;
  }
  Matrix<Scalar> keep_candidate(Index j) {
    closest_ = distance_to_.col(j);
    return candidates_.row(j);
  }

 private:
  const KMeansData<Scalar>& data_;
  Vector<Scalar> closest_;
  Matrix<Scalar> candidates_, distance_to_;
};

/// Greedy k-means++ over any point set (HostPoints, cuda DeviceLloyd): each new centre is the
/// best (lowest resulting potential) of `trials` candidates drawn with probability w_i D(x_i)^2.
/// The generator's draws are the same on every back end.
template <class Scalar, class Points>
Matrix<Scalar> kmeans_plus_plus(Points& points, Index k, int trials, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Matrix<Scalar> centres(k, points.cols());
  points.start_seeding();  // uniform (weighted) draw of the first centre
  std::vector<double> draws;
  for (Index c = 0; c < k; ++c) {
    draws.resize(c == 0 ? 1 : static_cast<std::size_t>(trials));
    for (double& u : draws) u = uniform(rng);
    points.draw_candidates(draws);
    const std::vector<double> potential = points.candidate_potentials(c != 0);
    const auto best = std::min_element(potential.begin(), potential.end()) - potential.begin();  // first lowest
    centres.row(c) = points.keep_candidate(static_cast<Index>(best));
  }
  return centres;
}

/// k distinct points, uniformly (partial Fisher–Yates), of any point set.
template <class Scalar, class Points>
Matrix<Scalar> random_points(const Points& points, Index k, std::mt19937_64& rng) {
  std::vector<Index> ids(static_cast<std::size_t>(points.rows()));
  std::iota(ids.begin(), ids.end(), Index(0));
  for (Index c = 0; c < k; ++c) {
    std::uniform_int_distribution<Index> pick(c, points.rows() - 1);
    std::swap(ids[static_cast<std::size_t>(c)], ids[static_cast<std::size_t>(pick(rng))]);
  }
  ids.resize(static_cast<std::size_t>(k));
  return points.gather(ids);
}

/// The Lloyd iterations from `centroids` (updated in place) with kmeans()'s stopping rules, shared
/// by the CPU and MPI back ends: assign(next) assigns `labels` (and distances) to the current
/// centroids, fills the cluster sums `next` (empty clusters refilled) and returns the inertia;
/// unchanged(previous) says whether `labels` equal the previous iteration's (empty at first).
/// Sets iterations, status and inertia_history of `result`.
template <class Scalar, class Assign, class Unchanged>
void lloyd_iterations(Matrix<Scalar>& centroids, bool spherical, const KMeansOptions<Scalar>& options,
                      double shift_tolerance, int restart, KMeansResult<Scalar>& result, IndexVector& labels,
                      Assign&& assign, Unchanged&& unchanged) {
  IndexVector previous;
  ClusterSums next;
  result.inertia_history.clear();
  result.status = SolverStatus::max_iterations;
  result.iterations = 0;
  for (int it = 1; it <= options.max_iterations; ++it) {
    const double inertia = assign(next);
    const Matrix<Scalar> before = centroids;
    update_centroids(next, spherical, centroids);
    const double shift = double((centroids - before).squaredNorm());
    result.iterations = it;
    result.inertia_history.push_back(Scalar(inertia));
    const bool go_on = !options.callback ||
                       options.callback(KMeansProgress<Scalar>{restart, it, Scalar(inertia), Scalar(shift)});
    if (unchanged(previous) || shift <= shift_tolerance) {
      result.status = SolverStatus::converged;
      break;
    }
    if (!go_on) {
      result.status = SolverStatus::interrupted;
      break;
    }
    previous.swap(labels);
    labels.resize(previous.size());
  }
}

/// The end of every backend's Lloyd run: the final assignment's labels and inertia, the
/// centroids, and the cluster sizes and mass proportions that follow from them (weights: null
/// for all ones).
template <class Scalar>
void finish_lloyd(const Vector<Scalar>* weights, IndexVector labels, Matrix<Scalar> centroids, double inertia,
                  KMeansResult<Scalar>& result) {
  const Index k = centroids.rows();
  result.inertia = Scalar(inertia);
  result.centroids = std::move(centroids);
  result.sizes.setZero(k);
  Eigen::VectorXd mass = Eigen::VectorXd::Zero(k);
  for (Index i = 0; i < labels.size(); ++i) {
    ++result.sizes(labels(i));
    mass(labels(i)) += weights ? double((*weights)(i)) : 1.0;
  }
  result.proportions = (mass / mass.sum()).cast<Scalar>();
  result.labels = std::move(labels);
}

/// The final centroids and every point's label, the inertia, sizes and proportions for them.
template <class Scalar>
void assign_all(const KMeansData<Scalar>& data, Matrix<Scalar> centroids, KMeansResult<Scalar>& result) {
  const Index n = data.X.rows();
  IndexVector labels(n);
  Vector<Scalar> distances(n);
  const double inertia = assign_to_centroids(data, centroids, labels, distances, nullptr);
  finish_lloyd(data.weights, std::move(labels), std::move(centroids), inertia, result);
}

/// `count` distinct row indices of [0, n) drawn uniformly (partial Fisher-Yates), ascending.
inline std::vector<Index> random_rows(Index n, Index count, std::uint64_t seed) {
  std::vector<Index> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), Index(0));
  std::mt19937_64 rng(seed);
  for (Index c = 0; c < count; ++c) std::swap(ids[std::size_t(c)], ids[std::size_t(std::uniform_int_distribution<Index>(c, n - 1)(rng))]);
  ids.resize(static_cast<std::size_t>(count));
  std::sort(ids.begin(), ids.end());
  return ids;
}

/// One Lloyd run from `centroids` (overwritten); fills everything in `result` but `restart`.
/// The CPU assign step of lloyd_iterations (cuda/kmeans.cuh plugs in the GPU's).
template <class Scalar>
void lloyd(const KMeansData<Scalar>& data, Matrix<Scalar> centroids, const KMeansOptions<Scalar>& options,
           double shift_tolerance, int restart, KMeansResult<Scalar>& result) {
  const Index n = data.X.rows();
  IndexVector labels(n);
  Vector<Scalar> distances(n);
  lloyd_iterations(
      centroids, data.spherical, options, shift_tolerance, restart, result, labels,
      [&](ClusterSums& next) {
        const double inertia = assign_to_centroids(data, centroids, labels, distances, &next);
        relocate_empty_clusters(data, labels, distances, next);
        return inertia;
      },
      [&](const IndexVector& previous) { return previous.size() == n && labels == previous; });
  assign_all(data, std::move(centroids), result);
}

/// kmeans's argument checks on everything but X's entries, for X of n x d (n, d >= 1): the CUDA
/// back end checks the entries on the device.
template <class Scalar>
void validate_kmeans_arguments(Index n, Index d, Index k, const KMeansOptions<Scalar>& o) {
  constexpr const char* where = "kmeans";
  require(k > 0, where, "k must be > 0 (got " + std::to_string(k) + ")");
  require(k <= n, where, "k = " + std::to_string(k) + " exceeds the number of points n = " + std::to_string(n));
  require(o.n_init >= 1, where, "n_init must be >= 1");
  require(o.max_iterations >= 0, where, "max_iterations must be >= 0");
  // Bounded before anything is allocated: k-means++ holds an n x local_trials distance block.
  require(o.local_trials >= 0 && o.local_trials <= std::min<Index>(n, kmeans_max_local_trials), where,
          "local_trials must be in [0, min(n, " + std::to_string(kmeans_max_local_trials) + ")] (got " +
              std::to_string(o.local_trials) + ")");
  require(o.tolerance >= 0 && std::isfinite(double(o.tolerance)), where, "tolerance must be finite and >= 0");
  require(o.max_points_per_centroid >= 0, where, "max_points_per_centroid must be >= 0 (0: all points)");
  if (o.weights.size() != 0) {
    require_size(o.weights.size(), n, where, "weights must have one entry per point");
    require_weights(o.weights, where, "weights");
  }
  if (o.initial_centroids.size() != 0) {
    require_size(o.initial_centroids.rows(), k, where, "initial_centroids rows (k)");
    require_size(o.initial_centroids.cols(), d, where, "initial_centroids columns (d)");
    require_finite(o.initial_centroids, where, "initial_centroids");
  }
}

template <class Scalar>
void validate_kmeans(const Eigen::Ref<const Matrix<Scalar>>& X, Index k, const KMeansOptions<Scalar>& o) {
  require_nonempty(X, "kmeans", "X");
  validate_kmeans_arguments(X.rows(), X.cols(), k, o);
  require_finite(X, "kmeans", "X");
}

/// In spherical mode the unit-row copy of X that K-means must work on, or an empty matrix when
/// X is not spherical or its rows are unit already. Throws on a zero row.
template <class Scalar>
Matrix<Scalar> unit_rows_copy(const Eigen::Ref<const Matrix<Scalar>>& X, bool spherical, const char* where) {
  if (!spherical) return {};
  Matrix<Scalar> unit = X;
  const Scalar slack = Scalar(100) * std::numeric_limits<Scalar>::epsilon();
  bool already_unit = true;
  for (Index i = 0; i < unit.rows(); ++i) {
    auto row = unit.row(i);
    const Scalar norm = normalise_direction(row);  // scaled: rows near 1e200 keep their direction
    require(norm > 0, where, "X has a zero row (spherical mode needs a direction)");
    already_unit = already_unit && std::abs(norm - Scalar(1)) <= slack;
  }
  if (already_unit) return {};
  return unit;
}

/// The restart loop on a prepared point set (validated; unit rows when spherical; HostPoints or
/// the CUDA back end's DeviceLloyd), shared by the CPU and CUDA back ends: seeds each restart
/// (or takes the warm start), normalises the seeds in spherical mode, runs
/// lloyd(start, shift_tolerance, restart, result) and keeps the lowest inertia.
template <class Scalar, class Points, class Lloyd>
KMeansResult<Scalar> kmeans_restarts(Points& points, Index k, const KMeansOptions<Scalar>& o, const char* where,
                                     Lloyd&& run_lloyd) {
  // Distances are ||x||^2 - 2 x.c + ||c||^2: a norm that overflows would make every distance
  // Inf - Inf = NaN and the clustering silently meaningless.
  const double max_squared_norm = points.max_squared_norm();
  require(std::isfinite(max_squared_norm), where, "squared row norms of X (overflow: rescale X) contains NaN or Inf");
  // Every distance is at most 4 max ||x||^2 (centroids are weighted means of the points), so
  // this bounds the inertia: huge weights would otherwise make it Inf.
  const double total_weight = o.weights.size() ? total_mass(o.weights) : double(points.rows());
  require(std::isfinite(Scalar(4.0 * total_weight * max_squared_norm)), where,
          "weights times squared row norms of X overflow the inertia: rescale X or the weights");
  if (!o.spherical && o.initial_centroids.size() != 0)
    require_finite(o.initial_centroids.rowwise().squaredNorm(), where,
                   "squared row norms of initial_centroids (overflow: rescale them)");
  // tolerance * mean per-feature variance
  const double shift_tolerance = o.tolerance > 0 ? double(o.tolerance) * points.mean_feature_variance() : 0.0;
  const int trials = o.local_trials > 0 ? o.local_trials : 2 + static_cast<int>(std::log(double(k)));
  std::mt19937_64 rng(o.seed);

  const bool warm = o.initial_centroids.size() != 0;
  KMeansResult<Scalar> best, candidate;
  for (int r = 0; r < (warm ? 1 : o.n_init); ++r) {
    Matrix<Scalar> start = warm                           ? o.initial_centroids
                           : o.init == KMeansInit::random ? random_points<Scalar>(points, k, rng)
                                                          : kmeans_plus_plus<Scalar>(points, k, trials, rng);
    if (o.spherical) {
      for (Index j = 0; j < k; ++j) {
        auto row = start.row(j);
        require(normalise_direction(row) > 0, where, "initial centroid " + std::to_string(j) + " is zero (spherical mode)");
      }
    }
    run_lloyd(std::move(start), shift_tolerance, r, candidate);
    candidate.restart = r;
    if (r == 0 || candidate.inertia < best.inertia) std::swap(best, candidate);
  }
  return best;
}

/// kmeans() on a validated, prepared point set (in memory or mapped): faiss-style training on a
/// sample when asked, else the restart loop over all points.
template <class Scalar>
KMeansResult<Scalar> kmeans_on_data(const KMeansData<Scalar>& data, Index k, const KMeansOptions<Scalar>& options) {
  const auto& points = data.X;
  if (options.max_points_per_centroid > 0 && (points.rows() + k - 1) / k > options.max_points_per_centroid) {
    // Train on a sample (rows of `points`: unit already in spherical mode), then label every point.
    const std::vector<Index> rows = random_rows(points.rows(), k * options.max_points_per_centroid, options.seed);
    KMeansOptions<Scalar> on_sample = options;
    on_sample.max_points_per_centroid = 0;
    Matrix<Scalar> sample(Index(rows.size()), points.cols());
    if (options.weights.size()) on_sample.weights.resize(sample.rows());
    for (Index r = 0; r < sample.rows(); ++r) {
      sample.row(r) = points.row(rows[std::size_t(r)]);
      if (options.weights.size()) on_sample.weights(r) = options.weights(rows[std::size_t(r)]);
    }
    data.done_with(0, points.rows());  // the sampled rows are scattered over all of X
    KMeansResult<Scalar> result = kmeans(sample, k, on_sample);
    assign_all(data, std::move(result.centroids), result);
    return result;
  }
  HostPoints<Scalar> host(data);
  return kmeans_restarts(host, k, options, "kmeans",
                         [&](Matrix<Scalar> start, double shift_tolerance, int restart, KMeansResult<Scalar>& out) {
                           lloyd(data, std::move(start), options, shift_tolerance, restart, out);
                         });
}

}  // namespace detail

template <class Derived>
KMeansResult<typename Derived::Scalar> kmeans(const Eigen::MatrixBase<Derived>& X, Index k,
                                              const KMeansOptions<typename Derived::Scalar>& options) {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_floating_point<Scalar>::value, "protoot::kmeans: X must hold float or double");
  const detail::SerialEigen serial;
  const Eigen::Ref<const Matrix<Scalar>> given(X.derived());
  detail::validate_kmeans<Scalar>(given, k, options);
  const Matrix<Scalar> unit = detail::unit_rows_copy<Scalar>(given, options.spherical, "kmeans");
  const Eigen::Ref<const Matrix<Scalar>> points = unit.size() ? Eigen::Ref<const Matrix<Scalar>>(unit) : given;
  return detail::kmeans_on_data(detail::KMeansData<Scalar>{points, points.rowwise().squaredNorm(),
                                                           options.weights.size() ? &options.weights : nullptr,
                                                           options.spherical},
                                k, options);
}

}  // namespace protoot
