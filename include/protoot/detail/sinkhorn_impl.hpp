// protoot/detail/sinkhorn_impl.hpp — definitions of protoot/sinkhorn.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "protoot/detail/sinkhorn_kernel.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// True when every entry of scale * x is finite: y - y is 0 for finite y and NaN otherwise, and a
/// lane-wise sum of those vectorises (Eigen's isFinite().all() costs as much as a few Sinkhorn
/// iterations).
template <class S>
bool all_finite(const Eigen::Ref<const Matrix<S>>& x, S scale = S(1)) {
  S nan_if_not_finite = S(0);
  for (Index i = 0; i < x.rows(); ++i) {
    const S* row = x.data() + i * x.outerStride();
    nan_if_not_finite += lane_sum<S>(x.cols(), [&](Index j) {
      const S y = scale * row[j];
      return y - y;
    });
  }
  return nan_if_not_finite == S(0);
}

/// A warm-start potential: finite, except -inf where its marginal entry is zero. A point without
/// mass gets potential -inf (its plan row or column is exactly zero), so a previous result's
/// potentials must be accepted back as they are.
template <class S, class DW>
void require_warm_start(const Vector<S>& potential, const Eigen::MatrixBase<DW>& marginal, const char* where,
                        const char* name, const char* marginal_name) {
  for (Index i = 0; i < potential.size(); ++i) {
    if (std::isfinite(potential(i)) || (potential(i) < S(0) && marginal(i) == 0)) continue;
    std::ostringstream os;
    os << name << " contains NaN or Inf (entry " << i << " is " << potential(i)
       << "; only -inf is allowed, and only where " << marginal_name << " is zero)";
    fail(where, os.str());
  }
}

/// Epsilon within the range the solver can represent: the potentials reach epsilon times log
/// of a weight (down to ~-745 in double), so a huge epsilon overflows them to NaN, and a
/// subnormal one overflows 1 / epsilon even on a zero cost.
template <class S>
void require_epsilon_range(S epsilon, const char* where, const char* name) {
  constexpr S largest = std::numeric_limits<S>::max() / S(4096), smallest = std::numeric_limits<S>::min();
  if (epsilon >= smallest && epsilon <= largest) return;
  std::ostringstream os;
  os.precision(std::numeric_limits<S>::max_digits10);
  os << name << " = " << epsilon << " is outside [" << smallest << ", " << largest
     << "], where potentials of epsilon * log(weight) stay finite: rescale the cost";
  fail(where, os.str());
}

