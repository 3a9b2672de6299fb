// The host-compiled half of consumer_cuda: the same inline CPU kernels as main.cu sees, compiled
// with the consumer's OpenMP setting (protoot::cuda passes it to nvcc too).
#include <protoot/sinkhorn.hpp>

double solve_on_cpu(const protoot::Matrix<double>& cost) {
  const protoot::Vector<double> a = protoot::Vector<double>::Constant(cost.rows(), 1.0 / double(cost.rows()));
  const protoot::Vector<double> b = protoot::Vector<double>::Constant(cost.cols(), 1.0 / double(cost.cols()));
  protoot::SinkhornOptions<double> options;
  options.epsilon = 0.1;
  return protoot::sinkhorn(cost, a, b, options).transport_cost;
}
