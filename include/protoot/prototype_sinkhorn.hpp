// protoot/prototype_sinkhorn.hpp — the prototype-constrained Sinkhorn step of ProtoOT:
// transport n samples onto k prototypes whose marginal is the K-means cluster proportions
// (not SwAV's equipartition 1/k), optionally KL-relaxed on the prototype side.
//
// Orientation: the plan is n x k (samples are rows). The Sinkhorn kernel updates the column
// (prototype) side first and the row (sample) side last in every iteration, which is exactly
// SwAV's / the released ProtoOT code's order, so a fixed 3-iteration solve reproduces it.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "protoot/detail/openmp.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot {

/// A Sinkhorn result plus what training uses of it.
template <class Scalar>
struct PrototypeSinkhornResult : SinkhornResult<Scalar> {
  /// n x k: each row of the plan divided by its sum — sample i's soft target over prototypes
  /// (a row with no mass stays zero).
  Matrix<Scalar> assignments;
  /// n: argmax of each plan row — sample i's matched prototype.
  IndexVector labels;
};

/// The cosine cost between samples and prototypes: C_ij = 1 - cos(z_i, p_j), n x k, in [0, 2].
/// Rows of Z (n x d) and P (k x d) need not be normalised: norms are divided out here (a zero
/// row is an error). `normalise_similarity_rows` = true first L2-normalises each row of the
/// similarity matrix S = cos(Z, P) (the released ProtoOT code does so), C = 1 - S / ||S_i||.
/// O(n k d) (one GEMM) + O(n k). Throws std::invalid_argument on empty/non-finite input,
/// mismatched d or zero rows.
template <class DZ, class DP>
Matrix<typename DZ::Scalar> prototype_cost(const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P,
                                           bool normalise_similarity_rows = false) {
  using S = typename DZ::Scalar;
  static_assert(std::is_same<S, typename DP::Scalar>::value, "protoot::prototype_cost: Z and P scalar types differ");
  constexpr const char* where = "prototype_cost";
  detail::require_feature_pair(Z, P, where, "features Z", "prototypes P",
                               "prototypes P must have the feature dimension d of Z");
  // Unit rows first, each scaled by its largest entry (normalise_direction): norms of rows near
  // 1e200 would overflow and make every cost 1.
  const auto unit_rows = [&](const auto& X, const char* what) {
    Matrix<S> U = X;
    for (Index i = 0; i < U.rows(); ++i) {
      auto row = U.row(i);
      detail::require(detail::normalise_direction(row) > S(0), where, std::string(what) + " have a zero row (cosine undefined)");
    }
    return U;
  };
  Matrix<S> similarity;
  detail::parallel_product(similarity, unit_rows(Z, "features Z"), unit_rows(P, "prototypes P").transpose());
  if (normalise_similarity_rows) {
    const Vector<S> row_norm = similarity.rowwise().norm();
    for (Index i = 0; i < similarity.rows(); ++i)
      if (row_norm(i) > S(0)) similarity.row(i) /= row_norm(i);  // an all-zero row stays zero
  }
  return (S(1) - similarity.array()).matrix();
}

/// The released ProtoOT code's OT step settings (docs/method.md section 2): epsilon = 0.05, exactly
/// 3 scaling iterations (prototype side first, sample side last), no early stop. Use with
/// prototype_cost(Z, P, true) — or simply call prototype_sinkhorn_released().
template <class Scalar>
SinkhornOptions<Scalar> released_prototype_sinkhorn_options() {
  SinkhornOptions<Scalar> options;
  options.epsilon = Scalar(0.05);
  options.max_iterations = 3;
  options.tolerance = Scalar(0);
  options.log_domain = false;
  return options;
}

