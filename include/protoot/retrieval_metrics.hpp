// protoot/retrieval_metrics.hpp — P@K and mAP of cross-domain retrieval (docs/method.md section 5).
//
// P@K: for each query, r = min(K, number of gallery items sharing its label); hits = relevant
// items among its top r; P@K = 100 * sum(hits) / sum(r). mAP: mean over queries (with at least
// one relevant item) of the average precision over the full ranking, in percent. Rankings are by
// cosine similarity, score descending then gallery index ascending, as in retrieval.hpp.
//
// mAP needs every relevant item's rank, not just a top k, but not the sorted ranking: per query,
// the relevant scores are sorted and every other gallery item is binary-searched among them,
// O(m log R) for R relevant items. Similarities come in tiles of block_queries full rows.
#pragma once

#include <string>
#include <vector>

#include "protoot/topk_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// P@K for each K of `ks` and mAP of one retrieval direction, in percent.
struct RetrievalScores {
  std::vector<Index> ks;
  std::vector<double> precision;  ///< precision[t] = P@ks[t]
  double mean_average_precision;
};

/// One row of a per-direction table: "A->B" (queries from A, gallery B) or "B->A".
struct DirectionScores {
  std::string direction;
  RetrievalScores scores;
};

/// P@K (percent) from a precomputed ranking: ranking (n x k', k' >= K, best first, gallery row
/// indices, e.g. TopK::indices) of n queries labelled query_labels (n) against a gallery labelled
/// gallery_labels (m). Only the first min(K, R) columns of each row are read. O(n K + m log m).
inline double precision_at_k(const IndexMatrix& ranking, const IndexVector& query_labels,
                             const IndexVector& gallery_labels, Index K);

/// P@K for every K in `ks` and mAP (percent) of cosine retrieval of `queries` (n x d) in
/// `gallery` (m x d), labels used only for scoring. Exact over the full ranking; time
/// O(n m d + n m log R), memory O(threads * block_queries * m + n |ks|).
template <class DQ, class DG>
RetrievalScores evaluate_retrieval(const Eigen::MatrixBase<DQ>& queries, const IndexVector& query_labels,
                                   const Eigen::MatrixBase<DG>& gallery, const IndexVector& gallery_labels,
                                   const std::vector<Index>& ks, Index block_queries = 32);

/// Both directions of cross-domain retrieval: {"A->B": queries A, gallery B}, {"B->A": ...}.
template <class DA, class DB>
std::vector<DirectionScores> cross_domain_scores(const Eigen::MatrixBase<DA>& a, const IndexVector& labels_a,
                                                 const Eigen::MatrixBase<DB>& b, const IndexVector& labels_b,
                                                 const std::vector<Index>& ks);

}  // namespace protoot

#include "protoot/detail/retrieval_metrics_impl.hpp"
