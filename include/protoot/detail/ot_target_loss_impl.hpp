// protoot/detail/ot_target_loss_impl.hpp — definitions of protoot/losses/ot_target_loss.hpp.
#pragma once

#include <string>

#include "protoot/detail/validation.hpp"
#include "protoot/losses/ot_target_loss.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"

namespace protoot {

template <class DZ, class DP, class DQ>
typename DZ::Scalar ot_target_loss(const Eigen::MatrixBase<DZ>& features, const Eigen::MatrixBase<DP>& prototypes,
                                   const Eigen::MatrixBase<DQ>& plan, typename DZ::Scalar tau,
                                   PrototypeGradients<typename DZ::Scalar>* grad) {
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
