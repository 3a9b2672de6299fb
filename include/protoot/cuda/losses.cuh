// protoot/cuda/losses.cuh — the contrastive losses on the GPU, with their exact gradients.
//
// InfoNCE is the one contrastive kernel every ProtoOT term is built from (losses/info_nce.hpp):
// instance, neighbour and prototype contrast differ only in which rows are positives and
// negatives. Here the n x m logits come from one cuBLAS product, one warp per row does the
// log-sum-exp, the loss term and (on request) the logit gradients in place, and the feature
// gradients are two more products. The soft-target losses (prototype_contrast_soft, the
// OT-target loss, neighbour contrast) share a second row kernel: cross-entropy against a target
// row. The composed losses are built exactly as on the CPU (same calls, same checks). Inputs on
// the device, loss and gradients returned to the host. Include from a .cu file compiled by nvcc.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

#include "protoot/cuda/detail/blas.hpp"
#include "protoot/cuda/detail/reduction.cuh"
#include "protoot/cuda/detail/row_norms.cuh"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/cuda/l2_normalise.cuh"
#include "protoot/cuda/topk.cuh"
#include "protoot/losses/info_nce.hpp"
#include "protoot/losses/neighbour_contrast.hpp"
#include "protoot/losses/prototype_contrast.hpp"

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

/// Row i of the soft-target cross-entropy on logits L (n x m, not yet divided by tau) against
/// targets W (n x m): terms[i] = mass_i LSE_j(L_ij / tau) - sum_j W_ij L_ij / tau, mass_i =
/// sum_j W_ij; with `gradients`, L is overwritten by dloss/dL = (mass_i softmax_ij - W_ij) scale.
template <class S>
__global__ void soft_target_rows(S* logits, const S* targets, int n, int m, S inv_tau, S scale, bool gradients,
                                 S* terms) {
  const int lane = threadIdx.x % warp_size;
  const long long i = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (i >= n) return;
  S* row = logits + i * m;
  const S* target = targets + i * m;
  LogSumExp<S> lse_acc;
  Sum<S> mass_acc, dot_acc;
  for (int j = lane; j < m; j += warp_size) {
    const S logit = row[j] * inv_tau;
    lse_acc.add(logit);
    mass_acc.add(target[j]);
    dot_acc.add(target[j] * logit);
  }
  const S lse = warp_reduce(lse_acc).result(), mass = warp_reduce(mass_acc).sum, dot = warp_reduce(dot_acc).sum;
  if (gradients)
    for (int j = lane; j < m; j += warp_size) row[j] = (mass * exp(row[j] * inv_tau - lse) - target[j]) * scale;
  if (lane == 0) terms[i] = mass * lse - dot;
}

/// sums[i] = sum_j x_ij (n x m); a row holding a negative or non-finite entry is flagged in
/// bad_row (the checks of an assignment or a plan). One warp per row.
template <class S>
__global__ void row_sums(const S* x, int n, int m, S* sums, int* bad_row) {
  const int lane = threadIdx.x % warp_size;
  const long long i = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (i >= n) return;  // the whole warp: one row per warp
  Sum<S> acc;
  bool bad = false;
  for (int j = lane; j < m; j += warp_size) {
    const S v = x[i * m + j];
    bad = bad || !(v >= S(0)) || !isfinite(v);  // !(v >= 0) also catches NaN
    acc.add(v);
  }
  acc = warp_reduce(acc);
  bad = __any_sync(0xffffffffu, bad);
  if (lane == 0) {
    sums[i] = acc.sum;
    if (bad) atomicMin(bad_row, static_cast<int>(i));
  }
}

/// out_i = x_{index[i]} (n rows of d), grid-stride over the entries.
template <class S>
__global__ void gather_rows(const S* x, const int* index, long long n, int d, S* out) {
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < n * d;
       e += static_cast<long long>(gridDim.x) * blockDim.x)
    out[e] = x[static_cast<long long>(index[e / d]) * d + e % d];
}

