// protoot/detail/sinkhorn_kernel.hpp — the one Sinkhorn kernel behind sinkhorn(),
// sinkhorn_unbalanced() and sinkhorn_batch() (inputs are validated by the callers).
//
// Problem: min_P <P, C> + eps sum P (log P - 1) + rho_a KL(P1 | a) + rho_b KL(P^T1 | b), with
// rho = +inf meaning the hard constraint. The optimum is P = exp((f_i + g_j - C_ij) / eps) at the
// fixed point (POT 0.8.2's sinkhorn_knopp_unbalanced, in potentials f = eps log u, g = eps log v)
//     g_j = lambda_b (eps log b_j - eps LSE_i((f_i - C_ij) / eps)),   lambda = rho / (rho + eps),
//     f_i = lambda_a (eps log a_i - eps LSE_j((g_j - C_ij) / eps)),
// so balanced Sinkhorn is lambda = 1. Updates alternate g then f (POT's order for ot.sinkhorn, and
// SwAV's: prototype/column side first), so after iteration k the rows of P are exact and the
// column violation measures convergence.
//
// Each iteration is ONE streaming pass over C (log form) or K = exp(-C / eps) (scaling form):
// row i yields f_i (or u_i), and at once its contribution to the column sums of the new plan,
// from which the next g (or v) follows. The column sums of the current plan are exactly what the
// marginal error needs, so convergence checks are free.
//   log form:     e_ij = exp((g_j - C_ij) / eps - s_i) with s_i the row's previous log-sum-exp
//                 (its maximum when that shift over- or underflows) is the stable row term: ONE
//                 exp per entry and iteration. The plan row is e_ij * exp(f_i / eps + s_i), whose
//                 column sums give g_new = g + eps log(b / sum) (times lambda). Columns whose sums
//                 underflow are recomputed with an exact, max-shifted log-sum-exp: any epsilon works.
//   scaling form: u_i = (a_i / (K v)_i)^lambda, accumulate u_i K_i. into K^T u. A zero or
//                 non-finite scaling stops with SolverStatus::numerical_error at the last finite
//                 iterate, or continues in the log form (SinkhornOptions::log_domain_fallback).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "protoot/detail/fast_exp.hpp"
#include "protoot/detail/lane_reduce.hpp"
#include "protoot/detail/openmp.hpp"
#include "protoot/detail/sinkhorn_math.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/sinkhorn_result.hpp"
#include "protoot/types.hpp"

namespace protoot::detail {

/// Problems smaller than this many cost entries (a pass of ~1 ms on one core) run on one thread:
/// below it, waking and joining a team costs more than it saves as soon as the machine is busy
/// (a descheduled thread stalls every pass; measured 4 ms vs 20-900 ms for 300 x 200 x 20 its).
constexpr Index kSinkhornParallelEntries = Index(1) << 20;

/// Entries of a cost row whose exps are summed while they are still in L1, for rows shorter
/// than kSinkhornLongRow (see log_row_pass).
constexpr Index kSinkhornRowChunk = 64, kSinkhornLongRow = 4096;

/// A balanced problem's b, rescaled to a's mass (mass_a): the masses may differ by rounding
/// (callers accept 1e-6 relative), which would otherwise put a floor under the marginal error.
/// b itself when a side is relaxed. Every backend's solver starts from this target.
template <class S>
Vector<S> balanced_target(S mass_a, const Vector<S>& b, S rho_a, S rho_b) {
  if (!std::isinf(rho_a) || !std::isinf(rho_b)) return b;
  return b * S(double(mass_a) / total_mass(b));  // in double: a float sum drifts with n
}

/// Hook for a solve whose cost rows are spread over processes (protoot/mpi/sinkhorn.hpp): `sum`
/// and `max` turn `count` per-process partial values, in place, into the global ones, the same
/// bits on every process. Without it (null) the kernel's rows are the whole problem.
template <class Scalar>
struct RowShards {
  std::function<void(Scalar* values, Index count)> sum, max;
};

template <class Scalar>
class SinkhornKernel {
 public:
  using S = Scalar;
  using CostRef = Eigen::Ref<const Matrix<S>>;

