// protoot/losses/neighbour_contrast.hpp — contrast against a memory bank whose positives are
// each query's k nearest neighbours in that bank (cosine similarity).
//
// Neighbours stand in for same-class samples that no augmentation produces; the search is part
// of the kernel so callers cannot pair a loss with neighbours found under another metric.
#pragma once

#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// Row-major matrix of indices: neighbours(i, r) is the r-th nearest bank row of query i.
using NeighbourMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The k most cosine-similar bank rows of every query, most similar first, ties broken by the
/// lower bank index. queries: n x d; bank: m x d (no zero rows); 1 <= k <= m, or <= m - 1 when
/// `excluded` is given: excluded(i) is a bank row query i may not pick (its own entry; -1 =
/// none). O(n m d + n m log k).
template <class DQ, class DB>
NeighbourMatrix cosine_neighbours(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank, Index k,
                                  const IndexVector* excluded = nullptr);

/// Neighbour contrast: loss = mean_i -(1/k) sum_{j in NN_k(i)} log softmax_j(q_i . b_j / tau),
/// the softmax running over the whole bank; NN_k(i) = cosine_neighbours(queries, bank, k, excluded).
/// queries: n x d; bank: m x d; k, excluded as in cosine_neighbours; tau > 0. The neighbour
/// choice is constant (no gradient through the search). When `grad` is given it receives the
/// gradients w.r.t. the queries (`features`) and the bank (`prototypes`). O(n m d).
template <class DQ, class DB>
typename DQ::Scalar neighbour_contrast(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank,
                                       Index k, typename DQ::Scalar tau, const IndexVector* excluded = nullptr,
                                       PrototypeGradients<typename DQ::Scalar>* grad = nullptr);

}  // namespace protoot

#include "protoot/detail/neighbour_contrast_impl.hpp"
