// protoot/losses/prototype_contrast.hpp — pull each feature to its matched prototype, push it
// from the unmatched ones.
//
// Two ways to say "matched": a hard index per sample (the argmax of an OT plan, as ProtoOT's
// released code trains) or a soft assignment row (a row-normalised plan, SwAV-style). The hard
// form is InfoNCE with the matched prototype as positive and the others as negatives; the soft
// form is the cross-entropy between the assignment and softmax(z C^T / tau).
#pragma once

#include "protoot/types.hpp"

namespace protoot {

/// Gradients of a prototype loss w.r.t. the features (n x d) and the prototypes (K x d).
template <class S>
struct PrototypeGradients {
  Matrix<S> features, prototypes;
};

/// Hard prototype contrast: loss = mean_i -log softmax_k(z_i . c_k / tau)[match_i], i.e.
/// InfoNCE whose positive is the matched prototype and whose negatives are the K - 1 others.
/// features: n x d; prototypes: K x d; match: n indices in [0, K); tau > 0.
/// When `grad` is given it receives the gradients w.r.t. features and prototypes. O(n K d);
/// row-major inputs are read in place, column-major ones copied.
template <class DZ, class DC>
typename DZ::Scalar prototype_contrast(const Eigen::MatrixBase<DZ>& features, const Eigen::MatrixBase<DC>& prototypes,
                                       const IndexVector& match, typename DZ::Scalar tau,
                                       PrototypeGradients<typename DZ::Scalar>* grad = nullptr);

/// Soft prototype contrast: loss = mean_i -sum_k W_ik log softmax_k(z_i . c_k / tau).
/// features: n x d; prototypes: K x d; assignment W: n x K, non-negative, rows summing to 1
/// (relative tolerance 1e-4); tau > 0. W is a constant target. When `grad` is given it receives
/// the gradients w.r.t. features and prototypes (dlogits = (softmax - W) / (n tau)). O(n K d);
/// row-major inputs are read in place, column-major ones copied.
template <class DZ, class DC, class DW>
typename DZ::Scalar prototype_contrast_soft(const Eigen::MatrixBase<DZ>& features,
                                            const Eigen::MatrixBase<DC>& prototypes,
                                            const Eigen::MatrixBase<DW>& assignment, typename DZ::Scalar tau,
                                            PrototypeGradients<typename DZ::Scalar>* grad = nullptr);

}  // namespace protoot

#include "protoot/detail/prototype_contrast_impl.hpp"