  /// `parallel` = false keeps the solve on the calling thread (used inside sinkhorn_batch).
  /// `shards`: C and a are this process's rows of a larger problem (b is whole), see RowShards.
  SinkhornKernel(const CostRef& C, const Vector<S>& a, const Vector<S>& b, S rho_a, S rho_b,
                 const SinkhornOptions<S>& options, bool parallel, const RowShards<S>* shards = nullptr)
      : shards_(shards), C_(C), a_(a), b_(balanced_target(combined_sum(S(total_mass(a)), shards), b, rho_a, rho_b)),
        rho_a_(rho_a), rho_b_(rho_b), opt_(options),
        n_(C.rows()), m_(C.cols()),
        threads_(thread_budget(parallel && C.size() >= kSinkhornParallelEntries)),
        log_a_(a.array().log()), log_b_(b_.array().log()),
        row_blocks_(row_blocks(n_, m_)),
        row_buffer_(std::size_t(threads_ * m_)), column_buffer_(std::size_t(row_blocks_ * m_)),
        column_sums_(m_), row_lse_(Vector<S>::Constant(n_, std::numeric_limits<S>::quiet_NaN())), row_shift_(n_),
        row_sum_(n_) {}

  /// keep_plan = false leaves result.plan empty: the final pass still returns the transport
  /// cost and marginal errors, through a row buffer instead of n x m memory.
  SinkhornResult<S> solve(bool keep_plan = true) {
    keep_plan_ = keep_plan;
    f_ = opt_.f_init.size() ? opt_.f_init : Vector<S>(Vector<S>::Zero(n_));
    bool have_g = opt_.g_init.size() != 0;
    g_ = have_g ? opt_.g_init : Vector<S>(Vector<S>::Zero(m_));
    last_epsilon_ = epsilon_at(1);
    int first = 1;
    if (!opt_.log_domain) {
      if (run_scaling(have_g)) return finish();
      if (!opt_.log_domain_fallback) return finish();
      // Continue from the last finite iterate, in the log domain.
      first = result_.iterations + 1;
      have_g = true;
      result_.status = SolverStatus::max_iterations;
    }
    run_log(have_g, first);
    return finish();
  }

 private:
  // ---- shared pieces ------------------------------------------------------------------------
  static int thread_budget(bool parallel) {
#ifdef _OPENMP
    return parallel ? omp_get_max_threads() : 1;
#else
    (void)parallel;
    return 1;
#endif
  }
  static int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
  }
  /// Sums over the rows of all processes (this process's value alone without shards).
  static S combined_sum(S value, const RowShards<S>* shards) {
    if (shards) shards->sum(&value, 1);
    return value;
  }
  void combine_sums(S* values, Index count) const {
    if (shards_) shards_->sum(values, count);
  }
  /// Rows are split into this many fixed blocks, each with its own column accumulator, handed
  /// out to threads dynamically: a descheduled thread (busy machine) holds up one block, not
  /// half the pass, and the sums do not depend on which thread ran which block.
  /// The count depends on the shape only, never on the thread count, so 1 and 2 threads add the
  /// same partial sums in the same order and return bitwise identical results.
  static Index row_blocks(Index n, Index m) {
    const Index memory_cap = std::max<Index>(1, (Index(1) << 23) / std::max<Index>(m, 1));
    return std::min({n, Index(16), memory_cap});
  }
  const S* cost_row(Index i) const { return C_.data() + i * C_.outerStride(); }

  /// Epsilon in force at iteration k (1-based): the geometric ramp, then the target.
  S epsilon_at(int k) const { return scheduled_epsilon(opt_, k); }

