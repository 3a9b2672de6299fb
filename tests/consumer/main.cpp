// Built against an installed protoot by tests/install_consumer.cmake: proves that
// find_package(protoot) + protoot::protoot is enough to include and run a solver.
#include <cmath>
#include <iostream>

#include <protoot/sinkhorn.hpp>

int main() {
  protoot::Matrix<double> cost(2, 2);
  cost << 0, 1, 1, 0;
  protoot::Vector<double> a(2), b(2);
  a << 0.5, 0.5;
  b << 0.5, 0.5;
  protoot::SinkhornOptions<double> options;
  options.epsilon = 0.1;
  const auto result = protoot::sinkhorn(cost, a, b, options);
  std::cout << "consumer: cost " << result.transport_cost << ", marginal error " << result.marginal_error << "\n";
  return result.status == protoot::SolverStatus::converged && std::isfinite(result.transport_cost) ? 0 : 1;
}