/// out(i, cols(i, r)) = value for the n x k column indices `cols` (out: n x m, zeroed before;
/// a row's columns are distinct, so no two threads write one entry). Grid-stride.
template <class S>
__global__ void scatter_value(const int* cols, long long n, int k, int m, S value, S* out) {
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < n * k;
       e += static_cast<long long>(gridDim.x) * blockDim.x)
    out[(e / k) * m + cols[e]] = value;
}

/// The mean of the first n values of `terms` (device), returned to the host.
template <class S>
S device_mean(const DeviceBuffer<S>& terms, int n) {
  S* total = current_resources().scratch<S>(1);
  sum_kernel<<<1, 1024, 0, cuda::detail::stream()>>>(terms.data(), n, total);
  PROTOOT_CUDA_CHECK_LAUNCH(sum_kernel);
  return to_host_value(total) / S(n);
}

/// Throws std::invalid_argument naming `where` and the input when one of `inputs` holds NaN or Inf.
template <class S>
void require_finite_inputs(const char* where, std::initializer_list<std::pair<const DeviceMatrix<S>*, const char*>> inputs) {
  Index rows = 1;
  for (const auto& input : inputs) rows = std::max(rows, input.first->rows());
  DeviceBuffer<S> norms(static_cast<std::size_t>(rows), "row norms");
  for (const auto& input : inputs) require_finite_rows(*input.first, where, input.second, norms, NormTerm::squared);
}

/// The row sums of x (to the host); throws std::invalid_argument naming `where` and `name` at
/// the first row with a negative or non-finite entry, or whose sum fails `accept` (the message
/// says the row "must <rule>").
template <class S, class Accept>
Vector<S> checked_row_sums(const DeviceMatrix<S>& x, const char* where, const char* name, Accept accept,
                           const char* rule) {
  DeviceBuffer<S> sums(static_cast<std::size_t>(x.rows()), "row sums");
  FirstBadRow bad;
  row_sums<<<blocks_for_rows(x.rows()), 256, 0, cuda::detail::stream()>>>(
      x.data(), static_cast<int>(x.rows()), static_cast<int>(x.cols()), sums.data(), bad.data());
  PROTOOT_CUDA_CHECK_LAUNCH(row_sums);
  if (const Index row = bad.get(); row >= 0)
    fail(where, std::string(name) + " row " + std::to_string(row) + " has a negative or non-finite entry");
  Vector<S> host = to_host(sums, x.rows());
  for (Index i = 0; i < host.size(); ++i)
    if (!accept(host(i)))
      fail(where, std::string(name) + " row " + std::to_string(i) + " must " + rule + " (got " +
                      std::to_string(static_cast<double>(host(i))) + ")");
  return host;
}