  /// Runs row_work(i, accumulator of i's block, thread's scratch row) over the rows in parallel
  /// and leaves the sum of the blocks' accumulators in column_sums_.
  template <class RowWork>
  void row_pass(RowWork&& row_work) {
    const Index m = m_, blocks = row_blocks_;
PROTOOT_OMP(parallel num_threads(threads_) if (threads_ > 1))
    {
      S* scratch = row_buffer_.data() + thread_id() * m;
PROTOOT_OMP(for schedule(dynamic, 1) nowait)
      for (Index block = 0; block < blocks; ++block) {
        S* accumulator = column_buffer_.data() + block * m;
        std::fill(accumulator, accumulator + m, S(0));
        for (Index i = n_ * block / blocks; i < n_ * (block + 1) / blocks; ++i) row_work(i, accumulator, scratch);
      }
    }
    // After the join: one synchronisation per pass (blocks * m additions, small next to the pass).
    column_sums_ = Eigen::Map<const Matrix<S>>(column_buffer_.data(), blocks, m).colwise().sum().transpose();
    combine_sums(column_sums_.data(), m_);
  }

  /// Records iteration k's error; returns true when the solve must stop (converged/callback).
  bool record(int k, S epsilon, S error) {
    result_.iterations = k;
    result_.marginal_error = error;
    if (k % opt_.check_every != 0 && k != opt_.max_iterations) return false;
    result_.error_history.push_back(error);
    switch (check_iterate(error, epsilon, opt_.epsilon, opt_.tolerance)) {
      case SinkhornCheck::numerical_error:
        result_.status = SolverStatus::numerical_error;
        return true;
      case SinkhornCheck::converged:
        result_.status = SolverStatus::converged;
        return true;
      case SinkhornCheck::go_on:
        break;
    }
    if (opt_.callback && !opt_.callback(SinkhornProgress<S>{k, epsilon, error})) {
      result_.status = SolverStatus::interrupted;
      return true;
    }
    return false;
  }

  // ---- log form -----------------------------------------------------------------------------
  void run_log(bool have_g, int first) {
    if (!have_g) g_ = exact_column_update(epsilon_at(first));
    Vector<S> g_next(m_);
    for (int k = first; k <= opt_.max_iterations; ++k) {
      const S epsilon = epsilon_at(k);
      last_epsilon_ = epsilon;
      log_row_pass(epsilon);
      const S error = log_column_update(epsilon, g_next);
      if (record(k, epsilon, error) || k == opt_.max_iterations) return;  // iterate (f_k, g_k)
      g_.swap(g_next);
    }
  }