/// Throws std::invalid_argument naming the problem when an n x m Sinkhorn problem is ill-posed,
/// checking all but the cost's entries (so a backend whose cost lives elsewhere, e.g. on a GPU,
/// can share it). With both sides hard (rho = +inf) the masses must agree to max(1e-6, (n + m) u) relative
/// (u = unit roundoff of S), summed in double.
template <class S, class DA, class DB>
void validate_sinkhorn_problem(const char* where, Index n, Index m, const Eigen::MatrixBase<DA>& a,
                               const Eigen::MatrixBase<DB>& b, S rho_a, S rho_b,
                               const SinkhornOptions<S>& options) {
  require(n > 0 && m > 0, where, "cost matrix C is empty");
  require_size(a.size(), n, where, "a must have one entry per row of C");
  require_size(b.size(), m, where, "b must have one entry per column of C");
  require_weights(a, where, "a");
  require_weights(b, where, "b");
  require(rho_a > S(0), where, "rho_a must be > 0 (+infinity for a hard constraint)");
  require(rho_b > S(0), where, "rho_b must be > 0 (+infinity for a hard constraint)");
  if (std::isinf(rho_a) && std::isinf(rho_b)) {
    // Relative to the mass, and never tighter than the rounding of S itself: each weight cast to
    // S carries u relative error and a caller's own sum in S drifts by up to (n + m) u.
    const double mass_a = total_mass(a), mass_b = total_mass(b);
    const double tolerance = std::max(1e-6, double(std::numeric_limits<S>::epsilon()) * double(n + m));
    if (!(std::abs(mass_a - mass_b) <= tolerance * std::max(mass_a, mass_b))) {
      std::ostringstream os;
      os.precision(std::numeric_limits<double>::max_digits10);
      os << "a and b must have the same total mass (got " << mass_a << " and " << mass_b
         << ", relative tolerance " << tolerance << ")";
      fail(where, os.str());
    }
  }
  // The plan's entries average mass / (n m): below the smallest normal number they, and the
  // absolute marginal tolerance, carry no precision (an all-zero plan would pass as converged).
  constexpr double smallest = std::numeric_limits<S>::min();
  for (const double mass : {total_mass(a), total_mass(b)})
    if (mass / (double(n) * double(m)) < smallest) {
      std::ostringstream os;
      os.precision(std::numeric_limits<double>::max_digits10);
      os << "total mass " << mass << " is too small for an " << n << " x " << m
         << " plan (entries would be subnormal): rescale a and b";
      fail(where, os.str());
    }
  require_positive(options.epsilon, where, "epsilon");
  require_epsilon_range(options.epsilon, where, "epsilon");
  require(options.max_iterations >= 0, where, "max_iterations must be >= 0");
  require(options.tolerance >= S(0), where, "tolerance must be >= 0");
  require(options.check_every >= 1, where, "check_every must be >= 1");
  if (options.epsilon_start > options.epsilon) {
    require_epsilon_range(options.epsilon_start, where, "epsilon_start");
    require(options.epsilon_decay > S(0) && options.epsilon_decay < S(1), where,
            "epsilon_decay must be in (0, 1)");
  }
  if (options.f_init.size()) {
    require_size(options.f_init.size(), n, where, "f_init must have one entry per row of C");
    require_warm_start(options.f_init, a, where, "f_init", "a");
  }
  if (options.g_init.size()) {
    require_size(options.g_init.size(), m, where, "g_init must have one entry per column of C");
    require_warm_start(options.g_init, b, where, "g_init", "b");
  }
  // As for C (see validate_sinkhorn): a potential carries rounding of u |p|, so beyond
  // epsilon / u the plan exponent (f + g - C) / epsilon is noise and overflows.
  for (const auto& [name, potential] : {std::pair<const char*, const Vector<S>*>{"f_init", &options.f_init},
                                        {"g_init", &options.g_init}}) {
    S largest = S(0);
    for (Index i = 0; i < potential->size(); ++i)
      if (std::isfinite((*potential)(i))) largest = std::max(largest, std::abs((*potential)(i)));
    if (largest * std::numeric_limits<S>::epsilon() > options.epsilon) {
      std::ostringstream os;
      os.precision(std::numeric_limits<S>::max_digits10);
      os << name << " reaches |" << largest << "|, beyond the resolution epsilon / u = "
         << options.epsilon / std::numeric_limits<S>::epsilon() << ": the plan would be rounding noise";
      fail(where, os.str());
    }
  }
}

/// The cost's rules, from its summary (every backend's: the CPU computes it in one pass over C,
/// the GPU in one reduction on the device): finite, and epsilon above the cost's resolution.
/// The plan is exp((f_i + g_j - C_ij) / epsilon), and the potentials carry rounding errors of
/// about u max|C| (u = unit roundoff); once epsilon < u max|C| that noise exceeds 1 in the
/// exponent, so no entry has a correct digit and, further down, exp overflows to Inf.
template <class S>
void require_cost_resolution(const char* where, bool cost_finite, S max_cost, const SinkhornOptions<S>& options) {
  if (!cost_finite) fail(where, "cost matrix C contains NaN or Inf");
  constexpr S u = std::numeric_limits<S>::epsilon();
  if (max_cost * u > options.epsilon) {
    std::ostringstream os;
    os << "epsilon = " << options.epsilon << " is below the resolution of the cost (max|C| = " << max_cost
       << " times the unit roundoff " << u << " of this scalar type): raise epsilon or rescale C"
       << (std::is_same_v<S, float> ? ", or use double" : "");
    fail(where, os.str());
  }
}

