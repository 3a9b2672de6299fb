// protoot/losses/info_nce.hpp — the InfoNCE loss: one positive logit against a set of negatives.
//
// Every contrastive term of ProtoOT is this one kernel with different positives and negatives:
// two augmented views (in-batch negatives), a query against a key queue (MoCo), the matched
// prototype against the unmatched ones, and the released code's folded positive
// q.k_aug + 0.5 q.nn + 0.05 q.c_match (pass that weighted key as the positive). A per-row
// `excluded` column drops the positive's own entry from the negatives (the diagonal of an
// in-batch similarity matrix, the matched prototype), so no variant needs its own code.
#pragma once

#include "protoot/types.hpp"

namespace protoot {

/// Gradients of info_nce_logits: w.r.t. the positive logits (n) and the negative logits (n x m).
template <class S>
struct InfoNceLogitGradients {
  Vector<S> positive;
  Matrix<S> negatives;
};

/// Gradients of info_nce: w.r.t. queries (n x d), positive keys (n x d) and negatives (m x d).
template <class S>
struct InfoNceGradients {
  Matrix<S> queries, positives, negatives;
};

/// Gradients of info_nce_two_views: w.r.t. view a (n x d) and view b (n x d).
template <class S>
struct TwoViewGradients {
  Matrix<S> a, b;
};

/// InfoNCE on precomputed similarities (not yet divided by tau):
///   loss = mean_i [ log( e^{p_i/tau} + sum_{j != excluded_i} e^{N_ij/tau} ) - p_i/tau ].
/// positive: n similarities; negatives: n x m (m may be 0); tau > 0; excluded: optional column
/// per row to leave out of the negatives (-1 = none). Stable by log-sum-exp at any tau.
/// When `grad` is given it receives dloss/dp (n) and dloss/dN (n x m, 0 at excluded entries).
/// O(n m).
template <class DP, class DN>
typename DP::Scalar info_nce_logits(const Eigen::MatrixBase<DP>& positive, const Eigen::MatrixBase<DN>& negatives,
                                    typename DP::Scalar tau, const IndexVector* excluded = nullptr,
                                    InfoNceLogitGradients<typename DP::Scalar>* grad = nullptr);

/// InfoNCE of queries against features: positive logit q_i . k_i, negative logits q_i . v_j
/// for every row v_j of `negatives` except column excluded_i.
/// queries, positives: n x d; negatives: m x d (a key queue, a memory bank, prototypes or the
/// batch's own keys); tau > 0. Features are used as given (normalise them first for cosine).
/// When `grad` is given it receives the gradients w.r.t. all three inputs. O(n m d); row-major
/// inputs are read in place, column-major ones copied.
template <class DQ, class DK, class DV>
typename DQ::Scalar info_nce(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DK>& positives,
                             const Eigen::MatrixBase<DV>& negatives, typename DQ::Scalar tau,
                             const IndexVector* excluded = nullptr,
                             InfoNceGradients<typename DQ::Scalar>* grad = nullptr);

/// Two-view InfoNCE (one direction of NT-Xent / CLIP): view a_i's positive is b_i, its
/// negatives are the other rows of b. a, b: n x d (n >= 1), tau > 0. When `grad` is given it
/// receives the gradients w.r.t. a and b. O(n^2 d).
template <class DA, class DB>
typename DA::Scalar info_nce_two_views(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b,
                                       typename DA::Scalar tau,
                                       TwoViewGradients<typename DA::Scalar>* grad = nullptr);

}  // namespace protoot

#include "protoot/detail/info_nce_impl.hpp"