/// The soft-target cross-entropy of features Z (n x d) against prototypes C (K x d) with
/// targets W (n x K) on validated device inputs: logits Z C^T in one product, soft_target_rows,
/// then dZ = G C and dC = G^T Z into `grad` (host) when given.
template <class S>
S soft_target_loss(const DeviceMatrix<S>& z, const DeviceMatrix<S>& c, const DeviceMatrix<S>& targets, S tau,
                   PrototypeGradients<S>* grad) {
  const int n = static_cast<int>(z.rows()), k = static_cast<int>(c.rows()), d = static_cast<int>(z.cols());
  DeviceBuffer<S> logits(static_cast<std::size_t>(n) * k, "logits"), terms(n, "loss terms");
  product_with_transpose(z.data(), n, c.data(), k, d, logits.data());
  soft_target_rows<<<blocks_for_rows(n), 256, 0, cuda::detail::stream()>>>(
      logits.data(), targets.data(), n, k, S(1) / tau, S(1) / (S(n) * tau), grad != nullptr, terms.data());
  PROTOOT_CUDA_CHECK_LAUNCH(soft_target_rows);
  const S loss = device_mean(terms, n);
  if (!grad) return loss;
  DeviceMatrix<S> dz(n, d), dc(k, d);
  product(false, false, n, d, k, logits.data(), k, c.data(), d, S(0), dz.data());
  product(true, false, k, d, n, logits.data(), k, z.data(), d, S(0), dc.data());
  grad->features = dz.download();
  grad->prototypes = dc.download();
  return loss;
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
  require_finite_inputs<S>(where, {{&queries, "queries"}, {&positives, "positives"}, {&negatives, "negatives"}});
  cuda::DeviceBuffer<int> skip;
  if (excluded) {
    const Eigen::VectorXi host = excluded->cast<int>();
    skip = cuda::DeviceBuffer<int>(static_cast<std::size_t>(n), "exclusions");
    skip.upload(host.data(), static_cast<std::size_t>(n));
  }
  cuda::DeviceBuffer<S> positive(n, "positive logits"), logits(static_cast<std::size_t>(n) * m, "logits"), terms(n, "loss terms");
  row_dots<<<blocks_for_rows(n), 256, 0, cuda::detail::stream()>>>(queries.data(), positives.data(), n, d,
                                                                   positive.data());
  PROTOOT_CUDA_CHECK_LAUNCH(row_dots);
  if (m > 0) product_with_transpose(queries.data(), n, negatives.data(), m, d, logits.data());
  info_nce_rows<<<blocks_for_rows(n), 256, 0, cuda::detail::stream()>>>(positive.data(), logits.data(), n, m,
                                                                        skip.data(), S(1) / tau, S(1) / (S(n) * tau),
                                                                        grad != nullptr, terms.data());
  PROTOOT_CUDA_CHECK_LAUNCH(info_nce_rows);
  const S loss = device_mean(terms, n);
  if (!grad) return loss;

  // dq = diag(g_pos) k + G v,  dk = diag(g_pos) q,  dv = G^T q
  cuda::DeviceMatrix<S> dq(n, d), dk(n, d), dv(m, d);
  const int blocks = grid_stride_blocks(static_cast<long long>(n) * d);
  scale_rows<<<blocks, 256, 0, cuda::detail::stream()>>>(positives.data(), n, d, positive.data(), dq.data());
  PROTOOT_CUDA_CHECK_LAUNCH(scale_rows);
  scale_rows<<<blocks, 256, 0, cuda::detail::stream()>>>(queries.data(), n, d, positive.data(), dk.data());
  PROTOOT_CUDA_CHECK_LAUNCH(scale_rows);
  if (m > 0) {
    product(false, false, n, d, m, logits.data(), m, negatives.data(), d, S(1), dq.data());
    product(true, false, m, d, n, logits.data(), m, queries.data(), d, S(0), dv.data());
  }
  grad->queries = dq.download();
  grad->positives = dk.download();
  grad->negatives = dv.download();
  return loss;
}

/// Two-view InfoNCE on the GPU (one direction of NT-Xent / CLIP), the CPU
/// info_nce_two_views' contract: view a_i's positive is b_i, its negatives the other rows of b.
/// a, b: n x d on the device (n >= 1); tau > 0. When `grad` is given it receives the gradients
/// w.r.t. a and b (host). O(n^2 d) in cuBLAS; device memory n^2.
template <class S>
S info_nce_two_views(const cuda::DeviceMatrix<S>& a, const cuda::DeviceMatrix<S>& b, S tau,
                     TwoViewGradients<S>* grad = nullptr) {
  return detail::info_nce_two_views_from<S>(a.rows(), grad,
                                            [&](const IndexVector& excluded, InfoNceGradients<S>* grad) {
                                              return info_nce(a, b, b, tau, &excluded, grad);
                                            });
}

