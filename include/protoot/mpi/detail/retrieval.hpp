// protoot/mpi/detail/retrieval.hpp — the ring passes behind protoot/mpi/retrieval.hpp.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "protoot/l2_normalise.hpp"
#include "protoot/mpi/detail/comm.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"

namespace protoot::mpi::detail {

/// Collective: replaces `v` by the right neighbour's `v` (rank r sends to r - 1, receives from
/// r + 1, cyclically); sizes may differ.
template <class T>
void shift_left(MPI_Comm comm, std::vector<T>& v, const RowLayout& layout) {
  const int left = (layout.rank + layout.size - 1) % layout.size, right = (layout.rank + 1) % layout.size;
  std::int64_t out = std::int64_t(v.size()), in = 0;
  MPI_Sendrecv(&out, 1, MPI_INT64_T, left, 0, &in, 1, MPI_INT64_T, right, 0, comm, MPI_STATUS_IGNORE);
  std::vector<T> received(static_cast<std::size_t>(in));
  const ContiguousType item(Index(sizeof(T)));
  MPI_Sendrecv(v.data(), int(out), item.get(), left, 1, received.data(), int(in), item.get(), right, 1, comm,
               MPI_STATUS_IGNORE);
  v.swap(received);
}

/// Unit rows of a shard (an empty shard stays empty, with d columns).
template <class S>
Matrix<S> unit_shard(const Eigen::Ref<const Matrix<S>>& x, Index d) {
  return x.rows() ? l2_normalise_rows(x) : Matrix<S>(0, d);
}

/// Collective checks shared by the searches: agreed d on both sides, finite data without zero
/// rows (checked by normalising, which the search needs anyway), and `k` the same on every rank.
/// Returns the unit rows of both shards and the gallery layout.
template <class S>
void check_search(MPI_Comm comm, const char* where, const Eigen::Ref<const Matrix<S>>& queries,
                  const Eigen::Ref<const Matrix<S>>& gallery, Index k, Matrix<S>& unit_queries,
                  Matrix<S>& unit_gallery, RowLayout& gallery_layout, CollectiveCheck& check) {
  namespace pd = protoot::detail;
  gallery_layout = row_layout(comm, gallery.rows());
  const Index dq = agreed_width(comm, check, where, queries.rows(), queries.cols(), "queries");
  const Index dg = agreed_width(comm, check, where, gallery.rows(), gallery.cols(), "gallery");
  check.local([&] {
    pd::require_size(dg, dq, where, "gallery columns (feature dimension) of queries' d");
    pd::require(k >= 1 && k <= gallery_layout.rows(), where,
                "k = " + std::to_string(k) + " must be in [1, " + std::to_string(gallery_layout.rows()) +
                    "] (rows of the whole gallery)");
    unit_queries = unit_shard<S>(queries, dq);
    unit_gallery = unit_shard<S>(gallery, dg);
  });
  check.same("k", k);
}

/// Merges the sorted candidate lists `a` (k, travelling) and `b` (this shard's) into `a`.
template <class S>
void merge_candidates(std::vector<protoot::detail::Candidate<S>>& a, const std::vector<protoot::detail::Candidate<S>>& b,
                      std::vector<protoot::detail::Candidate<S>>& scratch) {
  scratch.resize(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), scratch.begin(), protoot::detail::RanksBefore());
  std::copy(scratch.begin(), scratch.begin() + std::ptrdiff_t(a.size()), a.begin());
}

