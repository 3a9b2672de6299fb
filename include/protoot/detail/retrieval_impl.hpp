// protoot/detail/retrieval_impl.hpp — definitions of protoot/retrieval.hpp.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// Calls visit(first_query, first_gallery, tile) for every tile = Q[block] G[block]^T, query
/// blocks in parallel (one tile buffer per thread), gallery blocks in increasing order within a
/// query block. `visit` must only touch state belonging to its query rows.
template <class S, class Visit>
void for_each_similarity_tile(const Eigen::Ref<const Matrix<S>>& queries, const Eigen::Ref<const Matrix<S>>& gallery,
                              SearchBlocks blocks, Visit&& visit) {
  const SerialEigen serial;  // the tiles are parallel already
  const Index n = queries.rows(), m = gallery.rows();
  // Clamped to the problem first: a block size near INT64_MAX would overflow n + block - 1 and
  // g0 + block (signed overflow, unvisited tiles, uninitialised results).
  blocks.queries = std::min(blocks.queries, n);
  blocks.gallery = std::min(blocks.gallery, m);
  const Index query_blocks = (n + blocks.queries - 1) / blocks.queries;
PROTOOT_OMP(parallel)
  {
    Matrix<S> tile;
PROTOOT_OMP(for schedule(dynamic, 1))
    for (Index b = 0; b < query_blocks; ++b) {
      const Index q0 = b * blocks.queries, nq = std::min(blocks.queries, n - q0);
      for (Index g0 = 0; g0 < m; g0 += blocks.gallery) {
        const Index ng = std::min(blocks.gallery, m - g0);
        tile.resize(nq, ng);
        tile.noalias() = queries.middleRows(q0, nq) * gallery.middleRows(g0, ng).transpose();
        visit(q0, g0, static_cast<const Matrix<S>&>(tile));
      }
    }
  }
}

template <class S>
struct Candidate {
  S score;
  Index index;
};

/// Ranking order: higher score first, then lower gallery index. (A function object, so that
/// std::nth_element / std::sort inline it.)
struct RanksBefore {
  template <class S>
  bool operator()(const Candidate<S>& a, const Candidate<S>& b) const {
    return a.score > b.score || (a.score == b.score && a.index < b.index);
  }
};

/// Running top-k of one query over gallery items seen in increasing index order. Candidates
/// accumulate in a buffer of 2k; a full buffer is cut back to its best k by nth_element, which
/// raises the admission threshold. An item equal to the threshold can never enter: it ties
/// with a kept item of lower index.
template <class S>
class TopKBuffer {
 public:
  explicit TopKBuffer(Index k) : k_(k) { items_.reserve(static_cast<std::size_t>(2 * k)); }

  void scan(const S* scores, Index count, Index first_index) {
    // Once k items are in, most chunks hold nothing above the threshold; an OR of comparisons
    // (which the compiler vectorises, unlike a float max without -ffast-math) rejects them.
    constexpr Index chunk = 32;
    Index j0 = 0;
    for (; j0 + chunk <= count; j0 += chunk) {
      const S threshold = threshold_;
      int above = 0;
      for (Index j = j0; j < j0 + chunk; ++j) above |= scores[j] > threshold;
      if (above) admit(scores, j0, j0 + chunk, first_index);
    }
    admit(scores, j0, count, first_index);
  }

  /// Writes the best k, in ranking order, to the given row pointers.
  void finish(Index* indices, S* scores) {
    std::nth_element(items_.begin(), items_.begin() + (k_ - 1), items_.end(), RanksBefore());
    std::sort(items_.begin(), items_.begin() + k_, RanksBefore());
    for (Index t = 0; t < k_; ++t) {
      indices[t] = items_[std::size_t(t)].index;
      scores[t] = items_[std::size_t(t)].score;
    }
  }

 private:
  void admit(const S* scores, Index begin, Index end, Index first_index) {
    for (Index j = begin; j < end; ++j)
      if (scores[j] > threshold_) {
        items_.push_back({scores[j], first_index + j});
        if (static_cast<Index>(items_.size()) == 2 * k_) shrink();
      }
  }

