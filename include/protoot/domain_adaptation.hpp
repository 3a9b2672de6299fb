// protoot/domain_adaptation.hpp — classic domain-adaptation baselines for cross-domain retrieval:
// CORAL and entropic-OT barycentric mapping (feature alignment), nearest-prototype labelling and
// OT matching of two domains' prototype sets. Rows are samples (n x d), as everywhere in protoot.
//
// The alignment maps reproduce POT (ot.da) so that baselines are comparable across libraries;
// every entry point throws std::invalid_argument naming itself on bad input (shape mismatch,
// NaN/Inf, too few samples, marginals that are not distributions).
#pragma once

#include "protoot/sinkhorn_options.hpp"
#include "protoot/sinkhorn_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// Affine map x -> x * linear + offset on row vectors: linear is d x d, offset a column vector of
/// size d (added to every mapped row).
template <class S>
struct AffineMap {
  Matrix<S> linear;
  Vector<S> offset;
};

/// Applies `map` to the rows of X (n x d) -> n x d. Throws std::invalid_argument if map.linear
/// is not d x d, map.offset not of size d, or a mapped entry overflows to Inf or NaN. O(n d^2).
template <class D>
Matrix<typename D::Scalar> apply_affine(const AffineMap<typename D::Scalar>& map, const Eigen::MatrixBase<D>& X);

/// CORAL (Sun, Feng & Saenko 2016): the affine map that gives the source the target's mean and
/// (regularised) covariance.
///   Cs = cov(Xs) + regularisation I,  Ct = cov(Xt) + regularisation I   (unbiased: divided by n - 1,
///   as np.cov(X, rowvar=False)),
///   linear = Cs^{-1/2} Ct^{1/2}  (matrix functions by symmetric eigen-decomposition),
///   offset = mean(Xt) - mean(Xs) * linear.
/// Xs (ns x d), Xt (nt x d), ns, nt >= 2, finite; regularisation >= 0 in squared feature units
/// (Cs must come out positive definite: with a rank-deficient cov(Xs), use regularisation > 0).
/// CORAL of Sun, Feng and Saenko (AAAI 2016); POT 0.8.2 has no CORAL, so tests use a NumPy/SciPy reference.
/// O((ns + nt) d^2 + d^3) time, O((ns + nt) d + d^2) memory; the d x d matrix functions are computed
/// in double for float inputs too. Throws std::invalid_argument on mismatched columns, fewer than
/// 2 rows, non-finite data, a covariance that overflows double, a singular Cs, or a map that
/// overflows the scalar type.
template <class DS, class DT>
AffineMap<typename DS::Scalar> coral(const Eigen::MatrixBase<DS>& Xs, const Eigen::MatrixBase<DT>& Xt,
                                     typename DS::Scalar regularisation = 1);

/// Options of sinkhorn_transport(). sinkhorn.epsilon is POT's reg_e, in the units of the
/// (possibly normalised) cost; it has no default (0 is rejected).
template <class S>
struct SinkhornTransportOptions {
  SinkhornOptions<S> sinkhorn;
  /// Divide the squared-distance cost by its maximum before solving (POT's norm="max"), so that
  /// epsilon is relative to the largest cost; false is POT's norm=None.
  bool normalise_cost_by_max = true;
};

template <class S>
struct SinkhornTransportResult {
  Matrix<S> plan;           ///< ns x nt coupling, marginals 1/ns and 1/nt
  Matrix<S> source_mapped;  ///< ns x d: barycentric images of the source rows in the target domain
  Matrix<S> target_mapped;  ///< nt x d: barycentric images of the target rows in the source domain
  SolverStatus status = SolverStatus::max_iterations;
  int iterations = 0;
  S marginal_error = S(0);  ///< L1 marginal violation of `plan`
  S transport_cost = S(0);  ///< <plan, M> with M the cost actually solved (normalised if asked)
};

/// Entropic-OT domain adaptation, as POT 0.8.2's
/// `ot.da.SinkhornTransport(reg_e=epsilon, metric="sqeuclidean", norm="max" or None)` fitted on
/// (Xs, Xt) with uniform weights, then transform(Xs) and inverse_transform(Xt):
///   M_ij = ||xs_i - xt_j||^2 (divided by max M when normalise_cost_by_max),
///   plan = sinkhorn(1/ns, 1/nt, M, options.sinkhorn)  (log domain by default),
///   source_mapped = diag(1 / plan 1) plan Xt,  target_mapped = diag(1 / plan^T 1) plan^T Xs
/// (a row or column of the plan without mass maps to 0, as POT does). Xs (ns x d), Xt (nt x d),
/// finite. O(ns nt d) for the cost and the maps plus the Sinkhorn iterations, O(ns nt) memory.
template <class DS, class DT>
SinkhornTransportResult<typename DS::Scalar> sinkhorn_transport(
    const Eigen::MatrixBase<DS>& Xs, const Eigen::MatrixBase<DT>& Xt,
    const SinkhornTransportOptions<typename DS::Scalar>& options);

/// Label of every row of X (n x d): the index of the prototype (K x d) with the largest cosine
/// similarity (ties: lowest index). Rows need not be normalised; a zero row (in X or the
/// prototypes) has no direction and throws. O(n K d) in blocked GEMM tiles of at most
/// 1024 x 1024 scores (the retrieval search with k = 1), plus normalised copies of the inputs.
template <class DX, class DP>
IndexVector assign_to_nearest_prototype(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DP>& prototypes);

template <class S>
struct PrototypeMatching {
  Matrix<S> plan;       ///< Ka x Kb coupling with marginals pa, pb
  IndexVector a_to_b;   ///< Ka: a_to_b(i) = argmax_j plan(i, j)
  IndexVector b_to_a;   ///< Kb: b_to_a(j) = argmax_i plan(i, j)
  S cost = S(0);        ///< <plan, C>
  SolverStatus status = SolverStatus::max_iterations;
};

/// Matches two prototype sets by optimal transport with their proportions as marginals:
/// C_ij = 1 - cos(Ca_i, Cb_j) (Ka x Kb, in [0, 2]), plan = entropic OT of (pa, pb, C) solved in the
/// log domain at `epsilon` (the default 1e-3 is close to the exact OT plan for a cost in [0, 2]),
/// with epsilon scaling from max C so a small epsilon costs few iterations.
/// Ca (Ka x d), Cb (Kb x d): finite, no zero rows; pa (Ka), pb (Kb): non-negative, summing to 1
/// (1e-6). The status says whether the marginals converged (to 1e-9 in double; in float to the
/// precision the potentials allow, ~1e-7 max C / epsilon). O(Ka Kb d + iterations * Ka Kb).
template <class DA, class DB>
PrototypeMatching<typename DA::Scalar> match_prototypes(const Eigen::MatrixBase<DA>& Ca,
                                                        const Vector<typename DA::Scalar>& pa,
                                                        const Eigen::MatrixBase<DB>& Cb,
                                                        const Vector<typename DA::Scalar>& pb,
                                                        typename DA::Scalar epsilon = typename DA::Scalar(1e-3));

}  // namespace protoot

#include "protoot/detail/domain_adaptation_impl.hpp"
