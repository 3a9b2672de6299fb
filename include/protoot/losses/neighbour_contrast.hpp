// protoot/losses/neighbour_contrast.hpp — contrast against a memory bank whose positives are
// each query's k nearest neighbours in that bank (cosine similarity).
//
// Neighbours stand in for same-class samples that no augmentation produces; the search is part
// of the kernel so callers cannot pair a loss with neighbours found under another metric.
#pragma once

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "protoot/detail/openmp.hpp"
#include "protoot/l2_normalize.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot {

/// Row-major matrix of indices: neighbours(i, r) is the r-th nearest bank row of query i.
using NeighbourMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The k most cosine-similar bank rows of every query, most similar first, ties broken by the
/// lower bank index. queries: n x d; bank: m x d (no zero rows); 1 <= k <= m, or <= m - 1 when
/// `excluded` is given: excluded(i) is a bank row query i may not pick (its own entry; -1 =
/// none). O(n m d + n m log k).
template <class DQ, class DB>
NeighbourMatrix cosine_neighbours(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank, Index k,
                                  const IndexVector* excluded = nullptr) {
  using S = typename DQ::Scalar;
  constexpr const char* where = "cosine_neighbours";
  detail::require_nonempty(queries, where, "queries");
  detail::require_nonempty(bank, where, "bank");
  detail::require_size(bank.cols(), queries.cols(), where, "bank dimension");
  const Index n = queries.rows(), m = bank.rows();
  detail::require_exclusions(excluded, n, m, where);
  const Index available = excluded ? m - 1 : m;
  if (k < 1 || k > available)
    detail::fail(where, "k = " + std::to_string(k) + " must be in [1, " + std::to_string(available) + "]");
  const detail::SerialEigen serial;
  Matrix<S> similarity;
  detail::parallel_product(similarity, l2_normalize_rows(queries), l2_normalize_rows(bank).transpose());
  NeighbourMatrix neighbours(n, k);
PROTOOT_OMP(parallel for if (n * m > 32768))
  for (Index i = 0; i < n; ++i) {
    std::vector<Index> order(static_cast<size_t>(m));
    std::iota(order.begin(), order.end(), Index(0));
    if (excluded && (*excluded)(i) >= 0) order.erase(order.begin() + (*excluded)(i));
    const auto more_similar = [&](Index a, Index b) {
      return similarity(i, a) > similarity(i, b) || (similarity(i, a) == similarity(i, b) && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), more_similar);
    for (Index r = 0; r < k; ++r) neighbours(i, r) = order[static_cast<size_t>(r)];
  }
  return neighbours;
}

/// Neighbour contrast: loss = mean_i -(1/k) sum_{j in NN_k(i)} log softmax_j(q_i . b_j / tau),
/// the softmax running over the whole bank; NN_k(i) = cosine_neighbours(queries, bank, k, excluded).
/// queries: n x d; bank: m x d; k, excluded as in cosine_neighbours; tau > 0. The neighbour
/// choice is constant (no gradient through the search). When `grad` is given it receives the
/// gradients w.r.t. the queries (`features`) and the bank (`prototypes`). O(n m d).
template <class DQ, class DB>
typename DQ::Scalar neighbour_contrast(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank,
                                       Index k, typename DQ::Scalar tau, const IndexVector* excluded = nullptr,
                                       PrototypeGradients<typename DQ::Scalar>* grad = nullptr) {
  using S = typename DQ::Scalar;
  detail::require_positive(tau, "neighbour_contrast", "tau");
  detail::require_finite(queries, "neighbour_contrast", "queries");
  detail::require_finite(bank, "neighbour_contrast", "bank");
  const NeighbourMatrix neighbours = cosine_neighbours(queries, bank, k, excluded);
  Matrix<S> targets = Matrix<S>::Zero(queries.rows(), bank.rows());
  for (Index i = 0; i < neighbours.rows(); ++i)
    for (Index r = 0; r < k; ++r) targets(i, neighbours(i, r)) = S(1) / S(k);
  return prototype_contrast_soft(queries, bank, targets, tau, grad);
}

}  // namespace protoot
