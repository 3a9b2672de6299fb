// protoot/out_of_core.hpp — top-k search and K-means over a data set larger than memory, read
// from a memory-mapped .npy file (io::MappedNpy) a window at a time.
//
// The results are those of the in-memory calls on the same data, bit for bit: top-k merges the
// per-window results in the in-memory ranking order (score descending, then index ascending),
// with windows of whole gallery tiles (a budget below one tile changes the products' rounding,
// not the ranking rule), and K-means runs the same blocked passes, handing each row block's pages back as soon as a
// pass is done with it. What stays resident of the file is bounded (see each function); the
// page cache keeps what the machine can spare, so a second pass over a file that fits in RAM
// costs page faults, not disk reads.
#pragma once

#include <cstddef>

#include "protoot/io/mapped_npy.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/topk_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// How much of a mapped file a streamed search may hold at once.
struct StreamOptions {
  /// Bytes of gallery rows resident at once, including the normalised copy cosine_topk makes of
  /// each window (so a window there is half as many rows). Must hold at least one row.
  std::size_t memory_budget = std::size_t(1) << 30;
};

/// inner_product_topk (retrieval.hpp) against a mapped gallery (m x d): the gallery is searched in
/// windows of memory_budget bytes, each window released before the next is read, and the running
/// top-k merged with each window's. Same result, ordering and contract as in memory (queries
/// n x d finite in memory, 1 <= k <= m, finite squared row norms: a window's are checked when it
/// is read, so an error names the first bad window). Time O(n m d) plus O(n k) per window; memory
/// memory_budget + O(n k) + the search's tiles. Throws std::invalid_argument.
template <class DQ>
TopK<typename DQ::Scalar> inner_product_topk(const Eigen::MatrixBase<DQ>& queries,
                                             const io::MappedNpy<typename DQ::Scalar>& gallery, Index k,
                                             StreamOptions stream = {}, SearchBlocks blocks = {});

/// cosine_topk against a mapped gallery, streamed as inner_product_topk above (each window is
/// normalised as it is read; a zero row throws).
template <class DQ>
TopK<typename DQ::Scalar> cosine_topk(const Eigen::MatrixBase<DQ>& queries,
                                      const io::MappedNpy<typename DQ::Scalar>& gallery, Index k, StreamOptions stream = {},
                                      SearchBlocks blocks = {});

/// kmeans (kmeans.hpp) on a mapped data set X (n x d): the same result as on X in memory. Each
/// pass (finiteness and norms, then every Lloyd and k-means++ pass) reads X in row blocks and
/// releases a block when done, so at most (threads + 1) * 512 rows of X are resident, plus the
/// O(n) labels, distances and norms (and an n x local_trials block during k-means++: prefer
/// KMeansInit::random or a warm start for very large n). max_points_per_centroid trains on a
/// sample copied into memory. Spherical mode is not offered here (it needs unit rows in memory):
/// it throws std::invalid_argument, as do all of kmeans's argument errors.
template <class S>
KMeansResult<S> kmeans(const io::MappedNpy<S>& X, Index k, const KMeansOptions<S>& options = {});

}  // namespace protoot

#include "protoot/detail/out_of_core_impl.hpp"