  /// f from g; column_sums_ = column sums of the plan (f_new, g).
  void log_row_pass(S epsilon) {
    const S inv_eps = S(1) / epsilon, lambda = relaxation_exponent(rho_a_, epsilon);
    // A shifted sum in this range has not overflowed, and its terms flushed to 0 (below
    // min_normal) carry at most min_normal * 2^10 of the row's mass each: tiny next to the
    // column sums log_column_update trusts.
    const S lowest_sum = S(1) / S(1024), highest_sum = std::sqrt(std::numeric_limits<S>::max());
    const Index m = m_;
    const S* g = g_.data();
    row_pass([&](Index i, S* accumulator, S* e) {
      const S* c = cost_row(i);
      auto shifted_sum = [&](S shift) {
        const auto term = [&](Index j) { return fast_exp((g[j] - c[j]) * inv_eps - shift); };
        if (m >= kSinkhornLongRow) return lane_sum<S>(m, [&](Index j) { return e[j] = term(j); });
        // Shorter rows: the exps in a plain SIMD loop, then their sum, a chunk at a time (still in
        // L1). In the fused loop above GCC keeps the partial sums in memory, which costs where the
        // exps bound the pass (split: 1.4x faster at m = 64, 1.2x at m = 1024); at m = 4096, where
        // C streams from memory, the fused loop is the faster by about 15 %.
        S total = S(0);
        for (Index j0 = 0; j0 < m; j0 += kSinkhornRowChunk) {
          const Index count = std::min(kSinkhornRowChunk, m - j0);
PROTOOT_OMP(simd)
          for (Index j = j0; j < j0 + count; ++j) e[j] = term(j);
          total += lane_sum<S>(count, [&](Index j) { return e[j0 + j]; });
        }
        return total;
      };
      // Shift by last iteration's log-sum-exp of this row (one pass over the row); if the row
      // changed too much for that, by its exact maximum (two passes).
      S shift = row_lse_[i], sum = std::isfinite(shift) ? shifted_sum(shift) : S(0);
      if (!(sum >= lowest_sum && sum <= highest_sum)) {
        shift = lane_max<S>(m, [&](Index j) { return (g[j] - c[j]) * inv_eps; });
        sum = shifted_sum(shift);
      }
      row_shift_[i] = shift;
      row_sum_[i] = sum;
      // Plan row i = e * exp(f_i / eps + shift), f_i = lambda eps (log a_i - shift - log sum): a_i / sum
      // when the row side is hard (lambda = 1), with no exp or log per row, which short rows
      // (batches of small problems) would otherwise pay as much for as for their entries.
      const S row_scale =
          lambda == S(1) ? a_[i] / sum : std::exp(lambda * (log_a_[i] - (shift + std::log(sum))) + shift);
PROTOOT_OMP(simd)
      for (Index j = 0; j < m; ++j) accumulator[j] += row_scale * e[j];
    });
    row_lse_ = row_shift_.array() + row_sum_.array().log();  // vectorised, after the pass
    f_ = lambda * epsilon * (log_a_ - row_lse_).array();
  }

  /// g_next from column_sums_; returns the column violation of the plan (f, g).
  S log_column_update(S epsilon, Vector<S>& g_next) {
    const S lambda = relaxation_exponent(rho_b_, epsilon);
    // Below this a column sum may have lost precision to terms flushed to 0: recompute it exactly.
    const S smallest_reliable =
        std::numeric_limits<S>::min() / (std::numeric_limits<S>::epsilon() * std::numeric_limits<S>::epsilon());
    std::vector<Index> unreliable;
    const Vector<S> log_sums = column_sums_.array().log();  // vectorised; used where reliable only
    for (Index j = 0; j < m_; ++j) {
      const S sum = column_sums_[j];
      if (b_[j] == S(0))
        g_next[j] = -std::numeric_limits<S>::infinity();
      else if (sum >= smallest_reliable && std::isfinite(sum))
        g_next[j] = lambda * (epsilon * (log_b_[j] - log_sums[j]) + g_[j]);
      else
        unreliable.push_back(j);
    }
    if (!unreliable.empty()) {
      const std::vector<S> lse =
          column_log_sum_exp(epsilon, Index(unreliable.size()), [&](Index q) { return unreliable[std::size_t(q)]; });
      for (std::size_t q = 0; q < unreliable.size(); ++q) {
        const Index j = unreliable[q];
        g_next[j] = lambda * epsilon * (log_b_[j] - lse[q]);
        column_sums_[j] = std::exp(g_[j] / epsilon + lse[q]);
      }
    }
    S error = S(0);
    for (Index j = 0; j < m_; ++j) error += std::abs(column_sums_[j] - relaxed_target(b_[j], g_[j], rho_b_));
    return error;
  }

  /// g from f for every column, each with an exact max-shifted log-sum-exp.
  Vector<S> exact_column_update(S epsilon) {
    const std::vector<S> lse = column_log_sum_exp(epsilon, m_, [](Index j) { return j; });
    const S lambda = relaxation_exponent(rho_b_, epsilon);
    Vector<S> g(m_);
    for (Index j = 0; j < m_; ++j) g[j] = lambda * epsilon * (log_b_[j] - lse[std::size_t(j)]);
    return g;
  }

