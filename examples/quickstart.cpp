// protoot quick start: transport 5 source points onto 4 target points on a line with entropic
// optimal transport, then print the plan, its cost and how well it meets the marginals.
#include <iostream>

#include "protoot/sinkhorn.hpp"

int main() {
  protoot::Vector<double> x(5), y(4), a(5), b(4);
  x << 0.0, 0.1, 0.2, 0.5, 0.9;    // source positions
  y << 0.05, 0.3, 0.6, 1.0;        // target positions
  a << 0.15, 0.25, 0.2, 0.3, 0.1;  // source masses
  b << 0.12, 0.38, 0.27, 0.23;     // target masses (same total)

  // Cost: squared distance between every source and every target.
  const protoot::Matrix<double> C = (x.replicate(1, 4) - y.transpose().replicate(5, 1)).array().square();

  protoot::SinkhornOptions<double> options;
  options.epsilon = 0.01;  // entropic regularisation, in the units of C
  const auto result = protoot::sinkhorn(C, a, b, options);
  const bool converged = result.status == protoot::SolverStatus::converged;

  std::cout << "transport plan:\n" << result.plan << "\n"
            << "transport cost <P, C>: " << result.transport_cost << "\n"
            << "marginal error:        " << result.marginal_error << " (L1, both sides)\n"
            << "iterations:            " << result.iterations << (converged ? " (converged)" : "") << "\n";
  return converged ? 0 : 1;
}
