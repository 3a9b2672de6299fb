// protoot/cuda/prototype_sinkhorn.cuh — ProtoOT's prototype-constrained OT with the features on
// the GPU: the cost 1 - cos(z_i, p_j) is recomputed on the fly from Z and P (the n x k cost
// is never stored), the Sinkhorn loop is cuda sinkhorn()/sinkhorn_unbalanced(), and the plan
// comes back to the host with its row-normalised form and argmax labels, as the CPU
// protoot::prototype_sinkhorn (prototype_sinkhorn.hpp) returns them. The released recipe
// row-normalises the similarities, so its n x k cost is stored (prototype_cost on the device).
// Include from a .cu file.
#pragma once

#include <climits>
#include <limits>

#include "protoot/cuda/detail/blas.hpp"
#include "protoot/cuda/detail/row_norms.cuh"
#include "protoot/cuda/l2_normalise.cuh"
#include "protoot/cuda/sinkhorn.cuh"
#include "protoot/prototype_sinkhorn.hpp"

namespace protoot {
namespace cuda::detail {

/// out = 1 - x over `count` entries (x may be out): the cosine cost from similarities. Grid-stride.
template <class S>
__global__ void one_minus(const S* x, long long count, S* out) {
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += static_cast<long long>(gridDim.x) * blockDim.x)
    out[e] = S(1) - x[e];
}

}  // namespace cuda::detail

/// The cosine cost between samples and prototypes on the GPU, the CPU prototype_cost's
/// contract: C_ij = 1 - cos(z_i, p_j), n x k in [0, 2], returned on the device. Z (n x d) and
/// P (k x d) need not be normalised (a zero or non-finite row throws std::invalid_argument).
/// `normalise_similarity_rows` = true first L2-normalises each row of S = cos(Z, P), as the
/// released ProtoOT code does (an all-zero row stays zero). One GEMM of the unit rows plus
/// O(n k); device memory n k + (n + k) d.
template <class S>
cuda::DeviceMatrix<S> prototype_cost(const cuda::DeviceMatrix<S>& Z, const cuda::DeviceMatrix<S>& P,
                                     bool normalise_similarity_rows = false) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::prototype_cost";
  require_size(P.cols(), Z.cols(), where, "prototypes P must have the feature dimension d of Z");
  const cuda::DeviceMatrix<S> z = unit_rows(Z, where, "features Z");
  const cuda::DeviceMatrix<S> p = unit_rows(P, where, "prototypes P");
  require(static_cast<long long>(Z.rows()) * P.rows() < INT_MAX, where, "n k must be below 2^31");
  const int n = static_cast<int>(Z.rows()), k = static_cast<int>(P.rows()), d = static_cast<int>(Z.cols());
  cuda::DeviceMatrix<S> cost(n, k);
  product_with_transpose(z.data(), n, p.data(), k, d, cost.data());
  if (normalise_similarity_rows) {  // in place: each lane rewrites the entries it read
    normalise_rows<<<blocks_for_rows(n), 256, 0, cuda::detail::stream()>>>(
        cost.data(), n, k, cost.data(), static_cast<S*>(nullptr), static_cast<int*>(nullptr));
    PROTOOT_CUDA_CHECK_LAUNCH(normalise_rows);
  }
  one_minus<<<grid_stride_blocks(cost.size()), 256, 0, cuda::detail::stream()>>>(cost.data(), cost.size(), cost.data());
  PROTOOT_CUDA_CHECK_LAUNCH(one_minus);
  return cost;
}

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

/// The released ProtoOT code's recipe on the GPU, the CPU prototype_sinkhorn_released's
/// contract: S = cos(Z, P) with each row L2-normalised (prototype_cost(Z, P, true), stored on the
/// device), then 3 scaling iterations with released_prototype_sinkhorn_options() (epsilon 0.05,
/// prototype side to w first, sample side to 1/n last). Z: n x d, P: k x d on the device; w: k,
/// a distribution; rho as in prototype_sinkhorn. Plan, assignments and argmax labels come back
/// to the host. Device memory n k + (n + k) d.
template <class S, class DW>
PrototypeSinkhornResult<S> prototype_sinkhorn_released(const cuda::DeviceMatrix<S>& Z, const cuda::DeviceMatrix<S>& P,
                                                       const Eigen::MatrixBase<DW>& w,
                                                       S rho = std::numeric_limits<S>::infinity()) {
  const cuda::DeviceMatrix<S> cost = prototype_cost(Z, P, true);
  const auto [a, b] = detail::prototype_marginals<S>(Z.rows(), P.rows(), w, rho, Vector<S>());
  const S hard = std::numeric_limits<S>::infinity();  // the sample side is always hard
  return detail::prototype_result<S>(
      sinkhorn_unbalanced(cost, a, b, hard, rho, released_prototype_sinkhorn_options<S>()));
}

}  // namespace protoot
