// protoot/sinkhorn_options.hpp — options shared by every Sinkhorn solver
// (balanced, unbalanced, prototype-constrained; CPU and CUDA backends).
#pragma once

#include <functional>

#include "protoot/types.hpp"

namespace protoot {

/// State handed to SinkhornOptions::callback after each checked iteration.
template <class Scalar>
struct SinkhornProgress {
  int iteration;          ///< 1-based iteration count
  Scalar epsilon;         ///< epsilon in force (differs from the target during epsilon scaling)
  Scalar marginal_error;  ///< L1 marginal violation of the current iterate
};

template <class Scalar>
struct SinkhornOptions {
  /// Entropic regularisation, > 0, in the units of the cost (same meaning as POT's `reg`).
  /// No default on purpose: 0 is rejected with a clear error.
  Scalar epsilon = Scalar(0);
  int max_iterations = 1000;
  /// Stop when the L1 marginal violation ||P1 - a||_1 + ||P^T1 - b||_1 is at most this.
  /// After each iteration the rows are exact, so this is the column side. For a KL-relaxed side
  /// (finite rho) the target is the marginal the optimum matches, a * exp(-f / rho), not a.
  /// float potentials carry about 2^-24 max|C| absolute error, so below ~1e-7 max|C| / epsilon
  /// (1e-4 at epsilon = 1e-3 on a unit cost) the error stops decreasing: ask float for less.
  Scalar tolerance = Scalar(1e-9);
  /// true: log-sum-exp updates of the potentials (stable at any epsilon).
  /// false: classic scaling (u, v) iterations on exp(-C/eps) (faster; underflows at small eps,
  /// which is detected and reported as SolverStatus::numerical_error).
  bool log_domain = true;
  /// Scaling form only: on under/overflow, continue from the last finite iterate in the log
  /// domain instead of stopping with SolverStatus::numerical_error.
  bool log_domain_fallback = false;
  /// Evaluate the marginal error every this many iterations (>= 1).
  int check_every = 1;
  /// Epsilon scaling: when > epsilon, start here and multiply by epsilon_decay each iteration
  /// until epsilon is reached (convergence is only declared at the target epsilon).
  Scalar epsilon_start = Scalar(0);
  Scalar epsilon_decay = Scalar(0.5);
  /// Warm start from dual potentials (e.g. a previous result's f and g). Sinkhorn alternates
  /// g then f, so g_init (size m), when given, is the starting column potential and f_init is
  /// not needed; otherwise g starts from f_init (size n; empty means zeros). Entries are finite,
  /// or -inf where the marginal is zero (as a result returns them for points without mass).
  Vector<Scalar> f_init, g_init;
  /// Called after each checked iteration; return false to stop early.
  std::function<bool(const SinkhornProgress<Scalar>&)> callback;
};

}  // namespace protoot
