// Built (compiled and linked, not run: CI has no GPU) against an installed protoot by
// tests/install_consumer.cmake: find_package(protoot) + protoot::cuda is all a CUDA program needs.
#include <cstdio>

#include <protoot/cuda/sinkhorn.cuh>

double solve_on_cpu(const protoot::Matrix<double>& cost);  // solve_on_cpu.cpp, compiled by the host compiler

int main() {
  protoot::Matrix<double> cost(2, 2);
  cost << 0, 1, 1, 0;
  protoot::Vector<double> a = protoot::Vector<double>::Constant(2, 0.5), b = a;
  protoot::SinkhornOptions<double> options;
  options.epsilon = 0.1;
  const protoot::cuda::DeviceMatrix<double> device_cost(cost);
  const auto result = protoot::sinkhorn(device_cost, a, b, options);
  std::printf("consumer_cuda: GPU cost %g, CPU cost %g\n", result.transport_cost, solve_on_cpu(cost));
  return 0;
}
