// protoot/cuda/losses.cuh — the InfoNCE kernel on the GPU, with its exact gradients.
//
// InfoNCE is the one contrastive kernel every ProtoOT term is built from (losses/info_nce.hpp):
// instance, neighbour and prototype contrast differ only in which rows are positives and
// negatives. Here the n x m logits come from one cuBLAS product, one warp per row does the
// log-sum-exp, the loss term and (on request) the logit gradients in place, and the feature
// gradients are two more products. Same contract and results as the CPU info_nce; inputs on the
// device, loss and gradients returned to the host. Include from a .cu file compiled by nvcc.
#pragma once

#include <algorithm>
#include <string>

#include "protoot/cuda/blas.hpp"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/cuda/reduction.cuh"
#include "protoot/cuda/row_norms.cuh"
#include "protoot/losses/info_nce.hpp"

namespace protoot {
namespace cuda::detail {

/// positive[i] = <q_i, k_i> (n x d each); one warp per row.
template <class S>
__global__ void row_dots(const S* q, const S* k, int n, int d, S* positive) {
  const int lane = threadIdx.x % warp_size;
  const long long i = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (i >= n) return;
  Sum<S> acc;
  for (int t = lane; t < d; t += warp_size) acc.add(q[i * d + t] * k[i * d + t]);
  acc = warp_reduce(acc);
  if (lane == 0) positive[i] = acc.sum;
}

/// Row i of InfoNCE on logits: terms[i] = LSE(p_i, N_ij (j != skip_i)) / tau - p_i / tau; with
/// `gradients`, positive[i] and negatives[i, :] are overwritten by dloss/dlogit (scale 1/(n tau)).
template <class S>
__global__ void info_nce_rows(S* positive, S* negatives, int n, int m, const int* excluded, S inv_tau, S scale,
                              bool gradients, S* terms) {
  const int lane = threadIdx.x % warp_size;
  const long long i = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (i >= n) return;
  const int skip = excluded ? excluded[i] : -1;
  S* row = negatives + i * m;
  const S p = positive[i] * inv_tau;
  LogSumExp<S> acc;
  if (lane == 0) acc.add(p);
  for (int j = lane; j < m; j += warp_size)
    if (j != skip) acc.add(row[j] * inv_tau);
  acc = warp_reduce(acc);
  const S lse = acc.result();
  if (gradients) {
    for (int j = lane; j < m; j += warp_size) row[j] = j == skip ? S(0) : exp(row[j] * inv_tau - lse) * scale;
  }
  if (lane == 0) {
    terms[i] = lse - p;
    if (gradients) positive[i] = (exp(p - lse) - S(1)) * scale;
  }
}

}  // namespace cuda::detail

/// InfoNCE of queries against features on the GPU, the CPU info_nce's contract: positive logit
/// q_i . k_i, negative logits q_i . v_j for every row of `negatives` except column excluded_i
/// (-1 = none); loss = mean_i [log(e^{p_i/tau} + sum_j e^{N_ij/tau}) - p_i/tau].
/// queries, positives: n x d; negatives: m x d; tau > 0. With `grad`, the gradients w.r.t. all
/// three inputs are returned (host matrices). O(n m d) in cuBLAS plus O(n m); device memory n m.
template <class S>
S info_nce(const cuda::DeviceMatrix<S>& queries, const cuda::DeviceMatrix<S>& positives,
           const cuda::DeviceMatrix<S>& negatives, S tau, const IndexVector* excluded = nullptr,
           InfoNceGradients<S>* grad = nullptr) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::info_nce";
  require(!queries.empty(), where, "queries is empty");
  require_size(positives.rows(), queries.rows(), where, "positives must have one row per query");
  require_size(positives.cols(), queries.cols(), where, "positives dimension");
  if (negatives.rows() > 0) require_size(negatives.cols(), queries.cols(), where, "negatives dimension");
  require_positive(tau, where, "tau");
  protoot::detail::require_exclusions(excluded, queries.rows(), negatives.rows(), where);
  const int n = static_cast<int>(queries.rows()), d = static_cast<int>(queries.cols());
  const int m = static_cast<int>(negatives.rows());
  {
    cuda::DeviceBuffer<S> norms(static_cast<std::size_t>(std::max({n, m, 1})), "row norms");
    require_finite_rows(queries, where, "queries", norms, NormTerm::squared);
    require_finite_rows(positives, where, "positives", norms, NormTerm::squared);
    require_finite_rows(negatives, where, "negatives", norms, NormTerm::squared);
  }
  cuda::DeviceBuffer<int> skip;
  if (excluded) {
    const Eigen::VectorXi host = excluded->cast<int>();
    skip = cuda::DeviceBuffer<int>(static_cast<std::size_t>(n), "exclusions");
    skip.upload(host.data(), static_cast<std::size_t>(n));
  }
  cuda::BlasHandle blas;
  cuda::DeviceBuffer<S> positive(n, "positive logits"), logits(static_cast<std::size_t>(n) * m, "logits"), terms(n, "loss terms");
  const int warps = 256 / warp_size;
  row_dots<<<(n + warps - 1) / warps, 256>>>(queries.data(), positives.data(), n, d, positive.data());
  PROTOOT_CUDA_CHECK_LAUNCH(row_dots);
  if (m > 0) product_with_transpose(blas, queries.data(), n, negatives.data(), m, d, logits.data());
  info_nce_rows<<<(n + warps - 1) / warps, 256>>>(positive.data(), logits.data(), n, m, skip.data(), S(1) / tau,
                                                  S(1) / (S(n) * tau), grad != nullptr, terms.data());
  PROTOOT_CUDA_CHECK_LAUNCH(info_nce_rows);
  cuda::DeviceBuffer<S> total(1);
  sum_kernel<<<1, 1024>>>(terms.data(), n, total.data());
  PROTOOT_CUDA_CHECK_LAUNCH(sum_kernel);
  S loss = 0;
  total.download(&loss, 1);
  if (!grad) return loss / S(n);

  // dq = diag(g_pos) k + G v,  dk = diag(g_pos) q,  dv = G^T q
  cuda::DeviceMatrix<S> dq(n, d), dk(n, d), dv(m, d);
  const long long entries = static_cast<long long>(n) * d;
  const int blocks = static_cast<int>(std::min<long long>((entries + 255) / 256, 65535));
  scale_rows<<<blocks, 256>>>(positives.data(), n, d, positive.data(), dq.data());
  PROTOOT_CUDA_CHECK_LAUNCH(scale_rows);
  scale_rows<<<blocks, 256>>>(queries.data(), n, d, positive.data(), dk.data());
  PROTOOT_CUDA_CHECK_LAUNCH(scale_rows);
  if (m > 0) {
    product(blas, false, false, n, d, m, logits.data(), m, negatives.data(), d, S(1), dq.data());
    product(blas, true, false, m, d, n, logits.data(), m, queries.data(), d, S(0), dv.data());
  }
  grad->queries = dq.download();
  grad->positives = dk.download();
  grad->negatives = dv.download();
  return loss / S(n);
}

}  // namespace protoot
