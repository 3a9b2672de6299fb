// protoot/cuda/sinkhorn_batch.cuh — many small Sinkhorn problems (say 1000 of 64 x 64) in one
// kernel launch: one thread block per problem runs the whole log-domain loop, potentials in
// shared memory, the cost read through L1/L2 (a small cost stays cache resident), stopping
// per problem on the same rule as the single-problem solvers. The host sees one launch for the
// solve and one for the plans, instead of thousands of tiny launches.
//
// Same results as protoot::sinkhorn_batch (sinkhorn_batch.hpp) at convergence. Differences, by
// design: the loop always runs in the log domain (stable; options.log_domain is not consulted),
// options.callback must be empty (the loop runs on the device), and error_history holds only
// the final error. Include from a .cu file compiled by nvcc.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "protoot/cuda/sinkhorn.cuh"

namespace protoot {
namespace cuda {

/// `problems` costs of one shape n x m stored back to back: rows [p n, (p + 1) n) of `costs`
/// ((problems * n) x m) are problem p's cost.
template <class Scalar>
struct StackedCosts {
  const DeviceMatrix<Scalar>& costs;
  Index problems;
};

namespace detail {

/// Everything one batched solve reads and writes (device pointers; per-problem arrays are
/// problem-major: a is problems x n, f is problems x n, ...).
template <class S>
struct BatchArgs {
  const S* costs;
  long long cost_stride;  ///< entries between problems' costs (0: one shared cost)
  const S *a, *b;
  const S *f_init, *g_init;  ///< n / m entries shared by every problem, or null
  int n, m;
  S epsilon, epsilon_start, epsilon_decay, tolerance, rho_a, rho_b;
  int max_iterations, check_every;
  S *f, *g, *error_a, *error_b, *final_epsilon;
  int *iterations, *status;
};

/// Block p solves problem p (blockDim.x a multiple of 32). Shared memory: f, f_next (n), g (m).
/// The loop is solve()'s (sinkhorn.cuh): g from f first; iteration k updates f (rows; measuring
/// the previous iterate's row error on the way) then g (columns, measuring its column error).
template <class S>
__global__ void sinkhorn_batch_kernel(BatchArgs<S> args) {
  extern __shared__ __align__(16) unsigned char shared_potentials[];
  S* f = reinterpret_cast<S*>(shared_potentials);
  S* f_next = f + args.n;
  S* g = f_next + args.n;
  __shared__ int stop;
  const int p = blockIdx.x, n = args.n, m = args.m;
  const int lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size, warps = blockDim.x / warp_size;
  const S* cost = args.costs + p * args.cost_stride;
  const S* a = args.a + static_cast<long long>(p) * n;
  const S* b = args.b + static_cast<long long>(p) * m;

  for (int i = threadIdx.x; i < n; i += blockDim.x) f[i] = args.f_init ? args.f_init[i] : S(0);
  for (int j = threadIdx.x; j < m; j += blockDim.x) g[j] = args.g_init ? args.g_init[j] : S(0);
  if (threadIdx.x == 0) stop = 0;
  __syncthreads();

  S error_b = 0;  // this thread's share of the column error of the current iterate
  auto column_step = [&](S eps) {  // g from f, in place (reads f only); one thread per column
    const S inv_eps = S(1) / eps, lambda = protoot::detail::relaxation_exponent(args.rho_b, eps);
    error_b = 0;
    for (int j = threadIdx.x; j < m; j += blockDim.x) {
      LogSumExp<S> acc;
      for (int i = 0; i < n; ++i) acc.add((f[i] - cost[static_cast<long long>(i) * m + j]) * inv_eps);
      const S r = acc.result();
      const S updated = lambda * eps * (log(b[j]) - r);
      g[j] = updated;
      error_b += fabs(exp(updated * inv_eps + r) - protoot::detail::relaxed_target(b[j], updated, args.rho_b));
    }
  };

  const S eps0 = protoot::detail::scheduled_epsilon(args, 1);
  if (!args.g_init) {
    column_step(eps0);
    __syncthreads();
  }
  int done = 0, status = int(SolverStatus::max_iterations);
  S eps_done = eps0, total_a = 0, total_b = 0;
  for (int k = 1;; ++k) {
    const bool last = k > args.max_iterations;
    const S eps = last ? eps_done : protoot::detail::scheduled_epsilon(args, k);
    const S inv_eps = S(1) / eps, lambda = protoot::detail::relaxation_exponent(args.rho_a, eps);
    S error_a = 0;
    for (int i = warp; i < n; i += warps) {  // f_next from g; one warp per row
      LogSumExp<S> acc;
      const S* row = cost + static_cast<long long>(i) * m;
      for (int j = lane; j < m; j += warp_size) acc.add((g[j] - row[j]) * inv_eps);
      acc = warp_reduce(acc);
      if (lane == 0) {
        const S r = acc.result();
        f_next[i] = lambda * eps * (log(a[i]) - r);
        error_a += fabs(exp(f[i] * inv_eps + r) - protoot::detail::relaxed_target(a[i], f[i], args.rho_a));
      }
    }
    if (done >= 1 && (done % args.check_every == 0 || last)) {
      const S sum_a = block_reduce(Sum<S>{error_a}).sum;
      const S sum_b = block_reduce(Sum<S>{error_b}).sum;
      if (threadIdx.x == 0) {
        total_a = sum_a;
        total_b = sum_b;
        const auto check = protoot::detail::check_iterate(sum_a + sum_b, eps_done, args.epsilon, args.tolerance);
        if (check == protoot::detail::SinkhornCheck::numerical_error) {
          status = int(SolverStatus::numerical_error);
          stop = 1;
        } else if (check == protoot::detail::SinkhornCheck::converged) {
          status = int(SolverStatus::converged);
          stop = 1;
        }
      }
      __syncthreads();
      if (stop) break;
    }
    if (last) break;
    __syncthreads();  // f_next complete, every read of f and g done
    S* swap = f;
    f = f_next;
    f_next = swap;
    column_step(eps);
    __syncthreads();  // g complete before the next row step reads it
    done = k;
    eps_done = eps;
  }
  for (int i = threadIdx.x; i < n; i += blockDim.x) args.f[static_cast<long long>(p) * n + i] = f[i];
  for (int j = threadIdx.x; j < m; j += blockDim.x) args.g[static_cast<long long>(p) * m + j] = g[j];
  if (threadIdx.x == 0) {
    args.iterations[p] = done;
    args.status[p] = status;
    args.error_a[p] = total_a;
    args.error_b[p] = total_b;
    args.final_epsilon[p] = eps_done;
  }
}

/// Plans of every problem: one warp per row of the stacked (problems * n) x m plan;
/// cost_terms[r] = sum_j P_rj C_rj.
template <class S>
__global__ void batch_plan_rows(const S* costs, long long cost_stride, int problems, int n, int m, const S* f,
                                const S* g, const S* final_epsilon, S* plans, S* cost_terms) {
  const int lane = threadIdx.x % warp_size;
  const long long r = static_cast<long long>(blockIdx.x) * (blockDim.x / warp_size) + threadIdx.x / warp_size;
  if (r >= static_cast<long long>(problems) * n) return;
  const long long p = r / n, i = r % n;
  const S* row = costs + p * cost_stride + i * m;
  const S* gp = g + p * m;
  const S inv_eps = S(1) / final_epsilon[p], fi = f[r];
  Sum<S> acc;
  for (int j = lane; j < m; j += warp_size) {
    const S c = row[j];
    const S value = exp((fi + gp[j] - c) * inv_eps);
    plans[r * m + j] = value;
    if (value > S(0)) acc.add(value * c);
  }
  acc = warp_reduce(acc);
  if (lane == 0) cost_terms[r] = acc.sum;
}

/// Uploads the problems' marginals as one problem-major array, checking each problem.
template <class S>
DeviceBuffer<S> stack_weights(const std::vector<Vector<S>>& weights, Index size) {
  Matrix<S> stacked(static_cast<Index>(weights.size()), size);
  for (std::size_t p = 0; p < weights.size(); ++p) stacked.row(static_cast<Index>(p)) = weights[p].transpose();
  return to_device(stacked);
}

template <class S>
std::vector<SinkhornResult<S>> solve_batch(const char* where, const DeviceMatrix<S>& costs, long long cost_stride,
                                           Index problems, Index n, Index m, const std::vector<Vector<S>>& as,
                                           const std::vector<Vector<S>>& bs, S rho_a, S rho_b,
                                           const SinkhornOptions<S>& options) {
  require(static_cast<Index>(as.size()) == problems && static_cast<Index>(bs.size()) == problems, where,
          "need one a and one b per problem (got " + std::to_string(as.size()) + " and " + std::to_string(bs.size()) +
              " for " + std::to_string(problems) + " problems)");
  for (Index p = 0; p < problems; ++p) {
    try {
      validate_sinkhorn(where, n, m, as[std::size_t(p)], bs[std::size_t(p)], rho_a, rho_b, options);
    } catch (const std::invalid_argument& e) {
      fail(where, "problem " + std::to_string(p) + ": " + e.what());
    }
  }
  require(!options.callback, where, "options.callback is not supported (the batched loop runs on the device)");
  const std::size_t shared_memory = static_cast<std::size_t>(2 * n + m) * sizeof(S);
  require(shared_memory <= 46 * 1024, where,  // plus the kernel's static shared memory, under 48 KiB
          "problems of " + std::to_string(n) + " x " + std::to_string(m) +
              " are too large for one thread block; solve them one by one with cuda sinkhorn()");
  if (problems == 0) return {};
  validate_device_cost(where, costs.data(), costs.size(), options);

  const int count = static_cast<int>(problems), rows = static_cast<int>(n), cols = static_cast<int>(m);
  std::vector<Vector<S>> targets(bs.size());
  for (std::size_t p = 0; p < bs.size(); ++p)
    targets[p] = protoot::detail::balanced_target<S>(S(protoot::detail::total_mass(as[p])), bs[p], rho_a, rho_b);
  DeviceBuffer<S> a = stack_weights(as, n), b = stack_weights(targets, m);
  DeviceBuffer<S> f_init = options.f_init.size() ? to_device(options.f_init) : DeviceBuffer<S>();
  DeviceBuffer<S> g_init = options.g_init.size() ? to_device(options.g_init) : DeviceBuffer<S>();
  DeviceBuffer<S> f(static_cast<std::size_t>(count) * rows, "potentials"), g(static_cast<std::size_t>(count) * cols, "potentials");
  DeviceBuffer<S> error_a(count, "errors"), error_b(count, "errors"), final_epsilon(count, "epsilons");
  DeviceBuffer<int> iterations(count, "iteration counts"), status(count, "statuses");
  const BatchArgs<S> args{costs.data(), cost_stride, a.data(), b.data(), f_init.data(), g_init.data(), rows, cols,
                          options.epsilon, options.epsilon_start, options.epsilon_decay, options.tolerance, rho_a,
                          rho_b, options.max_iterations, options.check_every, f.data(), g.data(), error_a.data(),
                          error_b.data(), final_epsilon.data(), iterations.data(), status.data()};
  sinkhorn_batch_kernel<<<count, 128, shared_memory, cuda::detail::stream()>>>(args);
  PROTOOT_CUDA_CHECK_LAUNCH(sinkhorn_batch_kernel);

  const long long plan_rows_total = static_cast<long long>(count) * rows;
  DeviceBuffer<S> plans(static_cast<std::size_t>(plan_rows_total) * cols, "the plans"), cost_terms(plan_rows_total, "cost terms");
  const int warps = threads_per_block / warp_size;
  batch_plan_rows<<<blocks_for(plan_rows_total, warps), threads_per_block, 0, cuda::detail::stream()>>>(
      costs.data(), cost_stride, count, rows, cols, f.data(), g.data(), final_epsilon.data(), plans.data(),
      cost_terms.data());
  PROTOOT_CUDA_CHECK_LAUNCH(batch_plan_rows);

  const Vector<S> host_f = to_host(f, plan_rows_total), host_g = to_host(g, static_cast<Index>(count) * cols);
  const Vector<S> host_error_a = to_host(error_a, count), host_error_b = to_host(error_b, count);
  const Vector<S> host_terms = to_host(cost_terms, plan_rows_total);
  std::vector<int> host_iterations(count), host_status(count);
  iterations.download(host_iterations.data(), host_iterations.size());
  status.download(host_status.data(), host_status.size());
  std::vector<SinkhornResult<S>> results(static_cast<std::size_t>(count));
  for (int p = 0; p < count; ++p) {
    SinkhornResult<S>& r = results[std::size_t(p)];
    r.plan.resize(rows, cols);
    plans.download(r.plan.data(), static_cast<std::size_t>(rows) * cols, static_cast<std::size_t>(p) * rows * cols);
    r.f = host_f.segment(static_cast<Index>(p) * rows, rows);
    r.g = host_g.segment(static_cast<Index>(p) * cols, cols);
    r.iterations = host_iterations[std::size_t(p)];
    r.status = static_cast<SolverStatus>(host_status[std::size_t(p)]);
    r.marginal_error_a = host_error_a(p);
    r.marginal_error_b = host_error_b(p);
    r.marginal_error = r.marginal_error_a + r.marginal_error_b;
    if (r.iterations > 0) r.error_history.push_back(r.marginal_error);
    r.transport_cost = host_terms.segment(static_cast<Index>(p) * rows, rows).sum();
  }
  return results;
}

}  // namespace detail
}  // namespace cuda

/// Problem p = sinkhorn(cost of p, as[p], bs[p], options) for every stacked cost, all problems in
/// one launch (see the file comment for what differs from the CPU sinkhorn_batch). Each problem
/// needs (2n + m) scalars of shared memory (<= 46 KiB). Bad input in any problem throws
/// std::invalid_argument naming the problem before any work starts.
template <class S>
std::vector<SinkhornResult<S>> sinkhorn_batch(const cuda::StackedCosts<S>& stacked, const std::vector<Vector<S>>& as,
                                              const std::vector<Vector<S>>& bs, const SinkhornOptions<S>& options) {
  constexpr const char* where = "cuda::sinkhorn_batch";
  detail::require(stacked.problems >= 0 && (stacked.problems == 0 ? stacked.costs.rows() == 0
                                                                  : stacked.costs.rows() % stacked.problems == 0),
                  where, "the stacked cost rows must be a multiple of the number of problems");
  const Index n = stacked.problems ? stacked.costs.rows() / stacked.problems : 0, m = stacked.costs.cols();
  const S hard = std::numeric_limits<S>::infinity();
  return cuda::detail::solve_batch(where, stacked.costs, static_cast<long long>(n) * m, stacked.problems, n, m, as, bs,
                                   hard, hard, options);
}

/// As above with one n x m cost shared by every problem (e.g. a fixed grid, many histograms).
template <class S>
std::vector<SinkhornResult<S>> sinkhorn_batch(const cuda::DeviceMatrix<S>& cost, const std::vector<Vector<S>>& as,
                                              const std::vector<Vector<S>>& bs, const SinkhornOptions<S>& options) {
  const S hard = std::numeric_limits<S>::infinity();
  return cuda::detail::solve_batch("cuda::sinkhorn_batch", cost, 0, static_cast<Index>(as.size()), cost.rows(),
                                   cost.cols(), as, bs, hard, hard, options);
}

/// Problem p = sinkhorn_unbalanced(cost of p, as[p], bs[p], rho_a, rho_b, options), batched as above.
template <class S>
std::vector<SinkhornResult<S>> sinkhorn_unbalanced_batch(const cuda::StackedCosts<S>& stacked,
                                                         const std::vector<Vector<S>>& as,
                                                         const std::vector<Vector<S>>& bs, S rho_a, S rho_b,
                                                         const SinkhornOptions<S>& options) {
  constexpr const char* where = "cuda::sinkhorn_unbalanced_batch";
  detail::require(stacked.problems > 0 && stacked.costs.rows() % stacked.problems == 0, where,
                  "the stacked cost rows must be a positive multiple of the number of problems");
  const Index n = stacked.costs.rows() / stacked.problems, m = stacked.costs.cols();
  return cuda::detail::solve_batch(where, stacked.costs, static_cast<long long>(n) * m, stacked.problems, n, m, as, bs,
                                   rho_a, rho_b, options);
}

}  // namespace protoot
