// CUDA Sinkhorn against the CPU solver on the same inputs (float: 1e-4 relative on plans and
// potentials; double: 1e-8): stored cost in both forms, unbalanced, point clouds (squared
// Euclidean and cosine), epsilon scaling, no-plan output, the scaling form's underflow, and
// batches of small problems in one launch (each against its own CPU solve), and ProtoOT's
// prototype-constrained solve (assignments and labels too).
#include <cmath>
#include <limits>
#include <string>

#include "check.hpp"
#include "cpu_reference.hpp"
#include "protoot/cuda/prototype_sinkhorn.cuh"
#include "protoot/cuda/sinkhorn_batch.cuh"

using namespace protoot;
using protoot::test::Checker;
using protoot::test::label;

namespace {

template <class S>
S tolerance() {
  return std::is_same<S, float>::value ? S(1e-4) : S(1e-8);
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
  check.expect(underflow.status == SolverStatus::numerical_error, label<S>("scaling underflow is reported"));
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

template <class S>
void batches(Checker& check) {
  const Index problems = 40, n = 24, m = 17;
  const Matrix<S> stacked = (test::random_points<S>(problems * n, m, 31).array() + S(1)) / S(2);  // costs in [0, 1)
  std::vector<Vector<S>> as, bs;
  for (Index p = 0; p < problems; ++p) {
    Vector<S> a = test::random_points<S>(n, 1, 100 + p).array().abs() + S(0.1);
    Vector<S> b = test::random_points<S>(m, 1, 200 + p).array().abs() + S(0.1);
    as.push_back(a / a.sum());
    bs.push_back(b / b.sum());
  }
  const cuda::DeviceMatrix<S> device_stacked(stacked);
  const SinkhornOptions<S> options = converging_options(S(0.05));
  const S inf = std::numeric_limits<S>::infinity();
  const auto balanced = sinkhorn_batch(cuda::StackedCosts<S>{device_stacked, problems}, as, bs, options);
  const auto relaxed = sinkhorn_unbalanced_batch(cuda::StackedCosts<S>{device_stacked, problems}, as, bs, S(0.5),
                                                 inf, options);
  const Matrix<S> shared_cost = stacked.topRows(n);
  const cuda::DeviceMatrix<S> device_shared(shared_cost);
  const auto shared = sinkhorn_batch(device_shared, as, bs, options);
  check.expect(balanced.size() == std::size_t(problems) && relaxed.size() == std::size_t(problems) &&
                   shared.size() == std::size_t(problems),
               label<S>("one result per problem"));
  for (Index p = 0; p < problems && balanced.size() == std::size_t(problems); ++p) {
    const Matrix<S> C = stacked.middleRows(p * n, n);
    const std::size_t q = std::size_t(p);
    const std::string what = "batch problem " + std::to_string(p);
    expect_same(check, balanced[q], test::cpu_sinkhorn(C, as[q], bs[q], inf, inf, options), what);
    expect_same(check, relaxed[q], test::cpu_sinkhorn(C, as[q], bs[q], S(0.5), inf, options), what + ", semi-relaxed");
    expect_same(check, shared[q], test::cpu_sinkhorn(shared_cost, as[q], bs[q], inf, inf, options), what + ", shared cost");
  }
  std::vector<Vector<S>> wrong = bs;
  wrong[3] = Vector<S>::Constant(m + 1, S(1) / (m + 1));
  check.expect_throws<std::invalid_argument>(
      [&] { sinkhorn_batch(cuda::StackedCosts<S>{device_stacked, problems}, as, wrong, options); },
      label<S>("a bad problem in a batch"));
}

template <class S>
void prototypes(Checker& check) {
  const Index n = 500, k = 7, d = 24;
  const Matrix<S> Z = test::blobs<S>(n, d, k, 41), P = test::blobs<S>(k, d, k, 41);
  const cuda::DeviceMatrix<S> dz(Z), dp(P);
  Vector<S> w(k);
  w << S(0.4), S(0.2), S(0.15), S(0.1), S(0.08), S(0.05), S(0.02);
  const SinkhornOptions<S> options = converging_options(S(0.05));
  for (S rho : {std::numeric_limits<S>::infinity(), S(0.5)}) {
    const std::string what = std::isinf(rho) ? "prototype_sinkhorn" : "prototype_sinkhorn, relaxed";
    const PrototypeSinkhornResult<S> gpu = prototype_sinkhorn(dz, dp, w, options, rho);
    const PrototypeSinkhornResult<S> cpu = test::cpu_prototype_sinkhorn(Z, P, w, options, rho);
    expect_same(check, gpu, cpu, what);
    check.expect(test::relative_error(gpu.assignments, cpu.assignments) <= tolerance<S>(),
                 label<S>(what + ": assignments"));
    check.expect(gpu.labels == cpu.labels, label<S>(what + ": labels"));
  }
  check.expect_throws<std::invalid_argument>([&] { prototype_sinkhorn(dz, dp, Vector<S>(w * S(2)), options); },
                                             label<S>("w not a distribution"));
  for (bool rows : {false, true})
    check.expect(test::relative_error(prototype_cost(dz, dp, rows).download(), test::cpu_prototype_cost(Z, P, rows)) <=
                     tolerance<S>(),
                 label<S>(rows ? "prototype_cost, normalised similarity rows" : "prototype_cost"));
  for (S rho : {std::numeric_limits<S>::infinity(), S(0.5)}) {
    const std::string what = std::isinf(rho) ? "prototype_sinkhorn_released" : "prototype_sinkhorn_released, relaxed";
    const PrototypeSinkhornResult<S> gpu = prototype_sinkhorn_released(dz, dp, w, rho);
    const PrototypeSinkhornResult<S> cpu = test::cpu_prototype_sinkhorn_released(Z, P, w, rho);
    expect_same(check, gpu, cpu, what);
    check.expect(test::relative_error(gpu.assignments, cpu.assignments) <= tolerance<S>(),
                 label<S>(what + ": assignments"));
    check.expect(gpu.labels == cpu.labels, label<S>(what + ": labels"));
  }
}

}  // namespace

int main() {
  return test::run_tests("test_sinkhorn (CUDA)", true, [](Checker& check) {
    stored_cost<float>(check);
    stored_cost<double>(check);
    point_clouds<float>(check);
    point_clouds<double>(check);
    batches<float>(check);
    batches<double>(check);
    prototypes<float>(check);
    prototypes<double>(check);
  });
}
