// protoot/solver_status.hpp — why an iterative solver (Sinkhorn in every form, K-means) stopped.
#pragma once

namespace protoot {

/// Why an iterative solve stopped; every result of an iterative solver carries one as `status`.
enum class SolverStatus {
  converged,        ///< the stopping rule held (Sinkhorn: marginal error <= tolerance; K-means:
                    ///< labels stable or centroid shift <= tolerance)
  max_iterations,   ///< iteration budget spent first (the result is still the last valid iterate)
  numerical_error,  ///< Sinkhorn's scaling form under/overflowed; the plan is the last finite
                    ///< iterate (when even the first overflows, the solver throws
                    ///< std::domain_error instead). K-means never reports it.
  interrupted,      ///< the options' callback returned false
};

}  // namespace protoot
