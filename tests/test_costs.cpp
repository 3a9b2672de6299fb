// Ground costs against POT 0.8.2's ot.dist, and sinkhorn_cost (the loss without the plan)
// against sinkhorn() and ot.sinkhorn2.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "protoot/costs.hpp"
#include "protoot/sinkhorn.hpp"
#include "support/gradient_check.hpp"
#include "support/reference.hpp"

using namespace protoot;
using test::MatrixD;

TEST_CASE("sqeuclidean_cost, cosine_cost and sinkhorn_cost equal POT's ot.dist and ot.sinkhorn2", "[costs][pot]") {
  const Index n = 40, m = 30, d = 5;
  const double epsilon = 0.5;
  std::mt19937 rng(1);
  const MatrixD X = test::random_normal(n, d, rng), Y = test::random_normal(m, d, rng) + MatrixD::Constant(m, d, 0.3);
  const std::string dir = test::scratch_dir<double>("costs");
  test::write_raw(dir + "/X.bin", X);
  test::write_raw(dir + "/Y.bin", Y);
  test::run_reference("pot_dist.py", dir + " " + std::to_string(n) + " " + std::to_string(m) + " " +
                                         std::to_string(d) + " " + std::to_string(epsilon));
  const MatrixD squared = sqeuclidean_cost(X, Y), cosine = cosine_cost(X, Y);
  CHECK((squared - test::read_raw(dir + "/sqeuclidean.bin", n, m)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((cosine - test::read_raw(dir + "/cosine.bin", n, m)).cwiseAbs().maxCoeff() <= 1e-12);

  SinkhornOptions<double> options;
  options.epsilon = epsilon;
  options.tolerance = 1e-12;
  const Vector<double> a = Vector<double>::Constant(n, 1.0 / n), b = Vector<double>::Constant(m, 1.0 / m);
  const auto loss = sinkhorn_cost(squared, a, b, options);
  const auto full = sinkhorn(squared, a, b, options);
  REQUIRE(loss.status == SolverStatus::converged);
  CHECK(loss.plan.size() == 0);  // never built
  CHECK(loss.transport_cost == full.transport_cost);
  CHECK(loss.marginal_error == full.marginal_error);
  CHECK(loss.transport_cost == Approx(test::read_raw(dir + "/sinkhorn2.bin", 1, 1)(0)).epsilon(1e-9));
}

TEMPLATE_TEST_CASE("costs: closed forms, float, and bad input", "[costs]", float, double) {
  using S = TestType;
  Matrix<S> X(2, 2), Y(3, 2);
  X << 1, 0, 0, 2;
  Y << 1, 0, 0, 1, -3, 0;
  Matrix<S> expected_squared(2, 3), expected_cosine(2, 3);
  expected_squared << 0, 2, 16, 5, 1, 13;
  expected_cosine << 0, 1, 2, 1, 0, 1;
  CHECK((sqeuclidean_cost(X, Y) - expected_squared).cwiseAbs().maxCoeff() <= 10 * std::numeric_limits<S>::epsilon());
  CHECK((cosine_cost(X, Y) - expected_cosine).cwiseAbs().maxCoeff() <= 10 * std::numeric_limits<S>::epsilon());
  // Rows near the overflow threshold keep their direction; cos(x, x) never goes below cost 0.
  const Matrix<S> huge = X * (std::numeric_limits<S>::max() / S(4));
  CHECK(cosine_cost(huge, huge).minCoeff() >= S(0));
  CHECK(cosine_cost(huge, huge).diagonal().maxCoeff() <= 10 * std::numeric_limits<S>::epsilon());

  CHECK_THROWS_WITH(sqeuclidean_cost(huge, Y), Catch::Contains("sqeuclidean_cost") && Catch::Contains("overflow"));
  CHECK_THROWS_WITH(sqeuclidean_cost(X, Matrix<S>::Zero(3, 3)), Catch::Contains("feature dimension"));
  CHECK_THROWS_WITH(cosine_cost(X, Matrix<S>::Zero(1, 2)), Catch::Contains("Y have a zero row"));
  Matrix<S> with_nan = X;
  with_nan(1, 1) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH(cosine_cost(with_nan, Y), Catch::Contains("NaN or Inf"));
  CHECK_THROWS_WITH(sqeuclidean_cost(Matrix<S>(0, 2), Y), Catch::Contains("X is empty"));
}