template <class S>
TopK<S> sharded_topk(MPI_Comm comm, const Eigen::Ref<const Matrix<S>>& queries,
                     const Eigen::Ref<const Matrix<S>>& gallery, Index k, SearchBlocks blocks) {
  using Candidate = protoot::detail::Candidate<S>;
  constexpr const char* where = "mpi::cosine_topk";
  CollectiveCheck check(comm, where);
  Matrix<S> q, g;
  RowLayout layout;
  check_search<S>(comm, where, queries, gallery, k, q, g, layout, check);
  check.local([&] { protoot::detail::require(blocks.queries >= 1 && blocks.gallery >= 1, where, "block sizes must be >= 1"); });
  check.finish();
  const Index d = g.cols(), local_k = std::min(k, g.rows());
  // The packet: queries of one rank (unit rows) and their best k candidates so far.
  std::vector<S> rows(q.data(), q.data() + q.size());
  const Candidate none{-std::numeric_limits<S>::infinity(), std::numeric_limits<Index>::max()};
  std::vector<Candidate> best(static_cast<std::size_t>(q.rows() * k), none), scratch;
  for (int step = 0; step < layout.size; ++step) {
    const Index nq = Index(rows.size()) / std::max<Index>(d, 1);
    if (nq > 0 && local_k > 0) {
      const Eigen::Map<const Matrix<S>> packet(rows.data(), nq, d);
      const TopK<S> mine = protoot::detail::search_topk<S>(packet, g, local_k, blocks);
      std::vector<Candidate> shard(static_cast<std::size_t>(local_k));
      for (Index i = 0; i < nq; ++i) {
        for (Index t = 0; t < local_k; ++t) shard[std::size_t(t)] = {mine.scores(i, t), layout.first() + mine.indices(i, t)};
        std::vector<Candidate> row(best.begin() + std::ptrdiff_t(i * k), best.begin() + std::ptrdiff_t((i + 1) * k));
        merge_candidates(row, shard, scratch);
        std::copy(row.begin(), row.end(), best.begin() + std::ptrdiff_t(i * k));
      }
    }
    shift_left(comm, rows, layout);  // after the last step every packet is home again
    shift_left(comm, best, layout);
  }
  TopK<S> result{IndexMatrix(q.rows(), k), Matrix<S>(q.rows(), k)};
  for (Index i = 0; i < q.rows(); ++i)
    for (Index t = 0; t < k; ++t) {
      result.indices(i, t) = best[std::size_t(i * k + t)].index;
      result.scores(i, t) = best[std::size_t(i * k + t)].score;
    }
  return result;
}

/// The gallery shards visit every rank in turn (unit rows, labels, first global row); `visit`
/// sees each, starting with this rank's own.
template <class S, class Visit>
void for_each_gallery_shard(MPI_Comm comm, const RowLayout& layout, const Matrix<S>& gallery,
                            const IndexVector& labels, Visit&& visit) {
  const Index d = gallery.cols();
  std::vector<S> rows(gallery.data(), gallery.data() + gallery.size());
  std::vector<Index> packet_labels(labels.data(), labels.data() + labels.size());
  for (int step = 0; step < layout.size; ++step) {
    const int origin = (layout.rank + step) % layout.size;
    const Index m = layout.offsets[std::size_t(origin) + 1] - layout.offsets[std::size_t(origin)];
    visit(Eigen::Map<const Matrix<S>>(rows.data(), m, d), Eigen::Map<const IndexVector>(packet_labels.data(), m),
          layout.offsets[std::size_t(origin)]);
    if (step + 1 < layout.size) {
      shift_left(comm, rows, layout);
      shift_left(comm, packet_labels, layout);
    }
  }
}

