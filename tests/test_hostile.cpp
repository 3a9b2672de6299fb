// Hostile input over the public entry points: every case must end in a clear exception of the
// library's types (std::invalid_argument, std::domain_error, std::runtime_error) or a finite,
// correct result; never a crash, an assertion, a silent NaN/Inf or a result that depends on the
// thread count. Built twice in CI (asserts on and -DNDEBUG) under ASan+UBSan.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "protoot/prototype_targets.hpp"
#include "protoot/sinkhorn.hpp"

using namespace protoot;

namespace {

template <class S>
Matrix<S> uniform_matrix(Index rows, Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix<S> X(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) X(i, j) = S(u(rng));
  return X;
}

template <class S>
bool all_finite(const Matrix<S>& X) {
  return X.array().isFinite().all();
}

}  // namespace

TEST_CASE("float prototype Sinkhorn accepts ordinary data at n = 50,000", "[hostile][sinkhorn]") {
  // The prototype marginal was scaled to a float sum of 50,000 weights 1/n (1.00001), then
  // rejected by the double mass check.
  const Index n = 50000, k = 8;
  const Matrix<float> C = uniform_matrix<float>(n, k, 1);
  const Vector<float> w = Vector<float>::Constant(k, 1.0f / k);
  SinkhornOptions<float> options;
  options.epsilon = 0.05f;
  options.max_iterations = 50;
  PrototypeSinkhornResult<float> result;
  REQUIRE_NOTHROW(result = prototype_sinkhorn_cost(C, w, options));
  CHECK(all_finite(result.plan));
  CHECK(std::abs(result.plan.template cast<double>().sum() - 1.0) < 1e-4);

  // Plain sinkhorn with marginals the caller normalised in float.
  const Vector<float> a = Vector<float>::Constant(n, 1.0f / n);
  const Vector<float> b = w * a.sum();
  REQUIRE_NOTHROW(sinkhorn(C, a, b, options));
}

TEST_CASE("mass mismatch messages print the masses to full precision", "[hostile][sinkhorn]") {
  const Matrix<double> C = uniform_matrix<double>(3, 3, 2);
  const Vector<double> a = Vector<double>::Constant(3, 1.0 / 3);
  const Vector<double> b = Vector<double>::Constant(3, (1.0 + 2e-6) / 3);  // 6 digits print "1"
  SinkhornOptions<double> options;
  options.epsilon = 0.1;
  try {
    sinkhorn(C, a, b, options);
    FAIL("a mass mismatch of 1e-4 was accepted");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("1.000002") != std::string::npos);
  }
}
