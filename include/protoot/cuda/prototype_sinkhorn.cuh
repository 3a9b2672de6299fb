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
  detail::require(!Z.empty() && !P.empty(), "cuda::prototype_sinkhorn", "Z and P must be non-empty");
  const auto [a, b] = detail::prototype_marginals<S>(Z.rows(), P.rows(), w, rho, sample_marginal);
  const cuda::PointClouds<S> cost{Z, P, cuda::PointCost::cosine};
  const S hard = std::numeric_limits<S>::infinity();  // the sample side is always hard
  return detail::prototype_result<S>(sinkhorn_unbalanced(cost, a, b, hard, rho, options));
}

}  // namespace protoot
