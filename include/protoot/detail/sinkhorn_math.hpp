// protoot/detail/sinkhorn_math.hpp — the Sinkhorn rules every solver shares, written once for
// the host and the device (PROTOOT_HOST_DEVICE, as Eigen's EIGEN_DEVICE_FUNC): the epsilon
// schedule, the relaxation exponent and relaxed target of a KL-penalised side, and the one stop
// rule. The CPU kernel (detail/sinkhorn_kernel.hpp) and the CUDA solvers (cuda/sinkhorn.cuh,
// cuda/sinkhorn_batch.cuh and their kernels) call these, so the backends cannot drift apart.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define PROTOOT_HOST_DEVICE __host__ __device__
#else
#define PROTOOT_HOST_DEVICE
#endif

// The math functions of the pass being compiled: CUDA's on the device, <cmath>'s on the host.
#if defined(__CUDA_ARCH__)
#define PROTOOT_MATH(function) ::function
#else
#define PROTOOT_MATH(function) std::function
#endif

namespace protoot::detail {

/// Epsilon in force at iteration k >= 1: epsilon_start * decay^(k - 1) down to `epsilon`, or
/// `epsilon` throughout when there is no ramp (epsilon_start <= epsilon).
template <class S>
PROTOOT_HOST_DEVICE S scheduled_epsilon(S epsilon, S epsilon_start, S epsilon_decay, int k) {
  if (!(epsilon_start > epsilon)) return epsilon;
  const S ramp = epsilon_start * PROTOOT_MATH(pow)(epsilon_decay, S(k - 1));
  return ramp > epsilon ? ramp : epsilon;
}

/// The same for anything with the SinkhornOptions fields epsilon, epsilon_start, epsilon_decay.
template <class Options>
PROTOOT_HOST_DEVICE auto scheduled_epsilon(const Options& options, int k) {
  return scheduled_epsilon(options.epsilon, options.epsilon_start, options.epsilon_decay, k);
}

/// lambda = rho / (rho + eps), the damping of a KL-relaxed side's update; 1 for a hard side
/// (rho = +infinity).
template <class S>
PROTOOT_HOST_DEVICE S relaxation_exponent(S rho, S epsilon) {
  return PROTOOT_MATH(isinf)(rho) ? S(1) : rho / (rho + epsilon);
}

/// The marginal a relaxed side's optimum matches: mass * exp(-potential / rho) (the KL
/// penalty's gradient balance); the mass itself for a hard side or a massless point.
template <class S>
PROTOOT_HOST_DEVICE S relaxed_target(S mass, S potential, S rho) {
  if (PROTOOT_MATH(isinf)(rho) || mass == S(0)) return mass;
  return mass * PROTOOT_MATH(exp)(-potential / rho);
}

/// What a checked iterate decides (the callback and the iteration budget are the loop's own).
enum class SinkhornCheck { go_on, converged, numerical_error };

/// The one stop rule: a non-finite marginal error is a numerical error (never returned as a
/// plan of NaN), an error within `tolerance` at the target epsilon (the ramp done) converges.
template <class S>
PROTOOT_HOST_DEVICE SinkhornCheck check_iterate(S error, S epsilon_now, S epsilon_target, S tolerance) {
  if (!PROTOOT_MATH(isfinite)(error)) return SinkhornCheck::numerical_error;
  if (epsilon_now == epsilon_target && error <= tolerance) return SinkhornCheck::converged;
  return SinkhornCheck::go_on;
}

}  // namespace protoot::detail
