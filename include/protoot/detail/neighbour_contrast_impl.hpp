// protoot/detail/neighbour_contrast_impl.hpp — definitions of protoot/losses/neighbour_contrast.hpp.
#pragma once

#include <string>

#include "protoot/detail/validation.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/losses/neighbour_contrast.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// The neighbour count and exclusions of an n-query search in an m-row bank (shared by the CPU
/// and CUDA cosine_neighbours): 1 <= k <= m, or m - 1 when a row may be excluded.
inline void require_neighbour_count(Index k, const IndexVector* excluded, Index n, Index m, const char* where) {
  require_exclusions(excluded, n, m, where);
  const Index available = excluded ? m - 1 : m;
  if (k < 1 || k > available)
    fail(where, "k = " + std::to_string(k) + " must be in [1, " + std::to_string(available) + "]");
}

/// The first k of each ranked row (a top-k, or top-(k + 1) with exclusions) that are not the
/// row's excluded bank index: at most one of the k + 1 columns is skipped.
inline IndexMatrix drop_excluded(const IndexMatrix& ranked, Index k, const IndexVector* excluded) {
  IndexMatrix neighbours(ranked.rows(), k);
  for (Index i = 0; i < ranked.rows(); ++i)
    for (Index column = 0, r = 0; r < k; ++column)
      if (!excluded || ranked(i, column) != (*excluded)(i)) neighbours(i, r++) = ranked(i, column);
  return neighbours;
}

}  // namespace detail

template <class DQ, class DB>
IndexMatrix cosine_neighbours(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank, Index k,
                              const IndexVector* excluded) {
  using S = typename DQ::Scalar;
  constexpr const char* where = "cosine_neighbours";
  detail::require_nonempty(queries, where, "queries");
  detail::require_nonempty(bank, where, "bank");
  detail::require_size(bank.cols(), queries.cols(), where, "bank dimension");
  detail::require_neighbour_count(k, excluded, queries.rows(), bank.rows(), where);
  // The retrieval search (blocked, never the n x m similarity matrix), one extra candidate per
  // query when its own row must be skipped.
  const TopK<S> ranked = detail::search_topk<S>(l2_normalise_rows(queries), l2_normalise_rows(bank),
                                                excluded ? k + 1 : k, SearchBlocks{});
  return detail::drop_excluded(ranked.indices, k, excluded);
}

template <class DQ, class DB>
typename DQ::Scalar neighbour_contrast(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank,
                                       Index k, typename DQ::Scalar tau, const IndexVector* excluded,
                                       PrototypeGradients<typename DQ::Scalar>* grad) {
  using S = typename DQ::Scalar;
  detail::require_positive(tau, "neighbour_contrast", "tau");
  detail::require_finite(queries, "neighbour_contrast", "queries");
  detail::require_finite(bank, "neighbour_contrast", "bank");
  const IndexMatrix neighbours = cosine_neighbours(queries, bank, k, excluded);
  Matrix<S> targets = Matrix<S>::Zero(queries.rows(), bank.rows());
  for (Index i = 0; i < neighbours.rows(); ++i)
    for (Index r = 0; r < k; ++r) targets(i, neighbours(i, r)) = S(1) / S(k);
  return prototype_contrast_soft(queries, bank, targets, tau, grad);
}

}  // namespace protoot
