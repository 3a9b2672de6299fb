// protoot/cuda/prototype_sinkhorn.cuh — ProtoOT's prototype-constrained OT with the features on
// the GPU: the cost 1 - cos(z_i, p_j) is recomputed on the fly from Z and P (the n x k cost
// is never stored), the Sinkhorn loop is cuda sinkhorn()/sinkhorn_unbalanced(), and the plan
// comes back to the host with its row-normalised form and argmax labels, as the CPU
// protoot::prototype_sinkhorn (prototype_sinkhorn.hpp) returns them. Include from a .cu file.
#pragma once

#include <limits>

#include "protoot/cuda/sinkhorn.cuh"
#include "protoot/prototype_sinkhorn.hpp"

namespace protoot {

/// Prototype-constrained entropic OT on the GPU, the CPU prototype_sinkhorn's contract: samples
/// Z (n x d) to prototypes P (k x d) with cost 1 - cos(z_i, p_j), sample marginal `a` (uniform
/// 1/n when empty, else a distribution) held hard, prototype marginal w (k, a distribution,
/// normally the K-means proportions) hard for rho = infinity or KL-relaxed with weight rho.
/// Returns the plan, its row-normalised assignments and argmax labels. Device memory
/// O((n + k) d) for the solve; the n x k plan is built in bounded chunks for the host.
/// Throws std::invalid_argument on bad input (zero rows, d mismatch, w or a not distributions).
template <class S, class DW>
PrototypeSinkhornResult<S> prototype_sinkhorn(const cuda::DeviceMatrix<S>& Z, const cuda::DeviceMatrix<S>& P,
                                              const Eigen::MatrixBase<DW>& w, const SinkhornOptions<S>& options,
                                              S rho = std::numeric_limits<S>::infinity(),
                                              const Vector<S>& sample_marginal = {}) {
  constexpr const char* where = "cuda::prototype_sinkhorn";
  detail::require(!Z.empty() && !P.empty(), where, "Z and P must be non-empty");
  detail::require_size(w.size(), P.rows(), where, "prototype marginal w must have one entry per prototype");
  const Vector<S> w_vec = w.template cast<S>();
  detail::require_distribution(w_vec, where, "prototype marginal w", 1e-4);
  Vector<S> a = Vector<S>::Constant(Z.rows(), S(1) / S(Z.rows()));
  if (sample_marginal.size() != 0) {
    detail::require_size(sample_marginal.size(), Z.rows(), where, "sample marginal must have one entry per sample");
    detail::require_distribution(sample_marginal, where, "sample marginal", 1e-4);
    a = sample_marginal / sample_marginal.sum();
  }
  detail::require(rho > S(0), where, "rho must be > 0 (+infinity for a hard prototype marginal)");
  const Vector<S> b = w_vec * (a.sum() / w_vec.sum());  // b carries a's computed mass, as the CPU
  const cuda::PointClouds<S> cost{Z, P, cuda::PointCost::cosine};
  PrototypeSinkhornResult<S> result;
  static_cast<SinkhornResult<S>&>(result) =
      std::isinf(rho) ? sinkhorn(cost, a, b, options)
                      : sinkhorn_unbalanced(cost, a, b, std::numeric_limits<S>::infinity(), rho, options);
  result.assignments = result.plan;
  result.labels.resize(result.plan.rows());
  for (Index i = 0; i < result.plan.rows(); ++i) {
    const S mass = result.plan.row(i).sum();
    if (mass > S(0)) result.assignments.row(i) /= mass;
    result.plan.row(i).maxCoeff(&result.labels(i));
  }
  return result;
}

}  // namespace protoot
