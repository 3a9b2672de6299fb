// protoot/mpi/detail/kmeans.hpp — the row-sharded K-means behind protoot/mpi/kmeans.hpp.
//
// Determinism: the global rows are cut into chunks of `rows_per_partial` rows (a multiple of
// the CPU kernel's 512-row block), chunk c = rows [c R, (c + 1) R). The rank holding a chunk's
// first row owns it and is sent the chunk's tail rows once (at most R - 1 rows per rank), so
// every pass runs on whole chunks in the CPU kernel's blocks. Each chunk's partial (centroid
// sums, masses, inertia, k-means++ masses and potentials) is added in row-block order on one
// thread, and chunk partials are added in global chunk order (ordered_chunk_sum): the result is
// the same bits for any number of ranks and any split of the rows.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "protoot/kmeans.hpp"
#include "protoot/mpi/detail/comm.hpp"

namespace protoot::mpi::detail {

namespace pd = protoot::detail;

template <class S>
class ShardedKMeans {
 public:
  ShardedKMeans(MPI_Comm comm, const RowLayout& shards, const Eigen::Ref<const Matrix<S>>& rows, const Vector<S>& weights,
                bool weighted, Index d, Index chunk_rows, const KMeansOptions<S>& options)
      : comm_(comm), shards_(shards), chunk_(chunk_rows), weighted_(weighted), o_(options) {
    // whole chunks: rank r works on the chunks whose first row it holds
    work_ = shards;
    for (int r = 0; r < shards.size; ++r)
      work_.offsets[std::size_t(r)] = std::min(shards.rows(), (shards.offsets[std::size_t(r)] + chunk_ - 1) / chunk_ * chunk_);
    const std::vector<S> moved = move_rows(comm, rows.data(), d, shards, work_.offsets);
    X_ = Eigen::Map<const Matrix<S>>(moved.data(), work_.local_rows(), d);
    if (weighted) {
      const std::vector<S> w = move_rows(comm, weights.data(), 1, shards, work_.offsets);
      weights_ = Eigen::Map<const Vector<S>>(w.data(), work_.local_rows());
    }
    norms_ = X_.rowwise().squaredNorm();
    chunks_ = (X_.rows() + chunk_ - 1) / chunk_;
  }

  KMeansResult<S> run(Index k) {
    double shift_tolerance = 0;
    if (o_.tolerance > 0) {  // tolerance * mean per-feature variance, E[x^2] - E[x]^2
      const Index d = X_.cols();
      const std::vector<double> moments = chunk_sums(2 * d, [&](Index i, double* p) {
        for (Index j = 0; j < d; ++j) p[j] += double(X_(i, j)), p[d + j] += double(X_(i, j)) * double(X_(i, j));
      });
      double variance = 0;
      const double n = double(shards_.rows());
      for (Index j = 0; j < d; ++j) variance += moments[std::size_t(d + j)] / n - (moments[std::size_t(j)] / n) * (moments[std::size_t(j)] / n);
      shift_tolerance = double(o_.tolerance) * variance / double(d);
    }
    const int trials = o_.local_trials > 0 ? o_.local_trials : 2 + static_cast<int>(std::log(double(k)));
    std::mt19937_64 rng(o_.seed);
    const bool warm = o_.initial_centroids.size() != 0;
    KMeansResult<S> best, candidate;
    for (int r = 0; r < (warm ? 1 : o_.n_init); ++r) {
      Matrix<S> start = warm ? o_.initial_centroids
                        : o_.init == KMeansInit::random ? random_points(k, rng) : kmeans_plus_plus(k, trials, rng);
      if (o_.spherical) start = start.rowwise().normalized();  // checked non-zero (warm) or data rows
      lloyd(std::move(start), shift_tolerance, r, candidate);
      candidate.restart = r;
      if (r == 0 || candidate.inertia < best.inertia) std::swap(best, candidate);
    }
    const std::vector<Index> mine = move_rows(comm_, best.labels.data(), 1, work_, shards_.offsets);
    best.labels = Eigen::Map<const IndexVector>(mine.data(), shards_.local_rows());
    return best;
  }