  /// LSE_i((f_i - C_ij) / eps) for the columns j = column(q), q < count: a max pass, then a
  /// shifted-sum pass, both streaming C by rows.
  template <class ColumnOf>
  std::vector<S> column_log_sum_exp(S epsilon, Index count, ColumnOf column) {
    const S inv_eps = S(1) / epsilon;
    const S* f = f_.data();
    std::vector<S> top(std::size_t(threads_ * count), -std::numeric_limits<S>::infinity());
    std::vector<S> sum(std::size_t(row_blocks_ * count), S(0));  // per block: see row_blocks
    std::vector<S> column_max(std::size_t(count), -std::numeric_limits<S>::infinity());
    S* const column_top = column_max.data();
    const Index blocks = row_blocks_;
PROTOOT_OMP(parallel num_threads(threads_) if (threads_ > 1))
    {
      S* my_top = top.data() + thread_id() * count;
PROTOOT_OMP(for schedule(static))
      for (Index i = 0; i < n_; ++i) {
        const S* c = cost_row(i);
PROTOOT_OMP(simd)
        for (Index q = 0; q < count; ++q) my_top[q] = std::max(my_top[q], (f[i] - c[column(q)]) * inv_eps);
      }
PROTOOT_OMP(master)  // the thread that may call the shards' (MPI) hook
      {
        for (int t = 0; t < threads_; ++t)
          for (Index q = 0; q < count; ++q) column_top[q] = std::max(column_top[q], top[std::size_t(t * count + q)]);
        if (shards_) shards_->max(column_top, count);
      }
PROTOOT_OMP(barrier)
PROTOOT_OMP(for schedule(dynamic, 1))
      for (Index block = 0; block < blocks; ++block) {
        S* block_sum = sum.data() + block * count;
        for (Index i = n_ * block / blocks; i < n_ * (block + 1) / blocks; ++i) {
          const S* c = cost_row(i);
PROTOOT_OMP(simd)
          for (Index q = 0; q < count; ++q) block_sum[q] += fast_exp((f[i] - c[column(q)]) * inv_eps - column_top[q]);
        }
      }
    }
    std::vector<S> lse(static_cast<std::size_t>(count), S(0));
    for (Index q = 0; q < count; ++q)
      for (Index block = 0; block < blocks; ++block) lse[std::size_t(q)] += sum[std::size_t(block * count + q)];
    combine_sums(lse.data(), count);
    for (Index q = 0; q < count; ++q) lse[std::size_t(q)] = column_top[q] + std::log(lse[std::size_t(q)]);
    return lse;
  }

  // ---- scaling form -------------------------------------------------------------------------
  // Works on the kernel K = exp((f0_i + g0_j - C_ij) / eps) with the potentials f0, g0 absorbed
  // (warm start, epsilon changes), so f = f0 + eps log u and g = g0 + eps log v.

  /// Builds K for `epsilon` around the current potentials and resets u = v = 1. Returns false
  /// when K overflows (e.g. -C / epsilon > 709 in double): no iterate on it can be finite.
  bool absorb(S epsilon) {
    kernel_epsilon_ = epsilon;
    f0_ = f_;
    g0_ = g_;
    kernel_.resize(n_, m_);
    const S inv_eps = S(1) / epsilon;
    const Index m = m_;
PROTOOT_OMP(parallel for num_threads(threads_) if (threads_ > 1) schedule(static))
    for (Index i = 0; i < n_; ++i) {
      const S* c = cost_row(i);
      S* k = kernel_.data() + i * m;
      const S fi = f0_[i];
PROTOOT_OMP(simd)
      for (Index j = 0; j < m; ++j) k[j] = fast_exp((fi + g0_[j] - c[j]) * inv_eps);
    }
    u_.setOnes(n_);
    v_.setOnes(m_);
    return agreed_finite(kernel_.allFinite());
  }

  /// `finite` of this process's rows, and of every process's with row shards: the processes
  /// must take the same branch after it, or one leaves the others waiting in a reduction.
  bool agreed_finite(bool finite) const {
    S failures = finite ? S(0) : S(1);
    combine_sums(&failures, 1);
    return failures == S(0);
  }

