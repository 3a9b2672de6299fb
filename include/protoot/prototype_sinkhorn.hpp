// protoot/prototype_sinkhorn.hpp — the prototype-constrained Sinkhorn step of ProtoOT:
// transport n samples onto k prototypes whose marginal is the K-means cluster proportions
// (not SwAV's equipartition 1/k), optionally KL-relaxed on the prototype side.
//
// Orientation: the plan is n x k (samples are rows). The Sinkhorn kernel updates the column
// (prototype) side first and the row (sample) side last in every iteration, which is exactly
// SwAV's / the released ProtoOT code's order, so a fixed 3-iteration solve reproduces it.
#pragma once

#include <limits>

#include "protoot/prototype_sinkhorn_result.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// The cosine cost between samples and prototypes: C_ij = 1 - cos(z_i, p_j), n x k, in [0, 2].
/// Rows of Z (n x d) and P (k x d) need not be normalised: norms are divided out here (a zero
/// row is an error). `normalise_similarity_rows` = true first L2-normalises each row of the
/// similarity matrix S = cos(Z, P) (the released ProtoOT code does so), C = 1 - S / ||S_i||.
/// O(n k d) (one GEMM) + O(n k). Throws std::invalid_argument on empty/non-finite input,
/// mismatched d or zero rows.
template <class DZ, class DP>
Matrix<typename DZ::Scalar> prototype_cost(const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P,
                                           bool normalise_similarity_rows = false);

/// The released ProtoOT code's OT step settings (docs/method.md section 2): epsilon = 0.05, exactly
/// 3 scaling iterations (prototype side first, sample side last), no early stop. Use with
/// prototype_cost(Z, P, true) — or simply call prototype_sinkhorn_released().
template <class Scalar>
SinkhornOptions<Scalar> released_prototype_sinkhorn_options();

/// Prototype-constrained entropic OT on a given n x k cost C (samples x prototypes):
///   min_P <P, C> + eps sum P (log P - 1) + rho KL(P^T 1 | w)   s.t.  P 1 = a,
/// with rho = +infinity meaning the hard constraint P^T 1 = w. w (k) is the prototype marginal —
/// a distribution, normally the K-means proportions matched to the prototypes by index (zero
/// entries allowed: such a prototype receives nothing); a (n) is the sample marginal, uniform
/// 1/n when empty, else a distribution. Solved by sinkhorn() / sinkhorn_unbalanced(C, a, w,
/// inf, rho) with `options` (epsilon in cost units, required). The sample side is always hard:
/// every sample is fully assigned. O(n k) per iteration. Throws std::invalid_argument on bad
/// shapes, w or a not a distribution, rho <= 0, non-finite cost and the Sinkhorn checks.
template <class DC, class DW>
PrototypeSinkhornResult<typename DC::Scalar> prototype_sinkhorn_on_cost(
    const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DW>& w,
    const SinkhornOptions<typename DC::Scalar>& options,
    typename DC::Scalar rho = std::numeric_limits<typename DC::Scalar>::infinity(),
    const Vector<typename DC::Scalar>& sample_marginal = {});

/// Prototype-constrained Sinkhorn on features: prototype_sinkhorn_on_cost(prototype_cost(Z, P),
/// w, options, rho, sample_marginal), i.e. cost 1 - cos(z_i, p_j) with Z (n x d) and P (k x d)
/// normalised internally. Typical use (docs/method.md section 1): P and w = the K-means centroids and
/// proportions of Z's domain (rho = inf), or of the other domain (finite rho: that domain's
/// proportions are only an estimate for this one). O(n k d + iterations * n k).
template <class DZ, class DP, class DW>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn(
    const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DW>& w,
    const SinkhornOptions<typename DZ::Scalar>& options,
    typename DZ::Scalar rho = std::numeric_limits<typename DZ::Scalar>::infinity(),
    const Vector<typename DZ::Scalar>& sample_marginal = {});

/// The released ProtoOT code's recipe (docs/method.md section 2), exactly: similarities S = cos(Z, P)
/// with each row L2-normalised, then 3 SwAV scaling iterations on exp(S / 0.05), prototype side
/// to w first, sample side to 1/n last; `labels` is the argmax the code trains with. rho as in
/// prototype_sinkhorn (the released code uses a hard constraint).
template <class DZ, class DP, class DW>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn_released(
    const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DW>& w,
    typename DZ::Scalar rho = std::numeric_limits<typename DZ::Scalar>::infinity());

}  // namespace protoot

#include "protoot/detail/prototype_sinkhorn_impl.hpp"
