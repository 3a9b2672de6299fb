// protoot/cuda/sinkhorn.cuh — balanced and unbalanced Sinkhorn on the GPU.
//
// Same options and result as the CPU solvers (sinkhorn_options.hpp); the backend follows the
// data: these overloads take the cost on the device, either stored (cuda::DeviceMatrix, n x m)
// or as two point clouds (cuda::PointClouds) whose cost is recomputed in every pass, so the
// n x m cost never exists (memory O((n + m) d)). Marginals and warm starts are host vectors.
//
// Each iteration is two passes over the cost (rows, then columns); the marginal error of an
// iterate falls out of those passes (the column pass measures the column side, the next row
// pass the row side), so checking every iteration costs one small reduction, not a third pass.
// The log form never forms exp(-C/eps); the scaling form stores K = exp(-C/eps) (n x m more
// device memory) and stops with SolverStatus::numerical_error, keeping the last finite
// iterate, when K v or K^T u underflows.
//
// Include from a .cu file compiled by nvcc.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "protoot/cuda/detail/sinkhorn_kernels.cuh"
#include "protoot/cuda/device_matrix.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/sinkhorn_result.hpp"

namespace protoot {
namespace cuda {

/// Two point clouds on the device defining the cost C_ij = cost(x_i, y_j) on the fly.
template <class Scalar>
struct PointClouds {
  const DeviceMatrix<Scalar>& x;  ///< n x d (rows are the points of the first marginal)
  const DeviceMatrix<Scalar>& y;  ///< m x d
  PointCost cost = PointCost::squared_euclidean;
};

/// Whether the solver materialises the n x m plan into SinkhornResult::plan (host memory).
/// `none` leaves it empty (potentials, errors and the transport cost are still returned):
/// plan_ij = exp((f_i + g_j - C_ij) / epsilon) can be rebuilt from f and g when needed.
enum class PlanOutput { host, none };

namespace detail {

constexpr int threads_per_block = 256;
constexpr int plan_rows_per_chunk_target = 1 << 24;  // entries staged on the device per plan chunk

inline int blocks_for(long long count, int per_block) { return static_cast<int>((count + per_block - 1) / per_block); }

inline int multiprocessors() {
  int device = 0, count = 0;
  PROTOOT_CUDA_CHECK(cudaGetDevice(&device));
  PROTOOT_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

/// Host-side argument checks: the CPU solver's (validate_sinkhorn_problem, everything but the
/// cost entries) plus the 32-bit index range of the kernels. No device access: testable on CPUs.
template <class S, class DA, class DB>
void validate_sinkhorn(const char* where, Index n, Index m, const Eigen::MatrixBase<DA>& a,
                       const Eigen::MatrixBase<DB>& b, S rho_a, S rho_b, const SinkhornOptions<S>& options) {
  require(n < (Index(1) << 31) && m < (Index(1) << 31), where, "n and m must be below 2^31");
  protoot::detail::validate_sinkhorn_problem(where, n, m, a, b, rho_a, rho_b, options);
}

/// The stored cost's rules, the CPU's (protoot::detail::require_cost_resolution), from one
/// reduction on the device: finite entries and max|C| within epsilon's resolution.
template <class S>
void validate_device_cost(const char* where, const S* cost, long long count, const SinkhornOptions<S>& options) {
  const auto [largest, finite] = summarise_values(cost, count);
  protoot::detail::require_cost_resolution(where, finite, largest, options);
}

/// Sums `count` device values into one host value.
template <class S>
S device_sum(const DeviceBuffer<S>& values, long long count) {
  S* sum = current_resources().scratch<S>(1);
  sum_kernel<<<1, 1024, 0, cuda::detail::stream()>>>(values.data(), count, sum);
  PROTOOT_CUDA_CHECK_LAUNCH(sum_kernel);
  return to_host_value(sum);
}

/// u <- u^power in place: the scalings of unchanged potentials after epsilon changes.
template <class S>
void rescale_scalings(DeviceBuffer<S>& scalings, int count, S power) {
  power_in_place<<<blocks_for(count, threads_per_block), threads_per_block, 0, cuda::detail::stream()>>>(
      scalings.data(), count, power);
  PROTOOT_CUDA_CHECK_LAUNCH(power_in_place);
}

/// Both half-steps and the plan for a stored cost.
template <class Form, class S>
class StoredCostPasses {
 public:
  using Accumulator = typename Form::Accumulator;

  StoredCostPasses(const DeviceMatrix<S>& cost, const char* where, const SinkhornOptions<S>& options)
      : cost_(cost), n_(static_cast<int>(cost.rows())), m_(static_cast<int>(cost.cols())) {
    validate_device_cost(where, cost.data(), cost.size(), options);
    // enough row chunks that the column stage fills the device about 8 blocks per SM deep
    const int column_blocks = blocks_for(m_, threads_per_block);
    const int wanted = blocks_for(8LL * multiprocessors(), column_blocks);
    chunks_ = std::max(1, std::min({wanted, blocks_for(n_, 32), 65535}));
    rows_per_chunk_ = blocks_for(n_, chunks_);
    chunks_ = blocks_for(n_, rows_per_chunk_);
    partial_ = DeviceBuffer<Accumulator>(static_cast<std::size_t>(chunks_) * m_, "Sinkhorn column partials");
    if (Form::stores_kernel) kernel_ = DeviceBuffer<S>(static_cast<std::size_t>(cost.size()), "the kernel exp(-C/eps)");
  }

  void set_epsilon(S eps) {
    if (!Form::stores_kernel || eps == kernel_eps_) return;
    const long long count = static_cast<long long>(n_) * m_;
    form_entries<Form>
        <<<std::min(blocks_for(count, threads_per_block), 65535), threads_per_block, 0, cuda::detail::stream()>>>(
            cost_.data(), count, S(1) / eps, kernel_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(form_entries);
    kernel_eps_ = eps;
  }

  void rows(const HalfStep<S>& step) {
    const int warps = threads_per_block / warp_size;
    stored_row_step<Form>
        <<<blocks_for(n_, warps), threads_per_block, 0, cuda::detail::stream()>>>(entries(), n_, m_, step);
    PROTOOT_CUDA_CHECK_LAUNCH(stored_row_step);
  }

  void columns(const HalfStep<S>& step) {
    const dim3 grid(blocks_for(m_, threads_per_block), chunks_);
    stored_column_partial<Form><<<grid, threads_per_block, 0, cuda::detail::stream()>>>(
        entries(), n_, m_, step.other, step.inv_eps, rows_per_chunk_, partial_.data());
    PROTOOT_CUDA_CHECK_LAUNCH(stored_column_partial);
    stored_column_finish<Form><<<blocks_for(m_, threads_per_block), threads_per_block, 0, cuda::detail::stream()>>>(
        partial_.data(), chunks_, m_, step);
    PROTOOT_CUDA_CHECK_LAUNCH(stored_column_finish);
  }

  StoredCost<S> cost() const { return {cost_.data(), m_}; }

 private:
  const S* entries() const { return Form::stores_kernel ? kernel_.data() : cost_.data(); }

  const DeviceMatrix<S>& cost_;
  int n_, m_, chunks_ = 1, rows_per_chunk_ = 1;
  DeviceBuffer<Accumulator> partial_;
  DeviceBuffer<S> kernel_;
  S kernel_eps_ = S(0);
};

/// Both half-steps and the plan with the cost recomputed from two point clouds.
template <class Form, class S>
class PointCloudPasses {
 public:
  static constexpr int tile = 128;  // points of the updated side per block (cloud_step's TileX)

  PointCloudPasses(const PointClouds<S>& clouds, const char* where)
      : clouds_(clouds), dim_(static_cast<int>(clouds.x.cols())),
        x_norms_(static_cast<std::size_t>(clouds.x.rows()), "point norms"),
        y_norms_(static_cast<std::size_t>(clouds.y.rows()), "point norms") {
    const NormTerm term = clouds.cost == PointCost::cosine ? NormTerm::inverse : NormTerm::squared;
    require_finite_rows(clouds.x, where, "the points x", x_norms_, term);
    require_finite_rows(clouds.y, where, "the points y", y_norms_, term);
  }

  void set_epsilon(S) {}

  void rows(const HalfStep<S>& step) { launch(x(), y(), step); }
  void columns(const HalfStep<S>& step) { launch(y(), x(), step); }

  CloudCost<S> cost() const { return {x(), y(), dim_, clouds_.cost}; }

 private:
  Cloud<S> x() const { return {clouds_.x.data(), x_norms_.data(), static_cast<int>(clouds_.x.rows())}; }
  Cloud<S> y() const { return {clouds_.y.data(), y_norms_.data(), static_cast<int>(clouds_.y.rows())}; }

  void launch(Cloud<S> updated, Cloud<S> other, const HalfStep<S>& step) {
    cloud_step<Form, S, tile><<<blocks_for(updated.count, tile), tile, 0, cuda::detail::stream()>>>(
        updated, other, dim_, clouds_.cost, step);
    PROTOOT_CUDA_CHECK_LAUNCH(cloud_step);
  }

  const PointClouds<S>& clouds_;
  int dim_;
  DeviceBuffer<S> x_norms_, y_norms_;
};

/// Rows of the plan in chunks of bounded device memory, plus the transport cost <P, C>.
template <class S, class Cost>
void materialise_plan(const Cost& cost, int n, int m, const DeviceBuffer<S>& f, const DeviceBuffer<S>& g, S eps,
                      PlanOutput output, SinkhornResult<S>& result) {
  const int chunk_rows = static_cast<int>(std::max<long long>(1, std::min<long long>(n, plan_rows_per_chunk_target / m)));
  DeviceBuffer<S> staging(output == PlanOutput::host ? static_cast<std::size_t>(chunk_rows) * m : 0, "a plan chunk");
  DeviceBuffer<S> cost_terms(static_cast<std::size_t>(n), "plan cost terms");
  if (output == PlanOutput::host) result.plan.resize(n, m);
  const int warps = threads_per_block / warp_size;
  for (int first = 0; first < n; first += chunk_rows) {
    const int rows = std::min(chunk_rows, n - first);
    plan_rows<<<blocks_for(rows, warps), threads_per_block, 0, cuda::detail::stream()>>>(
        cost, first, rows, m, f.data(), g.data(), S(1) / eps, staging.data(), cost_terms.data());
    PROTOOT_CUDA_CHECK_LAUNCH(plan_rows);
    if (output == PlanOutput::host)
      staging.download(result.plan.data() + static_cast<long long>(first) * m, static_cast<std::size_t>(rows) * m);
  }
  result.transport_cost = device_sum(cost_terms, n);
}

/// The Sinkhorn loop, shared by every cost source and both forms (see the header comment).
template <class Form, class S, class Passes>
SinkhornResult<S> solve(Passes& passes, const Vector<S>& a, const Vector<S>& b, S rho_a, S rho_b,
                        const SinkhornOptions<S>& options, PlanOutput output) {
  constexpr bool scaling = Form::stores_kernel;
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  const S eps0 = protoot::detail::scheduled_epsilon(options, 1);
  auto initial = [&](const Vector<S>& warm, int size) {
    Vector<S> start = Vector<S>::Zero(size);
    if (warm.size()) start = warm;
    if (scaling) start = (start.array() / eps0).exp().matrix();
    return to_device(start);
  };
  DeviceBuffer<S> weights_a = to_device(a), weights_b = to_device(b);
  DeviceBuffer<S> f = initial(options.f_init, n), g = initial(options.g_init, m);
  DeviceBuffer<S> f_next(n, "potentials"), g_next(m, "potentials");
  DeviceBuffer<S> errors_a(n, "marginal errors"), errors_b(m, "marginal errors");
  DeviceBuffer<int> invalid(1, "a flag");
  int flag = 0;
  invalid.upload(&flag, 1);
  auto step_failed = [&] {
    invalid.download(&flag, 1);
    return flag != 0;
  };

  auto column_step = [&](S eps) {
    passes.columns({f.data(), weights_b.data(), g.data(), g_next.data(), errors_b.data(), true, eps, S(1) / eps,
                    protoot::detail::relaxation_exponent(rho_b, eps), rho_b, invalid.data()});
  };

  SinkhornResult<S> result;
  bool options_exhausted = false;  // set when the loop must not run at all
  int done = 0;       // iterations completed: (f, g) is iterate `done`
  S eps_done = eps0;  // epsilon that iterate was computed at
  if (options.g_init.size() == 0) {  // g from f first, as the CPU solver does (same iterates)
    passes.set_epsilon(eps0);
    column_step(eps0);
    if (scaling && step_failed()) {
      result.status = SolverStatus::numerical_error;  // K^T 1 underflows: keep u = v = 1
      options_exhausted = true;
    } else {
      std::swap(g, g_next);
    }
  }
  for (int k = 1; !options_exhausted; ++k) {
    const bool last = k > options.max_iterations;  // this row pass only measures the final iterate
    const S eps = last ? eps_done : protoot::detail::scheduled_epsilon(options, k);
    if (scaling && eps != eps_done) {  // keep f = eps log u fixed across the change of epsilon
      rescale_scalings(f, n, eps_done / eps);
      rescale_scalings(g, m, eps_done / eps);
    }
    passes.set_epsilon(eps);
    passes.rows({g.data(), weights_a.data(), f.data(), f_next.data(), errors_a.data(), false, eps, S(1) / eps,
                 protoot::detail::relaxation_exponent(rho_a, eps), rho_a, invalid.data()});
    if (done >= 1 && (done % options.check_every == 0 || last)) {
      result.marginal_error_a = device_sum(errors_a, n);
      result.marginal_error_b = device_sum(errors_b, m);
      result.marginal_error = result.marginal_error_a + result.marginal_error_b;
      result.error_history.push_back(result.marginal_error);
      const auto check =
          protoot::detail::check_iterate(result.marginal_error, eps_done, options.epsilon, options.tolerance);
      if (check == protoot::detail::SinkhornCheck::numerical_error) {
        result.status = SolverStatus::numerical_error;
        break;
      }
      if (check == protoot::detail::SinkhornCheck::converged) {
        result.status = SolverStatus::converged;
        break;
      }
      if (options.callback && !options.callback(SinkhornProgress<S>{done, eps_done, result.marginal_error})) {
        result.status = SolverStatus::interrupted;
        break;
      }
    }
    if (last) break;
    if (scaling && step_failed()) {
      result.status = SolverStatus::numerical_error;
      break;
    }
    std::swap(f, f_next);
    column_step(eps);
    if (scaling && step_failed()) {
      std::swap(f, f_next);  // back to the last complete iterate
      result.status = SolverStatus::numerical_error;
      break;
    }
    std::swap(g, g_next);
    done = k;
    eps_done = eps;
  }
  result.iterations = done;
  if (scaling) {
    scalings_to_potentials<<<blocks_for(n, threads_per_block), threads_per_block, 0, cuda::detail::stream()>>>(
        f.data(), n, eps_done);
    PROTOOT_CUDA_CHECK_LAUNCH(scalings_to_potentials);
    scalings_to_potentials<<<blocks_for(m, threads_per_block), threads_per_block, 0, cuda::detail::stream()>>>(
        g.data(), m, eps_done);
    PROTOOT_CUDA_CHECK_LAUNCH(scalings_to_potentials);
  }
  result.f = to_host(f, n);
  result.g = to_host(g, m);
  materialise_plan(passes.cost(), n, m, f, g, eps_done, output, result);
  return result;
}

/// Validates an n x m problem, then solves it in the form options.log_domain asks for, with the
/// passes make_passes(form) builds for the cost source.
template <class S, class Passes, class DA, class DB>
SinkhornResult<S> dispatch(const char* where, Index n, Index m, Passes&& make_passes, const DA& a, const DB& b,
                           S rho_a, S rho_b, const SinkhornOptions<S>& options, PlanOutput output) {
  validate_sinkhorn(where, n, m, a, b, rho_a, rho_b, options);
  const Vector<S> host_a = a.template cast<S>();
  const Vector<S> host_b =
      protoot::detail::balanced_target<S>(S(protoot::detail::total_mass(host_a)), b.template cast<S>(), rho_a, rho_b);
  if (options.log_domain) {
    auto passes = make_passes(LogForm<S>{});
    return solve<LogForm<S>>(passes, host_a, host_b, rho_a, rho_b, options, output);
  }
  auto passes = make_passes(ScalingForm<S>{});
  SinkhornResult<S> scaled = solve<ScalingForm<S>>(passes, host_a, host_b, rho_a, rho_b, options, output);
  if (scaled.status != SolverStatus::numerical_error || !options.log_domain_fallback) return scaled;
  // continue from the last finite iterate in the log domain, as the CPU solver does
  SinkhornOptions<S> rest = options;
  rest.log_domain = true;
  rest.max_iterations = options.max_iterations - scaled.iterations;
  rest.f_init = scaled.f;
  rest.g_init = scaled.g;
  if (options.epsilon_start > options.epsilon)
    rest.epsilon_start = protoot::detail::scheduled_epsilon(options, scaled.iterations + 1);
  auto log_passes = make_passes(LogForm<S>{});
  SinkhornResult<S> result = solve<LogForm<S>>(log_passes, host_a, host_b, rho_a, rho_b, rest, output);
  result.iterations += scaled.iterations;
  result.error_history.insert(result.error_history.begin(), scaled.error_history.begin(), scaled.error_history.end());
  return result;
}

/// The problems the GPU solvers take, a stored cost or point clouds, and their scalar type;
/// anything else has no `Scalar`, which removes the cuda overloads from overload resolution.
template <class Problem>
struct OtProblem {};
template <class S>
struct OtProblem<DeviceMatrix<S>> {
  using Scalar = S;
};
template <class S>
struct OtProblem<PointClouds<S>> {
  using Scalar = S;
};

/// The solver named in error messages: with both marginals hard the call is balanced sinkhorn.
template <class S>
const char* solver_name(S rho_a, S rho_b) {
  return std::isinf(rho_a) && std::isinf(rho_b) ? "cuda::sinkhorn" : "cuda::sinkhorn_unbalanced";
}

template <class S>
void validate_clouds(const char* where, const PointClouds<S>& clouds) {
  require(clouds.x.cols() == clouds.y.cols(), where,
          "x has " + std::to_string(clouds.x.cols()) + " columns but y has " + std::to_string(clouds.y.cols()));
  require(clouds.x.cols() > 0, where, "the points have no coordinates");
}

}  // namespace detail
}  // namespace cuda

/// Unbalanced entropic OT on the GPU with a stored cost: KL(P 1 | a) and KL(P^T 1 | b) penalties
/// weighted rho_a, rho_b (> 0; infinity = hard constraint). Same contract as the CPU solver.
template <class S, class DA, class DB>
SinkhornResult<S> sinkhorn_unbalanced(const cuda::DeviceMatrix<S>& C, const Eigen::MatrixBase<DA>& a,
                                      const Eigen::MatrixBase<DB>& b, S rho_a, S rho_b,
                                      const SinkhornOptions<S>& options,
                                      cuda::PlanOutput output = cuda::PlanOutput::host) {
  const char* where = cuda::detail::solver_name(rho_a, rho_b);
  return cuda::detail::dispatch(
      where, C.rows(), C.cols(),
      [&](auto form) { return cuda::detail::StoredCostPasses<decltype(form), S>(C, where, options); }, a, b, rho_a,
      rho_b, options, output);
}

/// Unbalanced Sinkhorn on point clouds (see the stored-cost overload for rho_a, rho_b).
template <class S, class DA, class DB>
SinkhornResult<S> sinkhorn_unbalanced(const cuda::PointClouds<S>& clouds, const Eigen::MatrixBase<DA>& a,
                                      const Eigen::MatrixBase<DB>& b, S rho_a, S rho_b,
                                      const SinkhornOptions<S>& options,
                                      cuda::PlanOutput output = cuda::PlanOutput::host) {
  const char* where = cuda::detail::solver_name(rho_a, rho_b);
  cuda::detail::validate_clouds(where, clouds);
  return cuda::detail::dispatch(
      where, clouds.x.rows(), clouds.y.rows(),
      [&](auto form) { return cuda::detail::PointCloudPasses<decltype(form), S>(clouds, where); }, a, b, rho_a, rho_b,
      options, output);
}

/// Balanced entropic OT on the GPU: min <P,C> + eps sum P(log P - 1), P 1 = a, P^T 1 = b
/// (a, b weights of equal mass). Same contract and result as the CPU protoot::sinkhorn.
/// `problem` is a stored cost cuda::DeviceMatrix C (n x m; two O(nm) passes per iteration) or
/// cuda::PointClouds with C_ij = cost(x_i, y_j) recomputed on the fly (KeOps-style: device
/// memory O((n + m) d), each pass O(n m d); prefer PlanOutput::none for large n m).
/// Throws std::invalid_argument on bad input, protoot::cuda::Error on device failures.
template <class Problem, class DA, class DB, class S = typename cuda::detail::OtProblem<Problem>::Scalar>
SinkhornResult<S> sinkhorn(const Problem& problem, const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b,
                           const SinkhornOptions<typename cuda::detail::OtProblem<Problem>::Scalar>& options,
                           cuda::PlanOutput output = cuda::PlanOutput::host) {
  const S hard = std::numeric_limits<S>::infinity();
  return sinkhorn_unbalanced(problem, a, b, hard, hard, options, output);
}

}  // namespace protoot
