// protoot/detail/retrieval_metrics_impl.hpp — definitions of protoot/retrieval_metrics.hpp.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"

namespace protoot {
namespace detail {

inline void require_labels(const IndexVector& labels, Index rows, const char* where, const char* name) {
  require_size(labels.size(), rows, where, std::string(name) + " (one label per row)");
}

inline std::map<Index, Index> label_counts(const IndexVector& labels) {
  std::map<Index, Index> counts;
  for (Index j = 0; j < labels.size(); ++j) ++counts[labels(j)];
  return counts;
}

inline double percent_of(Index hits, Index total, const char* where) {
  require(total > 0, where, "no query has a relevant gallery item (labels share no class)");
  return 100.0 * double(hits) / double(total);
}

/// 1-based ranks of R relevant items in ranking order, from others_before (R + 1): how many
/// non-relevant items rank just before relevant item t (the last entry, after all, is unused).
inline std::vector<Index> ranks_from_counts(const std::vector<Index>& others_before) {
  std::vector<Index> ranks(others_before.size() - 1);
  Index before = 0;
  for (std::size_t t = 0; t < ranks.size(); ++t) {
    before += others_before[t];
    ranks[t] = Index(t) + 1 + before;
  }
  return ranks;
}

/// Average precision of one query from the ascending 1-based ranks of its relevant items (>= 1).
inline double average_precision(const std::vector<Index>& ranks) {
  double precision_sum = 0;
  for (std::size_t t = 0; t < ranks.size(); ++t) precision_sum += double(t + 1) / double(ranks[t]);
  return precision_sum / double(ranks.size());
}

/// 1-based ranks (ascending) of the relevant items of one similarity row: those j with
/// gallery_labels(j) == label. O(m log R).
template <class S>
std::vector<Index> relevant_ranks(const S* row, Index m, const IndexVector& gallery_labels, Index label) {
  std::vector<Candidate<S>> relevant;
  for (Index j = 0; j < m; ++j)
    if (gallery_labels(j) == label) relevant.push_back({row[j], j});
  std::sort(relevant.begin(), relevant.end(), RanksBefore());
  // others_before[t]: non-relevant items that rank before relevant item t (prefix sum below)
  std::vector<Index> others_before(relevant.size() + 1, 0);
  for (Index j = 0; j < m; ++j)
    if (gallery_labels(j) != label) {
      const auto p = std::lower_bound(relevant.begin(), relevant.end(), Candidate<S>{row[j], j}, RanksBefore());
      ++others_before[static_cast<std::size_t>(p - relevant.begin())];
    }
  return ranks_from_counts(others_before);
}

}  // namespace detail

inline double precision_at_k(const IndexMatrix& ranking, const IndexVector& query_labels,
                             const IndexVector& gallery_labels, Index K) {
  constexpr const char* where = "precision_at_k";
  detail::require_labels(query_labels, ranking.rows(), where, "query_labels");
  detail::require(K >= 1, where, "K must be >= 1");
  const auto counts = detail::label_counts(gallery_labels);
  Index hits = 0, total = 0;
  for (Index i = 0; i < ranking.rows(); ++i) {
    const auto found = counts.find(query_labels(i));
    const Index r = found == counts.end() ? 0 : std::min(K, found->second);
    detail::require(r <= ranking.cols(), where, "the ranking has fewer than K columns");
    for (Index t = 0; t < r; ++t) {
      const Index j = ranking(i, t);
      detail::require(j >= 0 && j < gallery_labels.size(), where, "ranking holds an index outside the gallery");
      hits += gallery_labels(j) == query_labels(i);
    }
    total += r;
  }
  return detail::percent_of(hits, total, where);
}

template <class DQ, class DG>
RetrievalScores evaluate_retrieval(const Eigen::MatrixBase<DQ>& queries, const IndexVector& query_labels,
                                   const Eigen::MatrixBase<DG>& gallery, const IndexVector& gallery_labels,
                                   const std::vector<Index>& ks, Index block_queries) {
  using S = typename DQ::Scalar;
  constexpr const char* where = "evaluate_retrieval";
  detail::require_size(gallery.cols(), queries.cols(), where, "gallery columns (feature dimension)");
  detail::require_labels(query_labels, queries.rows(), where, "query_labels");
  detail::require_labels(gallery_labels, gallery.rows(), where, "gallery_labels");
  detail::require(!ks.empty() && *std::min_element(ks.begin(), ks.end()) >= 1, where, "ks must be non-empty, all >= 1");
  detail::require(block_queries >= 1, where, "block_queries must be >= 1");
  const Matrix<S> q = l2_normalise_rows(queries), g = l2_normalise_rows(gallery);
  const Index n = q.rows(), m = g.rows(), nk = Index(ks.size());
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> hits(n, nk), r(n, nk);
  Vector<double> average_precision(n);
  detail::for_each_similarity_tile<S>(q, g, SearchBlocks{block_queries, m}, [&](Index q0, Index, const Matrix<S>& tile) {
    for (Index i = q0; i < q0 + tile.rows(); ++i) {
      const std::vector<Index> ranks = detail::relevant_ranks(tile.row(i - q0).data(), m, gallery_labels, query_labels(i));
      const Index relevant = Index(ranks.size());
      average_precision(i) = relevant ? detail::average_precision(ranks) : -1;  // -1: no relevant item
      for (Index c = 0; c < nk; ++c) {
        r(i, c) = std::min(ks[std::size_t(c)], relevant);
        hits(i, c) = std::upper_bound(ranks.begin(), ranks.end(), r(i, c)) - ranks.begin();
      }
    }
  });
  RetrievalScores scores{ks, std::vector<double>(ks.size()), 0};
  for (Index c = 0; c < nk; ++c) scores.precision[std::size_t(c)] = detail::percent_of(hits.col(c).sum(), r.col(c).sum(), where);
  const auto with_relevant = (average_precision.array() >= 0);
  scores.mean_average_precision = 100.0 * with_relevant.select(average_precision, 0).sum() / double(with_relevant.count());
  return scores;
}

template <class DA, class DB>
std::vector<DirectionScores> cross_domain_scores(const Eigen::MatrixBase<DA>& a, const IndexVector& labels_a,
                                                 const Eigen::MatrixBase<DB>& b, const IndexVector& labels_b,
                                                 const std::vector<Index>& ks) {
  return {{"A->B", evaluate_retrieval(a, labels_a, b, labels_b, ks)},
          {"B->A", evaluate_retrieval(b, labels_b, a, labels_a, ks)}};
}

}  // namespace protoot
