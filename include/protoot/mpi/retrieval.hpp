// protoot/mpi/retrieval.hpp — exact cosine top-k search and retrieval scores with the gallery
// (and the queries) sharded by rows over the ranks of an MPI communicator.
//
// Shards are consecutive row ranges in rank order (rank r holds global rows [o_r, o_{r+1});
// any split, empty shards allowed); indices in results are global gallery rows. Rankings follow
// the single-process order (score descending, then gallery index ascending).
#pragma once

#include <mpi.h>

#include <vector>

#include "protoot/mpi/detail/retrieval.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"

namespace protoot::mpi {

/// Exact top-k by cosine similarity (protoot::cosine_topk) of every rank's queries (n_r x d) in
/// the gallery spread over all ranks (this rank's m_r x d rows). Collective over `comm`.
/// The gallery never moves: each rank's (unit) queries travel once around the ring of ranks,
/// carrying their best k so far, and every rank merges its shard's top-k into them.
/// Returns this rank's n_r x k result (global gallery indices), the same as
/// protoot::cosine_topk on the concatenated queries and gallery. k (1 <= k <= total gallery
/// rows) must be equal on every rank; `blocks` only tunes speed.
/// Cost: O(n m d / P) per rank; per rank n (d + 2k) values are sent (n = all queries), in P
/// steps. Memory O(max n_r (d + k) + local search). Throws std::invalid_argument on every rank
/// for shards of different d, non-finite data or zero rows (any rank), k out of range or
/// different across ranks; on MPI_COMM_NULL (locally).
template <class DQ, class DG>
TopK<typename DQ::Scalar> cosine_topk(MPI_Comm comm, const Eigen::MatrixBase<DQ>& query_rows,
                                      const Eigen::MatrixBase<DG>& gallery_rows, Index k, SearchBlocks blocks = {}) {
  using S = typename DQ::Scalar;
  return detail::sharded_topk<S>(comm, query_rows.derived(), gallery_rows.derived(), k, blocks);
}

/// P@K for every K in `ks` and mAP (percent) of cosine retrieval (protoot::evaluate_retrieval)
/// with queries and gallery sharded over `comm`: query_rows (n_r x d) labelled query_labels
/// (n_r), gallery_rows (m_r x d) labelled gallery_labels (m_r); ks equal on all ranks. Returns
/// the same scores on every rank (to the rounding of the mAP average).
/// The gallery shards travel around the ring twice (relevant items' scores, then how many
/// others rank before each), so per rank 2 m (d + 1) values are sent and no rank ever holds more
/// than two shards. Time O(n m d / P + n m log R / P). Errors as mpi::cosine_topk, plus label
/// counts that do not match the rows and bad ks.
template <class DQ, class DG>
RetrievalScores evaluate_retrieval(MPI_Comm comm, const Eigen::MatrixBase<DQ>& query_rows,
                                   const IndexVector& query_labels, const Eigen::MatrixBase<DG>& gallery_rows,
                                   const IndexVector& gallery_labels, const std::vector<Index>& ks) {
  using S = typename DQ::Scalar;
  return detail::sharded_scores<S>(comm, query_rows.derived(), query_labels, gallery_rows.derived(), gallery_labels, ks);
}

}  // namespace protoot::mpi
