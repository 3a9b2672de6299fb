// protoot/detail/info_nce_impl.hpp — definitions of protoot/losses/info_nce.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "protoot/detail/fast_exp.hpp"
#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/losses/info_nce.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// Column excluded from row i's negatives, or -1; validates the vector against n rows, m columns.
inline void require_exclusions(const IndexVector* excluded, Index n, Index m, const char* where) {
  if (!excluded) return;
  require_size(excluded->size(), n, where, "excluded must have one entry per query");
  for (Index i = 0; i < n; ++i)
    if ((*excluded)(i) < -1 || (*excluded)(i) >= m)
      fail(where, "excluded(" + std::to_string(i) + ") = " + std::to_string((*excluded)(i)) +
                      " is outside [-1, " + std::to_string(m) + ")");
}

/// tau > 0 and logits / tau with room to spare: the loss adds and subtracts logits / tau, so
/// 4 max|logit| / tau must be finite (a denormal tau alone overflows 1 / tau).
template <class S>
void require_logit_scale(S max_abs_logit, S tau, const char* where) {
  require_positive(tau, where, "tau");
  if (!std::isfinite(S(4) * (max_abs_logit / tau)) || !std::isfinite(S(1) / tau)) {
    std::ostringstream os;
    os.precision(std::numeric_limits<S>::max_digits10);
    os << "logits / tau overflow (max |logit| = " << max_abs_logit << ", tau = " << tau
       << "): raise tau or rescale the features";
    fail(where, os.str());
  }
}

/// x_j <- exp((x_j - shift) * scale) over a contiguous row, in SIMD (fast_exp, about 1 ulp;
/// Eigen's AVX-512 exp trips a GCC 12 -Wuninitialized false positive in every user's build).
template <class S>
void exp_shifted_inplace(S* x, Index m, S shift, S scale) {
PROTOOT_OMP(simd)
  for (Index j = 0; j < m; ++j) x[j] = fast_exp((x[j] - shift) * scale);
}

/// info_nce_logits on validated inputs, working in the negatives' storage (no n x m copy).
template <class S>
S info_nce_logits_inplace(const Vector<S>& p, Matrix<S> e, S tau, const IndexVector* excluded,
                          InfoNceLogitGradients<S>* grad) {
  // e holds the negative logits N, then e_ij = exp((N_ij - top_i) / tau) (0 at the excluded
  // entry), then, with grad, dloss/dN.
  const Index n = p.size(), m = e.cols();
  const S inv_tau = S(1) / tau, scale = S(1) / (S(n) * tau);
  Vector<S> positive_grad(n);
  Vector<S> row_loss(n);  // summed in row order after the loop: independent of the thread count
PROTOOT_OMP(parallel for schedule(dynamic, 16) if (n * m > 32768))
  for (Index i = 0; i < n; ++i) {
    const Index skip = excluded ? (*excluded)(i) : Index(-1);
    if (skip >= 0) e(i, skip) = std::numeric_limits<S>::lowest();
    const S top = m > 0 ? std::max(p(i), e.row(i).maxCoeff()) : p(i);
    exp_shifted_inplace(e.row(i).data(), m, top, inv_tau);  // every entry <= 1: no overflow
    if (skip >= 0) e(i, skip) = S(0);
    const S positive_term = std::exp((p(i) - top) * inv_tau);
    const S sum = positive_term + e.row(i).sum();
    row_loss(i) = top * inv_tau + std::log(sum) - p(i) * inv_tau;  // log-sum-exp of the row - p_i / tau
    // d/dlogit of (lse - p/tau) is softmax - onehot(positive), times 1/(n tau)
    if (grad) {
      positive_grad(i) = (positive_term / sum - S(1)) * scale;
      e.row(i) *= scale / sum;
    }
  }
  if (grad) {
    grad->positive = std::move(positive_grad);
    grad->negatives = std::move(e);
  }
  S total = S(0);
  for (Index i = 0; i < n; ++i) total += row_loss(i);
  return total / S(n);
}

}  // namespace detail

