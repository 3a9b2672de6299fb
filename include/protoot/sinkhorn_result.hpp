// protoot/sinkhorn_result.hpp — what every Sinkhorn solver returns (balanced, unbalanced,
// prototype-constrained; CPU and CUDA backends).
#pragma once

#include <vector>

#include "protoot/solver_status.hpp"
#include "protoot/types.hpp"

namespace protoot {

template <class Scalar>
struct SinkhornResult {
  Matrix<Scalar> plan;        ///< n x m transport plan
  Vector<Scalar> f, g;        ///< dual potentials: plan = exp((f_i + g_j - C_ij) / epsilon)
  int iterations = 0;
  SolverStatus status = SolverStatus::max_iterations;
  // Marginal errors of the returned plan, recomputed from it (relaxed targets as in tolerance).
  Scalar marginal_error = Scalar(0);    ///< L1 violation on both sides, as in tolerance
  Scalar marginal_error_a = Scalar(0);  ///< ||P 1 - a||_1
  Scalar marginal_error_b = Scalar(0);  ///< ||P^T 1 - b||_1
  Scalar transport_cost = Scalar(0);    ///< <P, C>
  std::vector<Scalar> error_history;    ///< the stopping criterion at each checked iteration
};

}  // namespace protoot