 private:
  S weight(Index i) const { return weighted_ ? weights_(i) : S(1); }
  /// The work rows as the CPU kernel's point set.
  pd::KMeansData<S> data() const { return {X_, norms_, weighted_ ? &weights_ : nullptr, o_.spherical}; }
  Index chunk_end(Index c) const { return std::min(X_.rows(), (c + 1) * chunk_); }
  /// The rank working on global row i.
  int worker(Index i) const { return work_.owner(i); }

  /// Ordered global sum over all rows of `length` values, row_term(i, partial) adding row i's.
  template <class RowTerm>
  std::vector<double> chunk_sums(Index length, RowTerm&& row_term) const {
    std::vector<double> partials(std::size_t(chunks_ * length), 0.0);
    for (Index c = 0; c < chunks_; ++c)
      for (Index i = c * chunk_; i < chunk_end(c); ++i) row_term(i, partials.data() + c * length);
    return ordered_chunk_sum(comm_, partials, chunks_, length);
  }

  /// Row i (global, in the work layout) of X on every rank, broadcast by its worker.
  Eigen::Matrix<S, 1, Eigen::Dynamic> global_row(Index i) const {
    Eigen::Matrix<S, 1, Eigen::Dynamic> x(X_.cols());
    const int root = worker(i);
    if (root == work_.rank) x = X_.row(i - work_.first());
    MPI_Bcast(x.data(), int(x.size()), datatype<S>(), root, comm_);
    return x;
  }

  /// k distinct points, uniformly: protoot::kmeans's draw (same generator use), on global rows.
  Matrix<S> random_points(Index k, std::mt19937_64& rng) const {
    std::vector<Index> ids(static_cast<std::size_t>(shards_.rows()));
    std::iota(ids.begin(), ids.end(), Index(0));
    Matrix<S> centres(k, X_.cols());
    for (Index c = 0; c < k; ++c) {
      std::uniform_int_distribution<Index> pick(c, shards_.rows() - 1);
      std::swap(ids[std::size_t(c)], ids[std::size_t(pick(rng))]);
      centres.row(c) = global_row(ids[std::size_t(c)]);
    }
    return centres;
  }

  /// Global row drawn with probability w_i closest_i / total, u uniform in [0, 1): the chunk by
  /// the global prefix of chunk masses, the row by its worker.
  Index draw(const std::vector<double>& chunk_cumulative, const Vector<S>& closest, double u) const {
    const double target = u * chunk_cumulative.back();
    const Index total_chunks = Index(chunk_cumulative.size());
    const Index c = std::min<Index>(
        Index(std::upper_bound(chunk_cumulative.begin(), chunk_cumulative.end(), target) - chunk_cumulative.begin()),
        total_chunks - 1);
    std::int64_t row = 0;
    const int root = worker(c * chunk_);
    if (root == work_.rank) {
      const Index local = c - work_.first() / chunk_;
      double run = c ? chunk_cumulative[std::size_t(c - 1)] : 0.0;
      row = chunk_end(local) - 1;
      for (Index i = local * chunk_; i < chunk_end(local); ++i)
        if ((run += double(weight(i)) * double(closest(i))) > target) {
          row = i;
          break;
        }
      row += work_.first();
    }
    MPI_Bcast(&row, 1, MPI_INT64_T, root, comm_);
    return Index(row);
  }