  void shrink() {
    std::nth_element(items_.begin(), items_.begin() + (k_ - 1), items_.end(), RanksBefore());
    threshold_ = items_[std::size_t(k_ - 1)].score;
    items_.resize(std::size_t(k_));
  }

  Index k_;
  S threshold_ = -std::numeric_limits<S>::infinity();
  std::vector<Candidate<S>> items_;
};

/// The part of the top-k contract that reads no gallery entry (a mapped gallery is checked a
/// window at a time): k in [1, gallery_rows], block sizes, the queries' squared norms.
/// |q.g| <= ||q|| ||g||, so finite squared norms keep every score finite (the GPU search checks
/// the same); a NaN or Inf score from finite data would corrupt the ranking silently.
template <class DQ>
void require_topk_queries(const Eigen::MatrixBase<DQ>& queries, Index gallery_rows, Index k, SearchBlocks blocks,
                          const char* where) {
  require(k >= 1 && k <= gallery_rows, where,
          "k = " + std::to_string(k) + " must be in [1, " + std::to_string(gallery_rows) + "]");
  require(blocks.queries >= 1 && blocks.gallery >= 1, where, "block sizes must be >= 1");
  require_finite(queries.rowwise().squaredNorm(), where, "squared row norms of queries (overflow: rescale them)");
}

/// The contract shared by the in-memory top-k searches, checked before any work (so that a shape
/// error is reported as such, not as a symptom of normalising or multiplying mismatched data).
template <class DQ, class DG>
void require_topk_arguments(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DG>& gallery, Index k,
                            SearchBlocks blocks, const char* where) {
  require_feature_pair(queries, gallery, where, "queries", "gallery", "gallery columns (feature dimension)");
  require_topk_queries(queries, gallery.rows(), k, blocks, where);
  require_finite(gallery.rowwise().squaredNorm(), where, "squared row norms of gallery (overflow: rescale it)");
}

/// The blocked search itself, on arguments require_topk_arguments has accepted.
template <class S>
TopK<S> search_topk(const Eigen::Ref<const Matrix<S>>& q, const Eigen::Ref<const Matrix<S>>& g, Index k,
                    SearchBlocks blocks) {
  TopK<S> result{IndexMatrix(q.rows(), k), Matrix<S>(q.rows(), k)};
  std::vector<TopKBuffer<S>> buffers(static_cast<std::size_t>(q.rows()), TopKBuffer<S>(0));
  for_each_similarity_tile<S>(q, g, blocks, [&](Index q0, Index g0, const Matrix<S>& tile) {
    for (Index i = 0; i < tile.rows(); ++i) {
      auto& buffer = buffers[static_cast<std::size_t>(q0 + i)];
      if (g0 == 0) buffer = TopKBuffer<S>(k);
      buffer.scan(tile.row(i).data(), tile.cols(), g0);
      if (g0 + tile.cols() == g.rows()) {
        buffer.finish(result.indices.row(q0 + i).data(), result.scores.row(q0 + i).data());
        buffer = TopKBuffer<S>(0);  // release the memory of finished queries
      }
    }
  });
  return result;
}

}  // namespace detail

template <class DQ, class DG>
TopK<typename DQ::Scalar> inner_product_topk(const Eigen::MatrixBase<DQ>& queries,
                                             const Eigen::MatrixBase<DG>& gallery, Index k,
                                             SearchBlocks blocks) {
  using S = typename DQ::Scalar;
  detail::require_topk_arguments(queries, gallery, k, blocks, "inner_product_topk");
  // Ref: row-major matrices, Maps and row blocks are read in place; other layouts are copied
  return detail::search_topk<S>(queries.derived(), gallery.derived(), k, blocks);
}

template <class DQ, class DG>
TopK<typename DQ::Scalar> cosine_topk(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DG>& gallery,
                                      Index k, SearchBlocks blocks) {
  using S = typename DQ::Scalar;
  detail::require_topk_arguments(queries, gallery, k, blocks, "cosine_topk");
  return detail::search_topk<S>(l2_normalise_rows(queries), l2_normalise_rows(gallery), k, blocks);
}

}  // namespace protoot
