// protoot/losses/ot_target_loss.hpp — the OT-target prototype loss (SwAV-style swapped
// prediction): cross-entropy between a transport plan's rows and softmax(Z P^T / tau).
//
// The plan is a constant target (computed by Sinkhorn, no gradient through it); gradients flow
// to the features Z and the prototypes P.
#pragma once

#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// loss = mean_i -sum_k Q_ik log softmax_k(z_i . p_k / tau) with Q = plan, rows renormalised
/// to sum 1. features Z: n x d; prototypes P: K x d; plan: n x K non-negative, finite, every
/// row with positive mass (any scale: a plan with marginal 1/n is fine); tau > 0.
/// When `grad` is given it receives the gradients w.r.t. Z and P. O(n K d).
template <class DZ, class DP, class DQ>
typename DZ::Scalar ot_target_loss(const Eigen::MatrixBase<DZ>& features, const Eigen::MatrixBase<DP>& prototypes,
                                   const Eigen::MatrixBase<DQ>& plan, typename DZ::Scalar tau,
                                   PrototypeGradients<typename DZ::Scalar>* grad = nullptr);

}  // namespace protoot

#include "protoot/detail/ot_target_loss_impl.hpp"