  /// Greedy k-means++ as protoot::kmeans (best of `trials` candidates drawn with probability
  /// w D^2), with global draws and ordered potentials.
  Matrix<S> kmeans_plus_plus(Index k, int trials, std::mt19937_64& rng) const {
    const Index n = X_.rows(), d = X_.cols();
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Matrix<S> centres(k, d);
    Vector<S> closest = Vector<S>::Ones(n);
    Matrix<S> distance_to;
    const pd::KMeansData<S> points = data();
    for (Index c = 0; c < k; ++c) {
      std::vector<double> chunk_mass(std::size_t(chunks_), 0.0);
      for (Index q = 0; q < chunks_; ++q)
        for (Index i = q * chunk_; i < chunk_end(q); ++i) chunk_mass[std::size_t(q)] += double(weight(i)) * double(closest(i));
      std::vector<double> cumulative = all_chunk_values(chunk_mass);
      for (std::size_t q = 1; q < cumulative.size(); ++q) cumulative[q] += cumulative[q - 1];
      const Index m = c == 0 ? 1 : trials;
      Matrix<S> candidates(m, d);
      for (Index t = 0; t < m; ++t) candidates.row(t) = global_row(draw(cumulative, closest, uniform(rng)));
      const Vector<S> candidate_norms = candidates.rowwise().squaredNorm();
      distance_to.resize(n, m);
      for (Index b = 0; b < n; b += pd::kmeans_block_rows) {
        const Index rows = std::min(pd::kmeans_block_rows, n - b);
        pd::distances_to_candidates(points, b, rows, candidates, candidate_norms, c == 0 ? nullptr : &closest,
                                    distance_to.middleRows(b, rows));
      }
      const std::vector<double> potential = chunk_sums(m, [&](Index i, double* p) {
        for (Index j = 0; j < m; ++j) p[j] += double(weight(i)) * double(distance_to(i, j));
      });
      const Index best = Index(std::min_element(potential.begin(), potential.end()) - potential.begin());
      centres.row(c) = candidates.row(best);
      closest = distance_to.col(best);
    }
    return centres;
  }

  /// Every chunk's value, in global chunk order, on every rank.
  std::vector<double> all_chunk_values(const std::vector<double>& mine) const {
    std::vector<int> counts(std::size_t(work_.size)), displs(std::size_t(work_.size));
    int total = 0;
    for (int r = 0; r < work_.size; ++r) {
      const Index rows = work_.offsets[std::size_t(r) + 1] - work_.offsets[std::size_t(r)];
      counts[std::size_t(r)] = int((rows + chunk_ - 1) / chunk_);
      displs[std::size_t(r)] = total;
      total += counts[std::size_t(r)];
    }
    std::vector<double> all(static_cast<std::size_t>(total));
    MPI_Allgatherv(mine.data(), int(mine.size()), MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, comm_);
    return all;
  }

  /// One assignment pass over the work rows (the CPU kernel on each 512-row block); with `next`
  /// also the global cluster sums. Returns the global inertia.
  double assign(const Matrix<S>& C, IndexVector& labels, Vector<S>& distances, pd::ClusterSums* next) const {
    const Index k = C.rows(), d = X_.cols(), sums = next ? k * d + k : 0, length = sums + 1;
    std::vector<double> partials(std::size_t(chunks_ * length), 0.0);
    IndexVector block_labels;
    Vector<S> block_distances, block_weights;
    pd::ClusterSums block_sums;
    for (Index c = 0; c < chunks_; ++c) {
      double* p = partials.data() + c * length;
      for (Index b = c * chunk_; b < chunk_end(c); b += pd::kmeans_block_rows) {
        const Index rows = std::min(pd::kmeans_block_rows, chunk_end(c) - b);
        if (weighted_) block_weights = weights_.segment(b, rows);
        const pd::KMeansData<S> block{X_.middleRows(b, rows), norms_.segment(b, rows),
                                      weighted_ ? &block_weights : nullptr, o_.spherical};
        block_labels.resize(rows);
        block_distances.resize(rows);
        p[sums] += pd::assign_to_centroids(block, C, block_labels, block_distances, next ? &block_sums : nullptr);
        labels.segment(b, rows) = block_labels;
        distances.segment(b, rows) = block_distances;
        if (next) {
          Eigen::Map<Eigen::VectorXd>(p, k * d) += Eigen::Map<const Eigen::VectorXd>(block_sums.sums.data(), k * d);
          Eigen::Map<Eigen::VectorXd>(p + k * d, k) += block_sums.mass;
        }
      }
    }
    const std::vector<double> total = ordered_chunk_sum(comm_, partials, chunks_, length);
    if (next) {
      next->sums = Eigen::Map<const Matrix<double>>(total.data(), k, d);
      next->mass = Eigen::Map<const Eigen::VectorXd>(total.data() + k * d, k);
    }
    return total[std::size_t(sums)];
  }

