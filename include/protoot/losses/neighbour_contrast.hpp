// protoot/losses/neighbour_contrast.hpp — contrast against a memory bank whose positives are
// each query's k nearest neighbours in that bank (cosine similarity).
//
// Neighbours stand in for same-class samples that no augmentation produces; the search is part
// of the kernel so callers cannot pair a loss with neighbours found under another metric.
#pragma once

#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/topk_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// The k most cosine-similar bank rows of every query, most similar first, ties broken by the
/// lower bank index. queries: n x d; bank: m x d (no zero rows); 1 <= k <= m, or <= m - 1 when
/// `excluded` is given: excluded(i) is a bank row query i may not pick (its own entry; -1 =
/// none). The search is cosine_topk's (blocked GEMM tiles, never the n x m similarity matrix,
/// for k + 1 with exclusions): O(n m d) time, O(n k) memory beyond its tiles and the normalised
/// copies of the inputs.
template <class DQ, class DB>
IndexMatrix cosine_neighbours(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank, Index k,
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