template <class S>
RetrievalScores sharded_scores(MPI_Comm comm, const Eigen::Ref<const Matrix<S>>& queries, const IndexVector& query_labels,
                               const Eigen::Ref<const Matrix<S>>& gallery, const IndexVector& gallery_labels,
                               const std::vector<Index>& ks) {
  namespace pd = protoot::detail;
  using Candidate = pd::Candidate<S>;
  constexpr const char* where = "mpi::evaluate_retrieval";
  CollectiveCheck check(comm, where);
  Matrix<S> q, g;
  RowLayout layout;
  check_search<S>(comm, where, queries, gallery, 1, q, g, layout, check);
  check.local([&] {
    pd::require_labels(query_labels, queries.rows(), where, "query_labels");
    pd::require_labels(gallery_labels, gallery.rows(), where, "gallery_labels");
    pd::require(!ks.empty() && *std::min_element(ks.begin(), ks.end()) >= 1, where, "ks must be non-empty, all >= 1");
  });
  check.same("ks", ks.data(), Index(ks.size()));
  check.finish();
  const Index n = q.rows(), nk = Index(ks.size());
  const SearchBlocks tiles{32, std::max<Index>(1, layout.rows())};
  // Pass 1: every query's relevant items (score, global index), then sorted in ranking order.
  std::vector<std::vector<Candidate>> relevant(static_cast<std::size_t>(n));
  for_each_gallery_shard<S>(comm, layout, g, gallery_labels, [&](const auto& shard, const auto& labels, Index first) {
    if (shard.rows() == 0 || n == 0) return;
    pd::for_each_similarity_tile<S>(q, shard, tiles, [&](Index q0, Index, const Matrix<S>& tile) {
      for (Index i = q0; i < q0 + tile.rows(); ++i)
        for (Index j = 0; j < tile.cols(); ++j)
          if (labels(j) == query_labels(i)) relevant[std::size_t(i)].push_back({tile(i - q0, j), first + j});
    });
  });
  for (auto& r : relevant) std::sort(r.begin(), r.end(), pd::RanksBefore());
  // Pass 2: how many other items rank before each relevant one (prefix sums give the ranks).
  std::vector<std::vector<Index>> others_before(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) others_before[std::size_t(i)].assign(relevant[std::size_t(i)].size() + 1, 0);
  for_each_gallery_shard<S>(comm, layout, g, gallery_labels, [&](const auto& shard, const auto& labels, Index first) {
    if (shard.rows() == 0 || n == 0) return;
    pd::for_each_similarity_tile<S>(q, shard, tiles, [&](Index q0, Index, const Matrix<S>& tile) {
      for (Index i = q0; i < q0 + tile.rows(); ++i) {
        const auto& r = relevant[std::size_t(i)];
        for (Index j = 0; j < tile.cols(); ++j)
          if (labels(j) != query_labels(i)) {
            const auto p = std::lower_bound(r.begin(), r.end(), Candidate{tile(i - q0, j), first + j}, pd::RanksBefore());
            ++others_before[std::size_t(i)][std::size_t(p - r.begin())];
          }
      }
    });
  });
  // Per-rank totals: hits and relevant counts per K, summed AP and queries with a relevant item.
  std::vector<double> totals(static_cast<std::size_t>(2 * nk + 2), 0.0);
  for (Index i = 0; i < n; ++i) {
    const std::vector<Index> ranks = pd::ranks_from_counts(others_before[std::size_t(i)]);
    for (Index c = 0; c < nk; ++c) {
      const Index r = std::min(ks[std::size_t(c)], Index(ranks.size()));
      totals[std::size_t(c)] += double(std::upper_bound(ranks.begin(), ranks.end(), r) - ranks.begin());
      totals[std::size_t(nk + c)] += double(r);
    }
    if (!ranks.empty()) {
      totals[std::size_t(2 * nk)] += pd::average_precision(ranks);
      totals[std::size_t(2 * nk + 1)] += 1;
    }
  }
  allreduce_identical(comm, totals.data(), Index(totals.size()), MPI_SUM);
  RetrievalScores scores{ks, std::vector<double>(ks.size()), 0};
  for (Index c = 0; c < nk; ++c)
    scores.precision[std::size_t(c)] = pd::percent_of(Index(totals[std::size_t(c)]), Index(totals[std::size_t(nk + c)]), where);
  scores.mean_average_precision = 100.0 * totals[std::size_t(2 * nk)] / totals[std::size_t(2 * nk + 1)];
  return scores;
}

}  // namespace protoot::mpi::detail