  /// protoot::kmeans's rule on global rows: each empty cluster takes one of the points farthest
  /// from their centroids (distance descending, then global row ascending).
  void relocate_empty_clusters(IndexVector& labels, Vector<S>& distances, pd::ClusterSums& next) const {
    std::vector<Index> empty;
    for (Index j = 0; j < next.mass.size(); ++j)
      if (!(next.mass(j) > 0)) empty.push_back(j);
    if (empty.empty()) return;
    const std::size_t e = empty.size();
    std::vector<Index> order(static_cast<std::size_t>(X_.rows()));
    std::iota(order.begin(), order.end(), Index(0));
    const auto farther = [&](Index a, Index b) { return distances(a) > distances(b) || (distances(a) == distances(b) && a < b); };
    const std::size_t mine = std::min(e, order.size());
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(mine), order.end(), farther);
    std::vector<double> offer(2 * e, -1.0);  // (distance, global row) pairs; -1 marks no offer
    for (std::size_t t = 0; t < mine; ++t) offer[2 * t] = double(distances(order[t])), offer[2 * t + 1] = double(work_.first() + order[t]);
    std::vector<double> offers(offer.size() * std::size_t(work_.size));
    MPI_Allgather(offer.data(), int(offer.size()), MPI_DOUBLE, offers.data(), int(offer.size()), MPI_DOUBLE, comm_);
    std::vector<std::pair<double, Index>> pool;
    for (std::size_t t = 0; t < offers.size(); t += 2)
      if (offers[t + 1] >= 0) pool.push_back({offers[t], Index(offers[t + 1])});
    std::sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (std::size_t t = 0; t < e && t < pool.size(); ++t) {
      const Index i = pool[t].second, local = i - work_.first();
      const bool here = worker(i) == work_.rank;
      std::int64_t from = here ? labels(local) : 0;
      MPI_Bcast(&from, 1, MPI_INT64_T, worker(i), comm_);
      double w = here ? double(weight(local)) : 0.0;
      MPI_Bcast(&w, 1, MPI_DOUBLE, worker(i), comm_);
      const Eigen::RowVectorXd x = global_row(i).template cast<double>();
      next.sums.row(from) -= w * x;
      next.mass(from) -= w;
      next.sums.row(empty[t]) = w * x;
      next.mass(empty[t]) = w;
      if (here) labels(local) = empty[t], distances(local) = S(0);
    }
  }

  /// One Lloyd run as protoot::kmeans's (the same loop); labels in the work layout.
  void lloyd(Matrix<S> centroids, double shift_tolerance, int restart, KMeansResult<S>& result) const {
    const Index n = X_.rows(), k = centroids.rows();
    IndexVector labels(n);
    Vector<S> distances(n);
    pd::lloyd_iterations(
        centroids, o_.spherical, o_, shift_tolerance, restart, result, labels,
        [&](pd::ClusterSums& next) {
          const double inertia = assign(centroids, labels, distances, &next);
          relocate_empty_clusters(labels, distances, next);
          return inertia;
        },
        [&](const IndexVector& previous) {  // collective: unchanged on every rank
          int unchanged = previous.size() == n && labels == previous;
          MPI_Allreduce(MPI_IN_PLACE, &unchanged, 1, MPI_INT, MPI_LAND, comm_);
          return unchanged != 0;
        });
    result.inertia = S(assign(centroids, labels, distances, nullptr));
    result.centroids = std::move(centroids);
    const std::vector<double> counts = chunk_sums(2 * k, [&](Index i, double* p) {
      p[labels(i)] += 1;
      p[k + labels(i)] += double(weight(i));
    });
    result.sizes = Eigen::Map<const Eigen::VectorXd>(counts.data(), k).template cast<Index>();
    const Eigen::VectorXd mass = Eigen::Map<const Eigen::VectorXd>(counts.data() + k, k);
    result.proportions = (mass / mass.sum()).cast<S>();
    result.labels = std::move(labels);
  }

