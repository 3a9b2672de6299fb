// CUDA InfoNCE against the CPU info_nce on the same inputs: loss and the gradients w.r.t.
// queries, positives and negatives (float 1e-4, double 1e-10 relative), with and without
// excluded columns, at a small temperature (tau = 0.01: the log-sum-exp must not overflow).
#include <string>

#include "check.hpp"
#include "cpu_reference.hpp"
#include "protoot/cuda/losses.cuh"

using namespace protoot;
using protoot::test::Checker;
using protoot::test::label;

namespace {

template <class S>
void compare(Checker& check) {
  const double tol = std::is_same<S, float>::value ? 1e-4 : 1e-10;
  const Index n = 96, m = 130, d = 40;
  const Matrix<S> q = test::random_points<S>(n, d, 51).rowwise().normalized();
  const Matrix<S> k = test::random_points<S>(n, d, 52).rowwise().normalized();
  const Matrix<S> v = test::random_points<S>(m, d, 53).rowwise().normalized();
  const cuda::DeviceMatrix<S> dq(q), dk(k), dv(v);
  IndexVector excluded(n);
  for (Index i = 0; i < n; ++i) excluded(i) = i % 3 == 0 ? -1 : (7 * i) % m;
  for (S tau : {S(0.2), S(0.01)})
    for (const IndexVector* skip : {static_cast<const IndexVector*>(nullptr),
                                    static_cast<const IndexVector*>(&excluded)}) {
      const std::string what = "tau = " + std::to_string(tau) + (skip ? ", excluded columns" : "");
      InfoNceGradients<S> gpu_grad, cpu_grad;
      const S gpu = info_nce(dq, dk, dv, tau, skip, &gpu_grad);
      const S cpu = test::cpu_info_nce(q, k, v, tau, skip, &cpu_grad);
      check.expect(std::abs(double(gpu - cpu)) <= tol * std::abs(double(cpu)), label<S>(what + ": loss"));
      check.expect(std::abs(double(info_nce(dq, dk, dv, tau, skip) - cpu)) <= tol * std::abs(double(cpu)),
                   label<S>(what + ": loss without gradients"));
      check.expect(test::relative_error(gpu_grad.queries, cpu_grad.queries) <= tol, label<S>(what + ": dL/dq"));
      check.expect(test::relative_error(gpu_grad.positives, cpu_grad.positives) <= tol, label<S>(what + ": dL/dk"));
      check.expect(test::relative_error(gpu_grad.negatives, cpu_grad.negatives) <= tol, label<S>(what + ": dL/dv"));
    }
  check.expect_throws<std::invalid_argument>([&] { info_nce(dq, dk, dv, S(0)); }, label<S>("tau = 0"));
  check.expect_throws<std::invalid_argument>([&] { info_nce(dq, dv, dv, S(0.1)); }, label<S>("positives rows"));
  IndexVector out_of_range = excluded;
  out_of_range(2) = m;
  check.expect_throws<std::invalid_argument>([&] { info_nce(dq, dk, dv, S(0.1), &out_of_range); },
                                             label<S>("excluded column out of range"));
}

}  // namespace

int main() {
  return test::run_tests("test_losses (CUDA)", true, [](Checker& check) {
    compare<float>(check);
    compare<double>(check);
  });
}