/// Hard prototype contrast on the GPU, the CPU prototype_contrast's contract: loss = mean_i
/// -log softmax_k(z_i . c_k / tau)[match_i], i.e. cuda info_nce with the matched prototype
/// (gathered on the device) as positive and the K - 1 others as negatives. features: n x d;
/// prototypes: K x d (device); match: n indices in [0, K); tau > 0. When `grad` is given it
/// receives the gradients w.r.t. features and prototypes (host). O(n K d) in cuBLAS.
template <class S>
S prototype_contrast(const cuda::DeviceMatrix<S>& features, const cuda::DeviceMatrix<S>& prototypes,
                     const IndexVector& match, S tau, PrototypeGradients<S>* grad = nullptr) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::prototype_contrast";
  require(!features.empty(), where, "features is empty");
  require(!prototypes.empty(), where, "prototypes is empty");
  protoot::detail::require_match(match, features.rows(), prototypes.rows(), where);
  const Eigen::VectorXi rows = match.cast<int>();
  cuda::DeviceBuffer<int> device_rows(static_cast<std::size_t>(rows.size()), "matched prototype indices");
  device_rows.upload(rows.data(), static_cast<std::size_t>(rows.size()));
  cuda::DeviceMatrix<S> matched(features.rows(), prototypes.cols());
  gather_rows<<<grid_stride_blocks(matched.size()), 256, 0, cuda::detail::stream()>>>(
      prototypes.data(), device_rows.data(), matched.rows(), static_cast<int>(matched.cols()), matched.data());
  PROTOOT_CUDA_CHECK_LAUNCH(gather_rows);
  return protoot::detail::prototype_contrast_from<S>(
      match, grad, [&](InfoNceGradients<S>* g) { return info_nce(features, matched, prototypes, tau, &match, g); });
}

/// Soft prototype contrast on the GPU, the CPU prototype_contrast_soft's contract: loss =
/// mean_i -sum_k W_ik log softmax_k(z_i . c_k / tau). features: n x d; prototypes: K x d;
/// assignment W: n x K, non-negative, rows summing to 1 (relative tolerance 1e-4), all on the
/// device; tau > 0. W is a constant target. When `grad` is given it receives the gradients
/// w.r.t. features and prototypes (host). O(n K d) in cuBLAS; device memory n K.
template <class S>
S prototype_contrast_soft(const cuda::DeviceMatrix<S>& features, const cuda::DeviceMatrix<S>& prototypes,
                          const cuda::DeviceMatrix<S>& assignment, S tau, PrototypeGradients<S>* grad = nullptr) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::prototype_contrast_soft";
  require(!features.empty(), where, "features is empty");
  require(!prototypes.empty(), where, "prototypes is empty");
  require_positive(tau, where, "tau");
  require_size(prototypes.cols(), features.cols(), where, "prototypes dimension");
  require_size(assignment.rows(), features.rows(), where, "assignment rows (one per feature)");
  require_size(assignment.cols(), prototypes.rows(), where, "assignment columns (one per prototype)");
  require_finite_inputs<S>(where, {{&features, "features"}, {&prototypes, "prototypes"}});
  checked_row_sums(assignment, where, "assignment", [](S mass) { return std::abs(double(mass) - 1.0) <= 1e-4; },
                   "sum to 1");
  return soft_target_loss(features, prototypes, assignment, tau, grad);
}

/// The OT-target prototype loss on the GPU, the CPU ot_target_loss' contract: loss = mean_i
/// -sum_k Q_ik log softmax_k(z_i . p_k / tau) with Q = plan, rows renormalised to sum 1 on the
/// device. features Z: n x d; prototypes P: K x d; plan: n x K non-negative, finite, every row
/// with positive mass (any scale), all on the device; tau > 0. The plan is a constant target.
/// When `grad` is given it receives the gradients w.r.t. Z and P (host). O(n K d) in cuBLAS.
template <class S>
S ot_target_loss(const cuda::DeviceMatrix<S>& features, const cuda::DeviceMatrix<S>& prototypes,
                 const cuda::DeviceMatrix<S>& plan, S tau, PrototypeGradients<S>* grad = nullptr) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::ot_target_loss";
  require(!plan.empty(), where, "plan is empty");
  const Vector<S> mass = checked_row_sums(plan, where, "plan", [](S sum) { return sum > S(0); }, "have positive mass");
  const cuda::DeviceBuffer<S> inverse_mass = cuda::to_device(mass.cwiseInverse());
  cuda::DeviceMatrix<S> targets(plan.rows(), plan.cols());
  scale_rows<<<grid_stride_blocks(plan.size()), 256, 0, cuda::detail::stream()>>>(
      plan.data(), plan.rows(), static_cast<int>(plan.cols()), inverse_mass.data(), targets.data());
  PROTOOT_CUDA_CHECK_LAUNCH(scale_rows);
  return prototype_contrast_soft(features, prototypes, targets, tau, grad);
}

