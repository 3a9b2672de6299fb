// CUDA Sinkhorn against the CPU solver on the same inputs (float: 1e-4 relative on plans and
// potentials; double: 1e-8): stored cost in both forms, unbalanced, point clouds (squared
// Euclidean and cosine), epsilon scaling, no-plan output, and the scaling form's underflow.
#include <cmath>
#include <limits>
#include <string>

#include "check.hpp"
#include "cpu_reference.hpp"
#include "protoot/cuda/sinkhorn.cuh"

using namespace protoot;
using protoot::test::Checker;

namespace {

template <class S>
S tolerance() {
  return std::is_same<S, float>::value ? S(1e-4) : S(1e-8);
}

template <class S>
std::string label(const std::string& what) {
  return what + (std::is_same<S, float>::value ? " [float]" : " [double]");
}

/// The GPU result must match the CPU result: plan, potentials, cost, convergence.
template <class S>
void expect_same(Checker& check, const SinkhornResult<S>& gpu, const SinkhornResult<S>& cpu, const std::string& what) {
  const double tol = tolerance<S>();
  check.expect(gpu.status == cpu.status, label<S>(what + ": same status"));
  check.expect(test::relative_error(gpu.plan, cpu.plan) <= tol,
               label<S>(what + ": plan rel. error " + std::to_string(test::relative_error(gpu.plan, cpu.plan))));
  check.expect(test::relative_error(gpu.f, cpu.f) <= tol,
               label<S>(what + ": f rel. error " + std::to_string(test::relative_error(gpu.f, cpu.f))));
  check.expect(test::relative_error(gpu.g, cpu.g) <= tol,
               label<S>(what + ": g rel. error " + std::to_string(test::relative_error(gpu.g, cpu.g))));
  check.expect(std::abs(gpu.transport_cost - cpu.transport_cost) <= tol * std::abs(cpu.transport_cost),
               label<S>(what + ": transport cost"));
}

template <class S>
SinkhornOptions<S> converging_options(S eps) {
  SinkhornOptions<S> options;
  options.epsilon = eps;
  options.max_iterations = 5000;
  options.tolerance = std::is_same<S, float>::value ? S(1e-5) : S(1e-12);
  return options;
}

template <class S>
void stored_cost(Checker& check) {
  const Index n = 300, m = 200;
  const Matrix<S> x = test::random_points<S>(n, 5, 1), y = test::random_points<S>(m, 5, 2);
  Matrix<S> C = test::point_cost(x, y, false);
  C /= C.maxCoeff();  // costs in [0, 1]: exp(-C/eps) stays representable in float at eps = 0.1
  const Vector<S> a = Vector<S>::Constant(n, S(1) / n);
  Vector<S> b = test::random_points<S>(m, 1, 3).array().abs() + S(0.1);
  b /= b.sum();
  const cuda::DeviceMatrix<S> device_cost(C);
  const S inf = std::numeric_limits<S>::infinity();
  for (bool log_domain : {true, false}) {
    SinkhornOptions<S> options = converging_options(S(0.1));
    options.log_domain = log_domain;
    const std::string form = log_domain ? "log" : "scaling";
    expect_same(check, sinkhorn(device_cost, a, b, options), test::cpu_sinkhorn(C, a, b, inf, inf, options),
                "balanced " + form);
    expect_same(check, sinkhorn_unbalanced(device_cost, a, b, S(1), S(0.5), options),
                test::cpu_sinkhorn(C, a, b, S(1), S(0.5), options), "unbalanced " + form);
    expect_same(check, sinkhorn_unbalanced(device_cost, a, b, inf, S(0.5), options),
                test::cpu_sinkhorn(C, a, b, inf, S(0.5), options), "semi-relaxed " + form);
  }
  SinkhornOptions<S> ramp = converging_options(S(0.02));
  ramp.epsilon_start = S(1);
  expect_same(check, sinkhorn(device_cost, a, b, ramp), test::cpu_sinkhorn(C, a, b, inf, inf, ramp),
              "epsilon scaling");

  SinkhornOptions<S> few = converging_options(S(0.1));
  few.max_iterations = 3;  // SwAV-style fixed iterations: same iterates, not just the same limit
  const SinkhornResult<S> gpu_few = sinkhorn(device_cost, a, b, few), cpu_few = test::cpu_sinkhorn(C, a, b, inf, inf, few);
  check.expect(test::relative_error(gpu_few.f, cpu_few.f) <= tolerance<S>(), label<S>("3 iterations: same f"));
  check.expect(gpu_few.iterations == 3, label<S>("3 iterations counted"));

  const SinkhornResult<S> no_plan = sinkhorn(device_cost, a, b, converging_options(S(0.1)), cuda::PlanOutput::none);
  const SinkhornResult<S> cpu = test::cpu_sinkhorn(C, a, b, inf, inf, converging_options(S(0.1)));
  check.expect(no_plan.plan.size() == 0, label<S>("PlanOutput::none leaves the plan empty"));
  check.expect(std::abs(no_plan.transport_cost - cpu.transport_cost) <= tolerance<S>() * cpu.transport_cost,
               label<S>("PlanOutput::none still gives the transport cost"));

  SinkhornOptions<S> tiny = converging_options(S(1e-3));  // exp(-C/eps) underflows
  tiny.log_domain = false;
  const SinkhornResult<S> underflow = sinkhorn(device_cost, a, b, tiny);
  check.expect(underflow.status == SinkhornStatus::numerical_error, label<S>("scaling underflow is reported"));
  check.expect(underflow.f.allFinite() && underflow.g.allFinite(), label<S>("and the potentials stay finite"));
}

template <class S>
void point_clouds(Checker& check) {
  const Index n = 257, m = 130, d = 37;  // tails in every tile dimension
  const Matrix<S> x = test::random_points<S>(n, d, 4), y = test::random_points<S>(m, d, 5);
  const cuda::DeviceMatrix<S> dx(x), dy(y);
  const Vector<S> a = Vector<S>::Constant(n, S(1) / n), b = Vector<S>::Constant(m, S(1) / m);
  const S inf = std::numeric_limits<S>::infinity();
  for (bool cosine : {false, true}) {
    const Matrix<S> C = test::point_cost(x, y, cosine);
    const SinkhornOptions<S> options = converging_options(S(cosine ? 0.05 : 0.5));
    const cuda::PointClouds<S> clouds{dx, dy, cosine ? cuda::PointCost::cosine : cuda::PointCost::squared_euclidean};
    const std::string what = cosine ? "point clouds, cosine" : "point clouds, squared Euclidean";
    expect_same(check, sinkhorn(clouds, a, b, options), test::cpu_sinkhorn(C, a, b, inf, inf, options), what);
    expect_same(check, sinkhorn_unbalanced(clouds, a, b, S(1), S(1), options),
                test::cpu_sinkhorn(C, a, b, S(1), S(1), options), what + ", unbalanced");
  }
  const cuda::DeviceMatrix<S> zero(Matrix<S>::Zero(3, d));
  check.expect_throws<std::invalid_argument>(
      [&] {
        sinkhorn(cuda::PointClouds<S>{zero, dy, cuda::PointCost::cosine}, Vector<S>::Constant(3, S(1) / 3), b,
                 converging_options(S(0.1)));
      },
      label<S>("a zero point under the cosine cost"));
}

}  // namespace

int main() {
  return test::run_tests("test_sinkhorn (CUDA)", true, [](Checker& check) {
    stored_cost<float>(check);
    stored_cost<double>(check);
    point_clouds<float>(check);
    point_clouds<double>(check);
  });
}
