// The CUDA losses against the CPU backend on the same inputs, values and gradients (float
// 1e-4, double 1e-10 relative): InfoNCE with and without excluded columns at a small
// temperature (tau = 0.01: the log-sum-exp must not overflow), the two-view form, hard and soft
// prototype contrast, the OT-target loss, neighbour search and neighbour contrast, and
// l2_normalise_rows with its backward; plus the argument checks that are the GPU's own.
#include <string>

#include "check.hpp"
#include "cpu_reference.hpp"
#include "protoot/cuda/l2_normalise.cuh"
#include "protoot/cuda/losses.cuh"

using namespace protoot;
using protoot::test::Checker;
using protoot::test::label;

namespace {

template <class S>
double tolerance() {
  return std::is_same<S, float>::value ? 1e-4 : 1e-10;
}

/// Expects a loss and its PrototypeGradients to match the CPU's.
template <class S>
void expect_same(Checker& check, S gpu, const PrototypeGradients<S>& gpu_grad, S cpu,
                 const PrototypeGradients<S>& cpu_grad, const std::string& what) {
  check.expect(std::abs(double(gpu - cpu)) <= tolerance<S>() * std::abs(double(cpu)), label<S>(what + ": loss"));
  check.expect(test::relative_error(gpu_grad.features, cpu_grad.features) <= tolerance<S>(),
               label<S>(what + ": d/dfeatures"));
  check.expect(test::relative_error(gpu_grad.prototypes, cpu_grad.prototypes) <= tolerance<S>(),
               label<S>(what + ": d/dprototypes"));
}

template <class S>
void compare(Checker& check) {
  const double tol = tolerance<S>();
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

template <class S>
void two_views(Checker& check) {
  const Index n = 64, d = 32;
  const Matrix<S> a = test::random_points<S>(n, d, 61).rowwise().normalized();
  const Matrix<S> b = test::random_points<S>(n, d, 62).rowwise().normalized();
  const cuda::DeviceMatrix<S> da(a), db(b);
  TwoViewGradients<S> gpu_grad, cpu_grad;
  const S gpu = info_nce_two_views(da, db, S(0.1), &gpu_grad);
  const S cpu = test::cpu_info_nce_two_views(a, b, S(0.1), &cpu_grad);
  const Matrix<S>&gpu_a = gpu_grad.a, &gpu_b = gpu_grad.b, &cpu_a = cpu_grad.a, &cpu_b = cpu_grad.b;
  check.expect(std::abs(double(gpu - cpu)) <= tolerance<S>() * std::abs(double(cpu)), label<S>("two views: loss"));
  check.expect(test::relative_error(gpu_a, cpu_a) <= tolerance<S>(), label<S>("two views: dL/da"));
  check.expect(test::relative_error(gpu_b, cpu_b) <= tolerance<S>(), label<S>("two views: dL/db"));
  check.expect(std::abs(double(info_nce_two_views(da, db, S(0.1)) - cpu)) <= tolerance<S>() * std::abs(double(cpu)),
               label<S>("two views: loss without gradients"));
}

template <class S>
void prototype_losses(Checker& check) {
  const Index n = 96, k = 12, d = 40;
  const Matrix<S> z = test::random_points<S>(n, d, 71).rowwise().normalized();
  const Matrix<S> c = test::random_points<S>(k, d, 72).rowwise().normalized();
  const cuda::DeviceMatrix<S> dz(z), dc(c);
  IndexVector match(n);
  for (Index i = 0; i < n; ++i) match(i) = (5 * i + 3) % k;
  // a plan-like target: positive entries, rows of unequal mass (the OT loss renormalises them)
  const Matrix<S> plan = (test::random_points<S>(n, k, 73).array() + S(1.5)).matrix() / S(n);
  const Matrix<S> assignment = plan.array().colwise() / plan.rowwise().sum().array();
  const cuda::DeviceMatrix<S> dplan(plan), dassignment(assignment);
  for (S tau : {S(0.1), S(0.01)}) {
    const std::string at = " (tau = " + std::to_string(tau) + ")";
    PrototypeGradients<S> gpu_grad, cpu_grad;
    S gpu = prototype_contrast(dz, dc, match, tau, &gpu_grad);
    S cpu = test::cpu_prototype_contrast(z, c, match, tau, &cpu_grad);
    expect_same(check, gpu, gpu_grad, cpu, cpu_grad, "prototype_contrast" + at);
    gpu = prototype_contrast_soft(dz, dc, dassignment, tau, &gpu_grad);
    cpu = test::cpu_prototype_contrast_soft(z, c, assignment, tau, &cpu_grad);
    expect_same(check, gpu, gpu_grad, cpu, cpu_grad, "prototype_contrast_soft" + at);
    gpu = ot_target_loss(dz, dc, dplan, tau, &gpu_grad);
    cpu = test::cpu_ot_target_loss(z, c, plan, tau, &cpu_grad);
    expect_same(check, gpu, gpu_grad, cpu, cpu_grad, "ot_target_loss" + at);
    check.expect(std::abs(double(ot_target_loss(dz, dc, dplan, tau) - cpu)) <= tolerance<S>() * std::abs(double(cpu)),
                 label<S>("ot_target_loss without gradients" + at));
  }
  IndexVector bad_match = match;
  bad_match(4) = k;
  check.expect_throws<std::invalid_argument>([&] { prototype_contrast(dz, dc, bad_match, S(0.1)); },
                                             label<S>("match out of range"));
  const cuda::DeviceMatrix<S> unnormalised(plan);
  check.expect_throws<std::invalid_argument>([&] { prototype_contrast_soft(dz, dc, unnormalised, S(0.1)); },
                                             label<S>("assignment rows not summing to 1"));
  Matrix<S> negative = assignment;
  negative(7, 2) = -negative(7, 2);
  check.expect_throws<std::invalid_argument>(
      [&] { prototype_contrast_soft(dz, dc, cuda::DeviceMatrix<S>(negative), S(0.1)); },
      label<S>("negative assignment entry"));
  Matrix<S> empty_row = plan;
  empty_row.row(9).setZero();
  check.expect_throws<std::invalid_argument>([&] { ot_target_loss(dz, dc, cuda::DeviceMatrix<S>(empty_row), S(0.1)); },
                                             label<S>("plan row without mass"));
}

template <class S>
void neighbours(Checker& check) {
  const Index n = 80, m = 130, d = 24, k = 5;
  const Matrix<S> q = test::random_points<S>(n, d, 81);  // not normalised: the search is cosine
  const Matrix<S> bank = test::random_points<S>(m, d, 82);
  const cuda::DeviceMatrix<S> dq(q), dbank(bank);
  IndexVector own(n);
  for (Index i = 0; i < n; ++i) own(i) = i % 4 == 0 ? -1 : i;  // query i is bank row i
  for (const IndexVector* excluded : {static_cast<const IndexVector*>(nullptr), static_cast<const IndexVector*>(&own)}) {
    const std::string what = excluded ? " (own rows excluded)" : "";
    check.expect(cosine_neighbours(dq, dbank, k, excluded) == test::cpu_cosine_neighbours(q, bank, k, excluded),
                 label<S>("cosine_neighbours" + what));
    PrototypeGradients<S> gpu_grad, cpu_grad;
    const S gpu = neighbour_contrast(dq, dbank, k, S(0.1), excluded, &gpu_grad);
    const S cpu = test::cpu_neighbour_contrast(q, bank, k, S(0.1), excluded, &cpu_grad);
    expect_same(check, gpu, gpu_grad, cpu, cpu_grad, "neighbour_contrast" + what);
  }
  check.expect_throws<std::invalid_argument>([&] { cosine_neighbours(dq, dbank, m, &own); },
                                             label<S>("k > m - 1 with exclusions"));
}

template <class S>
void normalisation(Checker& check) {
  const Index n = 70, d = 45;
  const Matrix<S> x = S(3) * test::random_points<S>(n, d, 91), g = test::random_points<S>(n, d, 92);
  Vector<S> cpu_norms;
  const Matrix<S> cpu_y = test::cpu_l2_normalise_rows(x, &cpu_norms);
  const Matrix<S> cpu_dx = test::cpu_l2_normalise_rows_backward(cpu_y, cpu_norms, g);
  cuda::DeviceBuffer<S> norms;
  const cuda::DeviceMatrix<S> y = l2_normalise_rows(cuda::DeviceMatrix<S>(x), &norms);
  const cuda::DeviceMatrix<S> dx = l2_normalise_rows_backward(y, norms, cuda::DeviceMatrix<S>(g));
  check.expect(test::relative_error(y.download(), cpu_y) <= tolerance<S>(), label<S>("l2_normalise_rows"));
  check.expect(test::relative_error(cuda::to_host(norms, n), cpu_norms) <= tolerance<S>(),
               label<S>("l2_normalise_rows: norms"));
  check.expect(test::relative_error(dx.download(), cpu_dx) <= tolerance<S>(), label<S>("l2_normalise_rows_backward"));
  Matrix<S> zero_row = x;
  zero_row.row(11).setZero();
  check.expect_throws<std::invalid_argument>([&] { l2_normalise_rows(cuda::DeviceMatrix<S>(zero_row)); },
                                             label<S>("zero row"));
}

}  // namespace

int main() {
  return test::run_tests("test_losses (CUDA)", true, [](Checker& check) {
    compare<float>(check);
    compare<double>(check);
    two_views<float>(check);
    two_views<double>(check);
    prototype_losses<float>(check);
    prototype_losses<double>(check);
    neighbours<float>(check);
    neighbours<double>(check);
    normalisation<float>(check);
    normalisation<double>(check);
  });
}
