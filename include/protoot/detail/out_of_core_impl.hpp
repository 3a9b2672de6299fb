// protoot/detail/out_of_core_impl.hpp — definitions of protoot/out_of_core.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <string>

#include "protoot/detail/kmeans_impl.hpp"
#include "protoot/detail/openmp.hpp"
#include "protoot/detail/retrieval_impl.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/out_of_core.hpp"

namespace protoot {
namespace detail {

/// Merges `window` (gallery rows after all of `best`'s) into the running `best`, keeping the k
/// best of each query in ranking order: on equal scores the earlier (lower-index) entry wins.
template <class S>
TopK<S> merge_topk(const TopK<S>& best, const TopK<S>& window, Index k) {
  const Index n = best.indices.rows(), a = best.indices.cols(), b = window.indices.cols();
  const Index keep = std::min(k, a + b);
  TopK<S> out{IndexMatrix(n, keep), Matrix<S>(n, keep)};
  for (Index i = 0; i < n; ++i) {
    Index x = 0, y = 0;
    for (Index t = 0; t < keep; ++t) {
      const bool from_best = y == b || (x < a && best.scores(i, x) >= window.scores(i, y));
      out.scores(i, t) = from_best ? best.scores(i, x) : window.scores(i, y);
      out.indices(i, t) = from_best ? best.indices(i, x++) : window.indices(i, y++);
    }
  }
  return out;
}

/// The windowed search behind both streamed top-k calls; `cosine` normalises each window.
template <class S>
TopK<S> stream_topk(const Eigen::Ref<const Matrix<S>>& queries, const io::MappedNpy<S>& gallery, Index k,
                    StreamOptions stream, SearchBlocks blocks, bool cosine, const char* where) {
  const Index m = gallery.rows();
  require_nonempty(queries, where, "queries");
  require_size(gallery.cols(), queries.cols(), where, "gallery columns (feature dimension)");
  require_finite(queries, where, "queries");
  require_topk_queries(queries, m, k, blocks, where);
  const std::size_t row_bytes = static_cast<std::size_t>(gallery.cols()) * sizeof(S) * (cosine ? 2 : 1);
  require(stream.memory_budget >= row_bytes, where,
          "memory_budget (" + std::to_string(stream.memory_budget) + " bytes) must hold one gallery row (" +
              std::to_string(row_bytes) + " bytes" + (cosine ? ", with its normalised copy)" : ")"));
  // Whole gallery tiles per window when the budget allows: the tiles then fall where they fall in
  // memory, and each score is computed by the same product (bit for bit the in-memory result).
  Index window = std::min<Index>(m, static_cast<Index>(stream.memory_budget / row_bytes));
  if (window < m && window >= blocks.gallery) window -= window % blocks.gallery;
  const Matrix<S> unit_queries = cosine ? l2_normalise_rows(queries) : Matrix<S>();
  const Eigen::Ref<const Matrix<S>> q = cosine ? Eigen::Ref<const Matrix<S>>(unit_queries) : queries;
  TopK<S> best;
  for (Index g0 = 0; g0 < m; g0 += window) {
    const Index rows = std::min(window, m - g0);
    const auto rows_map = gallery.matrix().middleRows(g0, rows);
    // One pass for the norms; the entries are read again only to name a failure precisely.
    const Vector<S> squared_norms = rows_map.rowwise().squaredNorm();
    if (!squared_norms.allFinite())
      require_finite(rows_map, where, ("gallery rows " + std::to_string(g0) + "-" + std::to_string(g0 + rows - 1)).c_str());
    require_finite(squared_norms, where, "squared row norms of gallery (overflow: rescale it)");
    TopK<S> part = cosine ? search_topk<S>(q, l2_normalise_rows(rows_map), std::min(k, rows), blocks)
                          : search_topk<S>(q, rows_map, std::min(k, rows), blocks);
    gallery.release(g0, rows);
    part.indices.array() += g0;
    best = g0 == 0 ? std::move(part) : merge_topk(best, part, k);
  }
  return best;
}

}  // namespace detail

template <class DQ>
TopK<typename DQ::Scalar> inner_product_topk(const Eigen::MatrixBase<DQ>& queries,
                                             const io::MappedNpy<typename DQ::Scalar>& gallery, Index k,
                                             StreamOptions stream, SearchBlocks blocks) {
  using S = typename DQ::Scalar;
  return detail::stream_topk<S>(queries.derived(), gallery, k, stream, blocks, false, "inner_product_topk");
}

template <class DQ>
TopK<typename DQ::Scalar> cosine_topk(const Eigen::MatrixBase<DQ>& queries,
                                      const io::MappedNpy<typename DQ::Scalar>& gallery, Index k, StreamOptions stream,
                                      SearchBlocks blocks) {
  using S = typename DQ::Scalar;
  return detail::stream_topk<S>(queries.derived(), gallery, k, stream, blocks, true, "cosine_topk");
}

template <class S>
KMeansResult<S> kmeans(const io::MappedNpy<S>& X, Index k, const KMeansOptions<S>& options) {
  constexpr const char* where = "kmeans";
  const detail::SerialEigen serial;
  detail::require(!options.spherical, where,
                  "spherical mode needs X's unit rows in memory: not offered on a mapped file");
  const auto x = X.matrix();
  const Index n = x.rows(), d = x.cols();
  detail::validate_kmeans_arguments(n, d, k, options);
  // One pass for finiteness and the squared norms, a block at a time (the in-memory call checks
  // X whole; here reading it whole is what must not happen).
  Vector<S> squared_norms(n);
  std::atomic<bool> finite{true};
  detail::for_each_row_block(n, detail::kmeans_threads(n, n * d), [&](Index first, Index rows, int) {
    const auto block = x.middleRows(first, rows);
    if (!std::isfinite(double((block.array() * S(0)).sum()))) finite = false;
    squared_norms.segment(first, rows) = block.rowwise().squaredNorm();
    X.release(first, rows);
  });
  detail::require(finite, where, "X contains NaN or Inf");
  const auto release = [&X](Index first, Index rows) { X.release(first, rows); };
  return detail::kmeans_on_data(
      detail::KMeansData<S>{x, std::move(squared_norms), options.weights.size() ? &options.weights : nullptr, false,
                            release},
      k, options);
}

}  // namespace protoot
