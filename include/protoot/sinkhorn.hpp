// protoot/sinkhorn.hpp — entropic optimal transport: balanced, unbalanced and semi-relaxed
// Sinkhorn on the CPU, in the log domain (stable at any epsilon) or with scalings (faster).
#pragma once

#include "protoot/sinkhorn_options.hpp"
#include "protoot/sinkhorn_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// Balanced entropic optimal transport (= POT 0.8.2 `ot.sinkhorn(a, b, C, reg=epsilon)`):
///   min_P <P, C> + epsilon sum_ij P_ij (log P_ij - 1)   s.t.  P 1 = a,  P^T 1 = b.
/// C: n x m cost (float or double; units of epsilon; row-major storage, a Map included, is read in
/// place, a column-major cost is copied once); a (n), b (m): non-negative
/// weights of equal total mass (max(1e-6, (n + m) u) relative, u = unit roundoff of the
/// scalar; b is rescaled to a's mass in double), any expression
/// convertible to the cost's scalar.
/// Returns the plan P = exp((f_i + g_j - C_ij) / epsilon), the potentials, the status and the
/// marginal errors of P. options.log_domain picks log-sum-exp updates (stable at any epsilon) or
/// scalings u, v on exp(-C / epsilon) (faster; under/overflow is reported, never returned as NaN).
/// Cost: O(n m) time per iteration (one streaming pass over C, OpenMP over rows), O(n m) memory
/// for the plan (plus the kernel in the scaling form). Throws std::invalid_argument on bad input,
/// including epsilon below u max|C| (u = unit roundoff of the scalar), where the plan is noise.
template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn(const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DA>& a,
                                             const Eigen::MatrixBase<DB>& b,
                                             const SinkhornOptions<typename DC::Scalar>& options);

/// The entropic OT loss <P, C> of sinkhorn(C, a, b, options)'s plan P without storing P
/// (= POT 0.8.2 `ot.sinkhorn2(a, b, C, reg=epsilon)`, which also returns <P, C> without the
/// entropy term; the GPU's counterpart is cuda::PlanOutput::none). The final pass sums the cost
/// row by row, so memory is O(n + m) beyond C instead of the plan's O(n m). Returns sinkhorn()'s
/// result with `plan` left empty: the loss is `transport_cost`, and `status` and the marginal
/// errors say whether to trust it. Contract, time and errors as sinkhorn().
template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn_cost(const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DA>& a,
                                                  const Eigen::MatrixBase<DB>& b,
                                                  const SinkhornOptions<typename DC::Scalar>& options);

/// Unbalanced entropic optimal transport:
///   min_P <P, C> + epsilon sum P (log P - 1) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b).
/// rho = +infinity makes that side a hard constraint, so (inf, rho) is semi-relaxed (e.g. samples
/// fully assigned, prototype sizes only encouraged) and (inf, inf) is sinkhorn(). With
/// rho_a = rho_b = rho it equals POT 0.8.2 `ot.unbalanced.sinkhorn_unbalanced(a, b, C, epsilon, rho)`.
/// Masses of a and b may differ unless both sides are hard. Each update is damped by the exponent
/// rho / (rho + epsilon); the marginal errors compare with the relaxed targets a * exp(-f / rho_a)
/// and b * exp(-g / rho_b), which the optimum matches. Shapes, cost and errors as sinkhorn();
/// rho_a, rho_b must be > 0. Small fixed max_iterations (SwAV uses 3) are cheap: one pass each.
template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn_unbalanced(const Eigen::MatrixBase<DC>& C,
                                                        const Eigen::MatrixBase<DA>& a,
                                                        const Eigen::MatrixBase<DB>& b,
                                                        typename DC::Scalar rho_a, typename DC::Scalar rho_b,
                                                        const SinkhornOptions<typename DC::Scalar>& options);

}  // namespace protoot

#include "protoot/detail/sinkhorn_impl.hpp"