/// The k most cosine-similar bank rows of every query on the GPU, the CPU cosine_neighbours'
/// contract: most similar first, ties to the lower bank index; queries: n x d, bank: m x d (no
/// zero rows, on the device); 1 <= k <= m, or <= m - 1 when `excluded` is given (excluded(i):
/// the bank row query i may not pick, -1 = none); k < cuda::max_topk. Runs cuda cosine_topk for
/// k (k + 1 with exclusions, then drops the excluded row). Result on the host. O(n m d).
template <class S>
IndexMatrix cosine_neighbours(const cuda::DeviceMatrix<S>& queries, const cuda::DeviceMatrix<S>& bank, Index k,
                              const IndexVector* excluded = nullptr) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::cosine_neighbours";
  require(!queries.empty(), where, "queries is empty");
  require(!bank.empty(), where, "bank is empty");
  require_size(bank.cols(), queries.cols(), where, "bank dimension");
  protoot::detail::require_neighbour_count(k, excluded, queries.rows(), bank.rows(), where);
  const TopK<S> top = cosine_topk(queries, bank, excluded ? k + 1 : k);
  return protoot::detail::drop_excluded(top.indices, k, excluded);
}

/// Neighbour contrast on the GPU, the CPU neighbour_contrast's contract: loss = mean_i -(1/k)
/// sum_{j in NN_k(i)} log softmax_j(q_i . b_j / tau) over the whole bank, NN_k(i) =
/// cuda cosine_neighbours(queries, bank, k, excluded); queries: n x d, bank: m x d (device);
/// tau > 0. The neighbour choice is constant. When `grad` is given it receives the gradients
/// w.r.t. the queries (`features`) and the bank (`prototypes`) (host). O(n m d); device n m.
template <class S>
S neighbour_contrast(const cuda::DeviceMatrix<S>& queries, const cuda::DeviceMatrix<S>& bank, Index k, S tau,
                     const IndexVector* excluded = nullptr, PrototypeGradients<S>* grad = nullptr) {
  using namespace cuda::detail;
  constexpr const char* where = "cuda::neighbour_contrast";
  require_positive(tau, where, "tau");
  require_finite_inputs<S>(where, {{&queries, "queries"}, {&bank, "bank"}});
  const IndexMatrix neighbours = cosine_neighbours(queries, bank, k, excluded);
  const Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> columns = neighbours.cast<int>();
  cuda::DeviceBuffer<int> device_columns(static_cast<std::size_t>(columns.size()), "neighbour indices");
  device_columns.upload(columns.data(), static_cast<std::size_t>(columns.size()));
  cuda::DeviceMatrix<S> targets(queries.rows(), bank.rows());
  PROTOOT_CUDA_CHECK(
      cudaMemsetAsync(targets.data(), 0, sizeof(S) * static_cast<std::size_t>(targets.size()), cuda::detail::stream()));
  scatter_value<<<grid_stride_blocks(columns.size()), 256, 0, cuda::detail::stream()>>>(
      device_columns.data(), columns.rows(), static_cast<int>(k), static_cast<int>(bank.rows()), S(1) / S(k),
      targets.data());
  PROTOOT_CUDA_CHECK_LAUNCH(scatter_value);
  return prototype_contrast_soft(queries, bank, targets, tau, grad);
}

}  // namespace protoot