  MPI_Comm comm_;
  RowLayout shards_, work_;
  Index chunk_, chunks_ = 0;
  bool weighted_;
  const KMeansOptions<S>& o_;
  Matrix<S> X_;
  Vector<S> norms_, weights_;
};

/// Collective checks, then the run. Returns this rank's labels and the global rest.
template <class S>
KMeansResult<S> sharded_kmeans(MPI_Comm comm, const Eigen::Ref<const Matrix<S>>& X, Index k,
                               const KMeansOptions<S>& o, Index rows_per_partial) {
  constexpr const char* where = "mpi::kmeans";
  const pd::SerialEigen serial;
  CollectiveCheck check(comm, where);
  const RowLayout layout = row_layout(comm, X.rows());
  const Index d = agreed_width(comm, check, where, X.rows(), X.cols(), "X");
  Matrix<S> unit;
  int weighted = o.weights.size() != 0;  // an empty shard's weights are empty either way
  MPI_Allreduce(MPI_IN_PLACE, &weighted, 1, MPI_INT, MPI_LOR, comm);
  check.local([&] {
    pd::require_finite(X, where, "X");
    pd::require_finite(X.rowwise().squaredNorm(), where, "squared row norms of X (overflow: rescale X)");
    if (weighted) {
      pd::require_size(o.weights.size(), X.rows(), where, "weights must have one entry per local point");
      pd::require_finite(o.weights, where, "weights");
      pd::require(!(o.weights.array() < S(0)).any(), where, "weights has negative entries");
    }
    if (X.rows()) unit = pd::unit_rows_copy<S>(X, o.spherical, where);
    pd::require(o.max_points_per_centroid == 0, where,
                "max_points_per_centroid (training on a sample) is protoot::kmeans only: pass a sample instead");
    pd::require(rows_per_partial >= pd::kmeans_block_rows && rows_per_partial % pd::kmeans_block_rows == 0, where,
                "rows_per_partial must be a positive multiple of " + std::to_string(pd::kmeans_block_rows));
    pd::require(k <= layout.rows(), where,
                "k = " + std::to_string(k) + " exceeds the number of points n = " + std::to_string(layout.rows()) +
                    " (all ranks)");
    if (d > 0) {  // the option checks of protoot::kmeans, on k stand-in points
      KMeansOptions<S> shared = o;
      shared.weights.resize(0);
      shared.callback = nullptr;
      pd::validate_kmeans<S>(Matrix<S>::Zero(std::max<Index>(k, 1), d), k, shared);
      if (o.spherical && o.initial_centroids.size())
        pd::require(o.initial_centroids.rowwise().norm().minCoeff() > S(0), where,
                    "an initial centroid is zero (spherical mode)");
    }
  });
  double mass = o.weights.size() == X.rows() ? o.weights.template cast<double>().sum() : double(X.rows());
  allreduce_identical(comm, &mass, 1, MPI_SUM);
  check.local([&] { pd::require(mass > 0, where, "weights has zero total mass"); });
  check.same("k", k);
  check.same("rows_per_partial", rows_per_partial);
  check.same("n_init", o.n_init);
  check.same("max_iterations", o.max_iterations);
  check.same("tolerance", o.tolerance);
  check.same("seed", o.seed);
  check.same("spherical", o.spherical);
  check.same("init", o.init);
  check.same("local_trials", o.local_trials);
  check.same("initial_centroids", o.initial_centroids.data(), o.initial_centroids.size());
  check.finish();
  const Eigen::Ref<const Matrix<S>> points = unit.size() ? Eigen::Ref<const Matrix<S>>(unit) : X;
  KMeansOptions<S> collective = o;
  collective.callback = collective_callback(comm, o.callback);
  ShardedKMeans<S> solver(comm, layout, points, weighted ? o.weights : Vector<S>(), weighted != 0, d, rows_per_partial,
                          collective);
  return solver.run(k);
}

}  // namespace protoot::mpi::detail