  /// Potentials of the scalings (u, v) on the current kernel.
  void potentials_from_scalings(const Vector<S>& u, const Vector<S>& v) {
    f_ = f0_.array() + kernel_epsilon_ * u.array().log();
    g_ = g0_.array() + kernel_epsilon_ * v.array().log();
  }

  /// Scaling on one side: (mass / K-product)^lambda, with the factor exp(-p0 / (rho + eps)) that
  /// an absorbed potential p0 contributes on a relaxed side. Returns false when not finite.
  static bool rescale(S mass, S product, S p0, S rho, S epsilon, S& out) {
    if (mass == S(0)) {
      out = S(0);
      return true;
    }
    out = mass / product;
    if (!std::isinf(rho)) out = std::pow(out, rho / (rho + epsilon)) * std::exp(-p0 / (rho + epsilon));
    return product > S(0) && std::isfinite(out) && out > S(0);
  }

  /// Returns true when finished (converged, budget spent, interrupted); false on numerical error,
  /// with f_, g_ and result_.iterations at the last finite iterate.
  bool run_scaling(bool have_g) {
    const int first = 1;
    if (!absorb(epsilon_at(first))) return numerical_error(u_, v_, 0);  // the starting potentials
    const Index m = m_;
    if (!have_g) {  // v from u = 1: column sums of K
      row_pass([&](Index i, S* accumulator, S*) {
        const S* k = kernel_.data() + i * m;
PROTOOT_OMP(simd)
        for (Index j = 0; j < m; ++j) accumulator[j] += k[j];
      });
      Vector<S> v(m_);
      for (Index j = 0; j < m_; ++j)
        if (!rescale(b_[j], column_sums_[j], g0_[j], rho_b_, kernel_epsilon_, v[j]))
          return numerical_error(u_, v_, 0);  // u = v = 1: the absorbed potentials
      v_ = v;
    }
    Vector<S> u_next(n_), v_next(m_);
    v_previous_ = v_;
    for (int k = first; k <= opt_.max_iterations; ++k) {
      const S epsilon = epsilon_at(k);
      last_epsilon_ = epsilon;
      if (epsilon != kernel_epsilon_) {
        potentials_from_scalings(u_, v_);
        if (!absorb(epsilon)) return numerical_error(u_, v_, k - 1);  // u = v = 1: iterate k - 1
        v_previous_ = v_;
      }
      bool finite = true;
      row_pass([&](Index i, S* accumulator, S*) {
        const S* kr = kernel_.data() + i * m;
        const S* v = v_.data();
        const S product = lane_sum<S>(m, [&](Index j) { return kr[j] * v[j]; });
        S ui;
        if (!rescale(a_[i], product, f0_[i], rho_a_, epsilon, ui)) {
PROTOOT_OMP(atomic write)
          finite = false;
          ui = S(0);
        }
        u_next[i] = ui;
PROTOOT_OMP(simd)
        for (Index j = 0; j < m; ++j) accumulator[j] += ui * kr[j];
      });
      finite = agreed_finite(finite);  // every process must stop at the same iterate
      if (!finite) return numerical_error(u_, v_previous_, k - 1);
      S error = S(0);
      for (Index j = 0; j < m_; ++j) {
        const S sum = v_[j] * column_sums_[j];
        error += std::abs(sum - relaxed_target(b_[j], g0_[j] + epsilon * std::log(v_[j]), rho_b_));
        finite = rescale(b_[j], column_sums_[j], g0_[j], rho_b_, epsilon, v_next[j]) && finite;
      }
      u_.swap(u_next);
      if (!finite) return numerical_error(u_, v_, k);
      if (record(k, epsilon, error) || k == opt_.max_iterations) break;  // iterate (u_k, v_k)
      v_previous_ = v_;
      v_.swap(v_next);
    }
    potentials_from_scalings(u_, v_);
    return true;
  }

