// protoot/losses/ot_target_loss.hpp — the OT-target prototype loss (SwAV-style swapped
// prediction): cross-entropy between a transport plan's rows and softmax(Z P^T / tau).
//
// The plan is a constant target (computed by Sinkhorn, no gradient through it); gradients flow
// to the features Z and the prototypes P.
#pragma once

#include <string>

#include <Eigen/Core>

#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot {

/// loss = mean_i -sum_k Q_ik log softmax_k(z_i . p_k / tau) with Q = plan, rows renormalised
/// to sum 1. features Z: n x d; prototypes P: K x d; plan: n x K non-negative, finite, every
/// row with positive mass (any scale: a plan with marginal 1/n is fine); tau > 0.
/// When `grad` is given it receives the gradients w.r.t. Z and P. O(n K d).
template <class DZ, class DP, class DQ>
typename DZ::Scalar ot_target_loss(const Eigen::MatrixBase<DZ>& features, const Eigen::MatrixBase<DP>& prototypes,
                                   const Eigen::MatrixBase<DQ>& plan, typename DZ::Scalar tau,
                                   PrototypeGradients<typename DZ::Scalar>* grad = nullptr) {
  using S = typename DZ::Scalar;
  constexpr const char* where = "ot_target_loss";
  detail::require_nonempty(plan, where, "plan");
  detail::require_finite(plan, where, "plan");
  // Each row is divided by its largest entry before it is summed, so a plan of any scale
  // normalises without overflow (1e308 entries) or an infinite 1 / mass (subnormal entries).
  Matrix<S> target = plan;
  for (Index i = 0; i < target.rows(); ++i) {
    if ((target.row(i).array() < S(0)).any())
      detail::fail(where, "plan row " + std::to_string(i) + " has negative entries");
    const S top = target.row(i).maxCoeff();
    if (!(top > S(0))) detail::fail(where, "plan row " + std::to_string(i) + " must have positive mass (got 0)");
    target.row(i) /= top;
    target.row(i) /= target.row(i).sum();
  }
  return prototype_contrast_soft(features, prototypes, target, tau, grad);
}

}  // namespace protoot
