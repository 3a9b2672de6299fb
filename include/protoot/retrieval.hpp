// protoot/retrieval.hpp — exact top-k search by inner product / cosine similarity.
//
// The similarity matrix of n queries and m gallery items is never formed: a block of queries
// meets a block of gallery rows in one GEMM tile, and each query keeps a small candidate buffer
// filtered by its running k-th best score, so memory is O(threads * block_queries *
// (block_gallery + k) + n k) and the scan of a tile is one compare per entry. Ranking order is
// score descending, then gallery index ascending (deterministic ties), the same order that
// retrieval_metrics.hpp uses for P@K and mAP.
#pragma once

#include "protoot/topk_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// Tile sizes of the blocked search (results do not depend on them; only speed and memory do).
struct SearchBlocks {
  Index queries = 256;   ///< query rows per tile; OpenMP distributes these blocks
  Index gallery = 1024;  ///< gallery rows per tile
};

/// Exact top-k maximum inner product search: for each query row q_i (n x d) the k gallery rows
/// (m x d) with the largest <q_i, g_j>, ordered by score descending then index ascending.
/// Requires 1 <= k <= m, equal d, finite data with finite squared row norms (so no score
/// overflows). Time O(n m d) in GEMM tiles plus O(n m) compares; memory as in the header
/// comment. Float and double. Row-major inputs (Matrix<S>, Maps, row blocks) are read in place;
/// column-major ones are copied (n x d and m x d).
template <class DQ, class DG>
TopK<typename DQ::Scalar> inner_product_topk(const Eigen::MatrixBase<DQ>& queries,
                                             const Eigen::MatrixBase<DG>& gallery, Index k,
                                             SearchBlocks blocks = {});

/// Exact top-k by cosine similarity: the inner_product_topk search on L2-normalised copies of the rows.
/// Zero rows have no direction and throw std::invalid_argument.
template <class DQ, class DG>
TopK<typename DQ::Scalar> cosine_topk(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DG>& gallery,
                                      Index k, SearchBlocks blocks = {});

}  // namespace protoot

#include "protoot/detail/retrieval_impl.hpp"