  bool numerical_error(const Vector<S>& u, const Vector<S>& v, int iterations) {
    potentials_from_scalings(u, v);
    result_.iterations = iterations;
    result_.status = SolverStatus::numerical_error;
    return false;
  }

  // ---- result -------------------------------------------------------------------------------
  /// The plan of the final potentials (kept only when asked) with its exact marginal errors and cost.
  SinkhornResult<S> finish() {
    const S epsilon = last_epsilon_, inv_eps = S(1) / epsilon;
    const Index m = m_;
    if (keep_plan_) result_.plan.resize(n_, m_);
    Vector<S> row_sums(n_), row_costs(n_);
    row_pass([&](Index i, S* accumulator, S* scratch) {
      const S* c = cost_row(i);
      S* p = keep_plan_ ? result_.plan.data() + i * m : scratch;
      const S* g = g_.data();
      const S fi = f_[i];
      row_sums[i] = lane_sum<S>(m, [&](Index j) { return p[j] = fast_exp((fi + g[j] - c[j]) * inv_eps); });
      row_costs[i] = lane_sum<S>(m, [&](Index j) { return p[j] * c[j]; });
PROTOOT_OMP(simd)
      for (Index j = 0; j < m; ++j) accumulator[j] += p[j];
    });
    double cost = row_costs.template cast<double>().sum();  // in row order: thread-independent
    // p * 0 is NaN exactly when p is; the row sums cover every plan entry (they are >= 0).
    // Agreed across row shards before throwing: a process whose rows alone overflow must not
    // leave the others waiting in the reduction below.
    if (!agreed_finite(std::isfinite(double(row_sums.sum())) && std::isfinite(cost)))
      // Only the scaling form gets here: its kernel exp((f0 + g0 - C) / epsilon) overflowed
      // before a single finite iterate existed (e.g. -C / epsilon > 709 in double, or a huge
      // warm start). There is no finite plan to return.
      throw std::domain_error(
          "protoot::sinkhorn: the scaling form overflows exp((f + g - C) / epsilon) from the first iterate, so "
          "there is no finite plan: use log_domain = true (or log_domain_fallback), or shift C or the warm start");
    S error_a = S(0), error_b = S(0);
    for (Index i = 0; i < n_; ++i) error_a += std::abs(row_sums[i] - relaxed_target(a_[i], f_[i], rho_a_));
    for (Index j = 0; j < m_; ++j) error_b += std::abs(column_sums_[j] - relaxed_target(b_[j], g_[j], rho_b_));
    S row_side[2] = {error_a, S(cost)};
    combine_sums(row_side, 2);
    error_a = row_side[0];
    cost = double(row_side[1]);
    result_.f = f_;
    result_.g = g_;
    result_.marginal_error_a = error_a;
    result_.marginal_error_b = error_b;
    result_.marginal_error = error_a + error_b;
    result_.transport_cost = S(cost);
    return std::move(result_);
  }

  const RowShards<S>* shards_;
  const CostRef& C_;
  const Vector<S>& a_;
  const Vector<S> b_;
  const S rho_a_, rho_b_;
  const SinkhornOptions<S>& opt_;
  const Index n_, m_;
  const int threads_;
  const Vector<S> log_a_, log_b_;
  const Index row_blocks_;
  std::vector<S> row_buffer_, column_buffer_;  // per-thread scratch rows, per-block column sums
  Vector<S> column_sums_;
  Vector<S> row_lse_;  // last log-sum-exp of each row (NaN: none yet), the next shift
  Vector<S> row_shift_, row_sum_;  // this pass's shift and shifted sum of each row
  Vector<S> f_, g_;
  S last_epsilon_ = S(0);
  bool keep_plan_ = true;
  // scaling form
  Matrix<S> kernel_;
  Vector<S> f0_, g0_, u_, v_, v_previous_;
  S kernel_epsilon_ = S(0);
  SinkhornResult<S> result_;
};

}  // namespace protoot::detail