template <class DP, class DN>
typename DP::Scalar info_nce_logits(const Eigen::MatrixBase<DP>& positive, const Eigen::MatrixBase<DN>& negatives,
                                    typename DP::Scalar tau, const IndexVector* excluded,
                                    InfoNceLogitGradients<typename DP::Scalar>* grad) {
  using S = typename DP::Scalar;
  constexpr const char* where = "info_nce_logits";
  detail::require_nonempty(positive, where, "positive");
  detail::require_positive(tau, where, "tau");
  const Index n = positive.size(), m = negatives.cols();
  detail::require_size(negatives.rows(), n, where, "negatives must have one row per positive");
  detail::require_finite(positive, where, "positive");
  detail::require_finite(negatives, where, "negatives");
  detail::require_exclusions(excluded, n, m, where);
  const S max_abs = std::max<S>(positive.cwiseAbs().maxCoeff(), m > 0 ? S(negatives.cwiseAbs().maxCoeff()) : S(0));
  detail::require_logit_scale(max_abs, tau, where);

  return detail::info_nce_logits_inplace<S>(positive, negatives, tau, excluded, grad);
}

template <class DQ, class DK, class DV>
typename DQ::Scalar info_nce(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DK>& positives,
                             const Eigen::MatrixBase<DV>& negatives, typename DQ::Scalar tau,
                             const IndexVector* excluded,
                             InfoNceGradients<typename DQ::Scalar>* grad) {
  using S = typename DQ::Scalar;
  constexpr const char* where = "info_nce";
  detail::require_nonempty(queries, where, "queries");
  detail::require_size(positives.rows(), queries.rows(), where, "positives must have one row per query");
  detail::require_size(positives.cols(), queries.cols(), where, "positives dimension");
  detail::require_size(negatives.cols(), queries.cols(), where, "negatives dimension (also when it has no rows)");
  detail::require_finite(queries, where, "queries");
  detail::require_finite(positives, where, "positives");
  detail::require_finite(negatives, where, "negatives");

  // Ref: no copy when the caller passes plain row-major matrices (a 4096-row bank, say)
  const Eigen::Ref<const Matrix<S>> q(queries), k(positives), v(negatives);
  const detail::SerialEigen serial;
  const Vector<S> pos = (q.array() * k.array()).rowwise().sum();
  Matrix<S> neg;
  detail::parallel_product(neg, q, v.transpose());
  detail::require_finite(pos, where, "positive similarities (overflow)");
  detail::require_finite(neg, where, "negative similarities (overflow)");
  detail::require_exclusions(excluded, q.rows(), v.rows(), where);
  detail::require_logit_scale(std::max<S>(pos.cwiseAbs().maxCoeff(), neg.size() ? S(neg.cwiseAbs().maxCoeff()) : S(0)),
                              tau, where);
  InfoNceLogitGradients<S> g;
  const S loss = detail::info_nce_logits_inplace<S>(pos, std::move(neg), tau, excluded, grad ? &g : nullptr);
  if (!grad) return loss;
  detail::parallel_product(grad->queries, g.negatives, v);
  grad->queries += g.positive.asDiagonal() * k;
  grad->positives = g.positive.asDiagonal() * q;
  detail::parallel_product(grad->negatives, g.negatives.transpose(), q);
  return loss;
}

namespace detail {

/// Two-view InfoNCE on top of any backend's info_nce (the CPU one and cuda/losses.cuh share this):
/// `info_nce_b(excluded, grad)` must return info_nce(a, b, b, tau, &excluded, grad) for views a, b
/// of n rows. Excluding the diagonal makes b_i the positive of a_i and the other rows of b its
/// negatives; b plays both roles, so its gradient is the sum of both.
template <class S, class InfoNceB>
S info_nce_two_views_from(Index n, TwoViewGradients<S>* grad, InfoNceB&& info_nce_b) {
  const IndexVector diagonal = IndexVector::LinSpaced(n, 0, n - 1);
  if (!grad) return info_nce_b(diagonal, nullptr);
  InfoNceGradients<S> g;
  const S loss = info_nce_b(diagonal, &g);
  grad->a = std::move(g.queries);
  grad->b = g.positives + g.negatives;
  return loss;
}

}  // namespace detail

template <class DA, class DB>
typename DA::Scalar info_nce_two_views(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b,
                                       typename DA::Scalar tau, TwoViewGradients<typename DA::Scalar>* grad) {
  using S = typename DA::Scalar;
  return detail::info_nce_two_views_from<S>(a.rows(), grad,
                                            [&](const IndexVector& excluded, InfoNceGradients<S>* grad) {
                                              return info_nce(a, b, b, tau, &excluded, grad);
                                            });
}

}  // namespace protoot