namespace detail {

/// The validated marginals of a problem with n samples and k prototypes (shared by the CPU and
/// CUDA front ends): a = the sample marginal (uniform 1/n when empty), b = w scaled to a's
/// computed mass (not 1 - rounding), which the balanced solver checks.
template <class S, class DW>
std::pair<Vector<S>, Vector<S>> prototype_marginals(Index n, Index k, const Eigen::MatrixBase<DW>& w, S rho,
                                                    const Vector<S>& sample_marginal) {
  constexpr const char* where = "prototype_sinkhorn";
  require_size(w.size(), k, where, "prototype marginal w must have one entry per prototype");
  const Vector<S> w_vec = w.template cast<S>();
  require_distribution(w_vec, where, "prototype marginal w", 1e-4);
  Vector<S> a = Vector<S>::Constant(n, S(1) / S(n));
  if (sample_marginal.size() != 0) {
    require_size(sample_marginal.size(), n, where, "sample marginal must have one entry per sample");
    require_distribution(sample_marginal, where, "sample marginal", 1e-4);
    a = sample_marginal / S(total_mass(sample_marginal));
  }
  require(rho > S(0), where, "rho must be > 0 (+infinity for a hard prototype marginal)");
  // Scaled in double: a float a.sum() drifts by ~n u (1.00001 at n = 50,000), which the
  // balanced solver's mass check would then reject.
  Vector<S> b = w_vec * S(total_mass(a) / total_mass(w_vec));
  return {std::move(a), std::move(b)};
}

/// Adds the training targets to a solved n x k plan: row-normalised assignments and argmax labels.
template <class S>
PrototypeSinkhornResult<S> prototype_result(SinkhornResult<S>&& solved) {
  PrototypeSinkhornResult<S> result;
  static_cast<SinkhornResult<S>&>(result) = std::move(solved);
  result.assignments = result.plan;
  result.labels.resize(result.plan.rows());
  for (Index i = 0; i < result.plan.rows(); ++i) {
    const S mass = result.plan.row(i).sum();
    if (mass > S(0)) result.assignments.row(i) /= mass;
    result.plan.row(i).maxCoeff(&result.labels(i));
  }
  return result;
}

}  // namespace detail

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
PrototypeSinkhornResult<typename DC::Scalar> prototype_sinkhorn_cost(
    const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DW>& w,
    const SinkhornOptions<typename DC::Scalar>& options,
    typename DC::Scalar rho = std::numeric_limits<typename DC::Scalar>::infinity(),
    const Vector<typename DC::Scalar>& sample_marginal = {}) {
  using S = typename DC::Scalar;
  detail::require_nonempty(C, "prototype_sinkhorn", "cost C");
  const auto [a, b] = detail::prototype_marginals<S>(C.rows(), C.cols(), w, rho, sample_marginal);
  const S hard = std::numeric_limits<S>::infinity();
  return detail::prototype_result(std::isinf(rho) ? sinkhorn(C, a, b, options)
                                                  : sinkhorn_unbalanced(C, a, b, hard, rho, options));
}

/// Prototype-constrained Sinkhorn on features: prototype_sinkhorn_cost(prototype_cost(Z, P),
/// w, options, rho, sample_marginal), i.e. cost 1 - cos(z_i, p_j) with Z (n x d) and P (k x d)
/// normalised internally. Typical use (docs/method.md section 1): P and w = the K-means centroids and
/// proportions of Z's domain (rho = inf), or of the other domain (finite rho: that domain's
/// proportions are only an estimate for this one). O(n k d + iterations * n k).
template <class DZ, class DP, class DW>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn(
    const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DW>& w,
    const SinkhornOptions<typename DZ::Scalar>& options,
    typename DZ::Scalar rho = std::numeric_limits<typename DZ::Scalar>::infinity(),
    const Vector<typename DZ::Scalar>& sample_marginal = {}) {
  return prototype_sinkhorn_cost(prototype_cost(Z, P), w, options, rho, sample_marginal);
}

/// The released ProtoOT code's recipe (docs/method.md section 2), exactly: similarities S = cos(Z, P)
/// with each row L2-normalised, then 3 SwAV scaling iterations on exp(S / 0.05), prototype side
/// to w first, sample side to 1/n last; `labels` is the argmax the code trains with. rho as in
/// prototype_sinkhorn (the released code uses a hard constraint).
template <class DZ, class DP, class DW>
PrototypeSinkhornResult<typename DZ::Scalar> prototype_sinkhorn_released(
    const Eigen::MatrixBase<DZ>& Z, const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DW>& w,
    typename DZ::Scalar rho = std::numeric_limits<typename DZ::Scalar>::infinity()) {
  using S = typename DZ::Scalar;
  return prototype_sinkhorn_cost(prototype_cost(Z, P, true), w, released_prototype_sinkhorn_options<S>(), rho);
}

}  // namespace protoot
