// protoot/detail/prototype_contrast_impl.hpp — definitions of protoot/losses/prototype_contrast.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/losses/info_nce.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// The hard prototype contrast's match: one prototype index in [0, k) for each of n features.
inline void require_match(const IndexVector& match, Index n, Index k, const char* where) {
  require_size(match.size(), n, where, "match must have one entry per feature");
  for (Index i = 0; i < match.size(); ++i)
    if (match(i) < 0 || match(i) >= k)
      fail(where, "match(" + std::to_string(i) + ") = " + std::to_string(match(i)) + " is outside [0, " +
                      std::to_string(k) + ")");
}

/// Hard prototype contrast on top of any backend's info_nce (the CPU one and cuda/losses.cuh
/// share this): `info_nce_matched(grad)` must return info_nce(features, matched prototypes,
/// all prototypes, tau, &match, grad). Prototype c_k's gradient adds its negative role to its
/// positive role for every feature matched to it.
template <class S, class InfoNceMatched>
S prototype_contrast_from(const IndexVector& match, PrototypeGradients<S>* grad, InfoNceMatched&& info_nce_matched) {
  if (!grad) return info_nce_matched(nullptr);
  InfoNceGradients<S> g;
  const S loss = info_nce_matched(&g);
  grad->features = std::move(g.queries);
  grad->prototypes = std::move(g.negatives);
  for (Index i = 0; i < match.size(); ++i) grad->prototypes.row(match(i)) += g.positives.row(i);
  return loss;
}

}  // namespace detail

template <class DZ, class DC>
typename DZ::Scalar prototype_contrast(const Eigen::MatrixBase<DZ>& features, const Eigen::MatrixBase<DC>& prototypes,
                                       const IndexVector& match, typename DZ::Scalar tau,
                                       PrototypeGradients<typename DZ::Scalar>* grad) {
  using S = typename DZ::Scalar;
  constexpr const char* where = "prototype_contrast";
  detail::require_nonempty(features, where, "features");
  detail::require_nonempty(prototypes, where, "prototypes");
  detail::require_match(match, features.rows(), prototypes.rows(), where);
  const Eigen::Ref<const Matrix<S>> c(prototypes);  // no copy of row-major prototypes
  const Matrix<S> matched = c(match, Eigen::all);
  return detail::prototype_contrast_from<S>(
      match, grad, [&](InfoNceGradients<S>* g) { return info_nce(features, matched, c, tau, &match, g); });
}

template <class DZ, class DC, class DW>
typename DZ::Scalar prototype_contrast_soft(const Eigen::MatrixBase<DZ>& features,
                                            const Eigen::MatrixBase<DC>& prototypes,
                                            const Eigen::MatrixBase<DW>& assignment, typename DZ::Scalar tau,
                                            PrototypeGradients<typename DZ::Scalar>* grad) {
  using S = typename DZ::Scalar;
  constexpr const char* where = "prototype_contrast_soft";
  detail::require_nonempty(features, where, "features");
  detail::require_nonempty(prototypes, where, "prototypes");
  detail::require_positive(tau, where, "tau");
  detail::require_size(prototypes.cols(), features.cols(), where, "prototypes dimension");
  detail::require_size(assignment.rows(), features.rows(), where, "assignment rows (one per feature)");
  detail::require_size(assignment.cols(), prototypes.rows(), where, "assignment columns (one per prototype)");
  detail::require_finite(features, where, "features");
  detail::require_finite(prototypes, where, "prototypes");
  detail::require_finite(assignment, where, "assignment");
  if ((assignment.array() < 0).any()) detail::fail(where, "assignment has negative entries");
  for (Index i = 0; i < assignment.rows(); ++i) {
    const double total = static_cast<double>(assignment.row(i).sum());
    if (std::abs(total - 1.0) > 1e-4) {
      std::ostringstream os;
      os << "assignment row " << i << " must sum to 1 (got " << total << ")";
      detail::fail(where, os.str());
    }
  }

  const Eigen::Ref<const Matrix<S>> z(features), c(prototypes), w(assignment);
  const detail::SerialEigen serial;
  Matrix<S> logits;
  detail::parallel_product(logits, z, c.transpose());
  logits /= tau;
  detail::require_finite(logits, where, "logits z.c / tau (overflow)");  // as info_nce checks its similarities
  const Index n = z.rows(), k = c.rows();
  Vector<S> row_loss(n);  // summed in row order after the loop: independent of the thread count
PROTOOT_OMP(parallel for if (n * k > 32768))
  for (Index i = 0; i < n; ++i) {
    const S top = logits.row(i).maxCoeff();
    const S mass = w.row(i).sum();  // 1 up to the tolerance; kept so value and gradient agree
    const S target_dot = w.row(i).dot(logits.row(i));
    detail::exp_shifted_inplace(logits.row(i).data(), k, top, S(1));  // now exp(logit - top)
    const S sum = logits.row(i).sum();
    row_loss(i) = mass * (top + std::log(sum)) - target_dot;
    if (grad) logits.row(i) = (logits.row(i) * (mass / sum) - w.row(i)) / (S(n) * tau);
  }
  if (grad) {  // logits now hold dloss/d(z c^T)
    detail::parallel_product(grad->features, logits, c);
    detail::parallel_product(grad->prototypes, logits.transpose(), z);
  }
  S total = S(0);
  for (Index i = 0; i < n; ++i) total += row_loss(i);
  return total / S(n);
}

}  // namespace protoot