/// The cost's own checks (require_cost_resolution) on a host cost; any rows of it.
template <class S>
void validate_sinkhorn_cost(const char* where, const Eigen::Ref<const Matrix<S>>& C, const SinkhornOptions<S>& options) {
  // C_ij * (max * u / epsilon) overflows exactly when |C_ij| > epsilon / u, so one pass over C
  // checks both rules; only the failure path looks again to say which.
  constexpr S u = std::numeric_limits<S>::epsilon();
  if (!all_finite(C, std::numeric_limits<S>::max() * (u / options.epsilon))) {
    const bool finite = all_finite(C);
    require_cost_resolution(where, finite, finite ? S(C.cwiseAbs().maxCoeff()) : S(0), options);
  }
}

/// validate_sinkhorn_problem plus validate_sinkhorn_cost.
template <class S>
void validate_sinkhorn(const char* where, const Eigen::Ref<const Matrix<S>>& C, const Vector<S>& a,
                       const Vector<S>& b, S rho_a, S rho_b, const SinkhornOptions<S>& options) {
  validate_sinkhorn_problem(where, C.rows(), C.cols(), a, b, rho_a, rho_b, options);
  validate_sinkhorn_cost(where, C, options);
}

template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> solve_sinkhorn(const char* where, const Eigen::MatrixBase<DC>& C,
                                                   const Eigen::MatrixBase<DA>& a,
                                                   const Eigen::MatrixBase<DB>& b,
                                                   typename DC::Scalar rho_a, typename DC::Scalar rho_b,
                                                   const SinkhornOptions<typename DC::Scalar>& options,
                                                   bool keep_plan = true) {
  using S = typename DC::Scalar;
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "Sinkhorn runs on float or double");
  // POT's order sinkhorn(a, b, M) would pass a matrix as b: caught here at compile time.
  static_assert(DA::IsVectorAtCompileTime && DB::IsVectorAtCompileTime,
                "protoot::sinkhorn(C, a, b, options): a and b must be vector expressions (cost first)");
  // Sizes before any Eigen operation, so a mismatch is an exception, not an Eigen assertion.
  require(C.rows() > 0 && C.cols() > 0, where, "cost matrix C is empty");
  require_size(a.size(), C.rows(), where, "a must have one entry per row of C");
  require_size(b.size(), C.cols(), where, "b must have one entry per column of C");
  const Vector<S> a_vec = a.template cast<S>();
  const Vector<S> b_vec = b.template cast<S>();
  const Eigen::Ref<const Matrix<S>> cost(C);  // maps a row-major cost, copies any other layout
  validate_sinkhorn(where, cost, a_vec, b_vec, rho_a, rho_b, options);
  return SinkhornKernel<S>(cost, a_vec, b_vec, rho_a, rho_b, options, true).solve(keep_plan);
}

}  // namespace detail

template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn(const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DA>& a,
                                             const Eigen::MatrixBase<DB>& b,
                                             const SinkhornOptions<typename DC::Scalar>& options) {
  using S = typename DC::Scalar;
  const S hard = std::numeric_limits<S>::infinity();
  return detail::solve_sinkhorn("sinkhorn", C, a, b, hard, hard, options);
}

template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn_unbalanced(const Eigen::MatrixBase<DC>& C,
                                                        const Eigen::MatrixBase<DA>& a,
                                                        const Eigen::MatrixBase<DB>& b,
                                                        typename DC::Scalar rho_a, typename DC::Scalar rho_b,
                                                        const SinkhornOptions<typename DC::Scalar>& options) {
  return detail::solve_sinkhorn("sinkhorn_unbalanced", C, a, b, rho_a, rho_b, options);
}

template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> sinkhorn_cost(const Eigen::MatrixBase<DC>& C, const Eigen::MatrixBase<DA>& a,
                                                  const Eigen::MatrixBase<DB>& b,
                                                  const SinkhornOptions<typename DC::Scalar>& options) {
  using S = typename DC::Scalar;
  const S hard = std::numeric_limits<S>::infinity();
  return detail::solve_sinkhorn("sinkhorn_cost", C, a, b, hard, hard, options, false);
}

}  // namespace protoot
