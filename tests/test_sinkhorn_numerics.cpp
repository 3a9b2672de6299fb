// Sinkhorn numerics: the vectorised exp, small-epsilon stability, under/overflow handling in the
// scaling form, epsilon scaling, warm starts, callbacks, fixed (SwAV-style) iteration counts and
// the batched API.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "protoot/detail/fast_exp.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_batch.hpp"
#include "support/sinkhorn_problems.hpp"

using namespace protoot;
using test::max_relative_error;
using test::random_ot_problem;

namespace {

/// Cost in [0, 1] whose columns are mostly >= 0.8: 3 in 4 columns are >= 0.8 everywhere, so at
/// epsilon = 1e-3 all of exp(-C / eps) <= exp(-800) in them underflows to 0, even in double.
Matrix<double> hard_small_epsilon_cost(Index n) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Vector<double> x(n), y(n);
  for (Index i = 0; i < n; ++i) x[i] = uniform(rng), y[i] = uniform(rng);
  Matrix<double> C(n, n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j)
      C(i, j) = j % 4 == 0 ? 0.3 + 0.6 * std::abs(x[i] - y[j]) : 0.8 + 0.2 * std::abs(x[i] - y[j]);
  return C;
}

template <class S>
bool all_finite(const SinkhornResult<S>& r) {
  return r.plan.allFinite() && r.f.allFinite() && r.g.allFinite() && std::isfinite(r.marginal_error) &&
         std::isfinite(r.transport_cost);
}

}  // namespace

TEMPLATE_TEST_CASE("fast_exp matches std::exp to about 1 ulp", "[sinkhorn][exp]", float, double) {
  using S = TestType;
  using K = detail::ExpConstants<S>;
  double worst = 0;
  const int steps = 200000;
  for (int k = 0; k <= steps; ++k) {
    const S x = K::lowest + (K::highest - K::lowest) * S(k) / S(steps);
    const double exact = std::exp(double(x)), approx = double(detail::fast_exp(x));
    worst = std::max(worst, std::abs(approx - exact) / exact);
  }
  CHECK(worst <= 2 * double(std::numeric_limits<S>::epsilon()));
  CHECK(detail::fast_exp(S(0)) == S(1));
  CHECK(detail::fast_exp(K::lowest - S(1)) == S(0));  // flushes instead of returning denormals
  CHECK(detail::fast_exp(-std::numeric_limits<S>::infinity()) == S(0));
  CHECK(std::isinf(detail::fast_exp(K::highest + S(1))));
}

TEMPLATE_TEST_CASE("log-domain Sinkhorn converges at epsilon = 1e-3 where exp(-C/eps) underflows",
                   "[sinkhorn][stability]", float, double) {
  using S = TestType;
  const Index n = 80;
  const Matrix<S> C = hard_small_epsilon_cost(n).cast<S>();
  REQUIRE((C.col(1).array() >= S(0.8)).all());
  REQUIRE(std::exp(-S(0.8) / S(1e-3)) == S(0));
  const Vector<S> uniform = Vector<S>::Constant(n, S(1) / S(n));
  SinkhornOptions<S> options;
  options.epsilon = S(1e-3);
  options.max_iterations = 50000;
  // float potentials carry ~2^-24 max|C| absolute error, i.e. 6e-5 relative plan error at this eps
  options.tolerance = std::is_same_v<S, float> ? S(2e-4) : S(1e-9);
  const auto r = sinkhorn(C, uniform, uniform, options);
  CHECK(r.status == SolverStatus::converged);
  CHECK(r.marginal_error <= 2 * options.tolerance);
  CHECK(all_finite(r));
  CHECK((r.plan.array() >= S(0)).all());

  SECTION("the scaling form reports the underflow instead of returning NaN") {
    options.log_domain = false;
    const auto scaling = sinkhorn(C, uniform, uniform, options);
    CHECK(scaling.status == SolverStatus::numerical_error);
    CHECK(scaling.status != SolverStatus::converged);
    CHECK(all_finite(scaling));
  }
  SECTION("or falls back to the log domain when asked") {
    options.log_domain = false;
    options.log_domain_fallback = true;
    const auto fallback = sinkhorn(C, uniform, uniform, options);
    CHECK(fallback.status == SolverStatus::converged);
    CHECK(all_finite(fallback));
    CHECK((fallback.plan - r.plan).cwiseAbs().maxCoeff() <= 10 * options.tolerance);
  }
}

TEST_CASE("scaling form stops at the last finite iterate when the scalings overflow mid-way",
          "[sinkhorn][stability]") {
  // Two clusters; 0.8 of the mass must cross between them at cost >= 0.8, whose kernel entries
  // exp(-800) are 0: the scalings grow without bound until they overflow.
  const Index n = 20, half = n / 2;
  Matrix<double> C(n, n);
  Vector<double> a(n), b(n);
  for (Index i = 0; i < n; ++i) {
    a[i] = i < half ? 0.09 : 0.01;
    b[i] = i < half ? 0.01 : 0.09;
    for (Index j = 0; j < n; ++j)
      C(i, j) = (i < half) == (j < half) ? 0.01 * double((i * 7 + j * 3) % 10) : 0.8 + 0.01 * double((i + j) % 5);
  }
  SinkhornOptions<double> options;
  options.epsilon = 1e-3;
  options.max_iterations = 5000;
  options.log_domain = false;
  const auto r = sinkhorn(C, a, b, options);
  CHECK(r.status == SolverStatus::numerical_error);
  CHECK(r.iterations > 10);
  CHECK(all_finite(r));
  CHECK(r.error_history.size() == std::size_t(r.iterations));
  options.log_domain = true;
  const auto log_form = sinkhorn(C, a, b, options);
  CHECK(log_form.status == SolverStatus::converged);
  CHECK(std::abs(log_form.plan.topRightCorner(half, half).sum() - 0.8) <= 1e-8);
}

TEST_CASE("epsilon scaling and warm starts save iterations", "[sinkhorn]") {
  const auto p = random_ot_problem(100, 100, 11);
  SinkhornOptions<double> options;
  options.epsilon = 3e-3;
  options.max_iterations = 100000;
  options.tolerance = 1e-6;
  const auto cold = sinkhorn(p.C, p.a, p.b, options);
  REQUIRE(cold.status == SolverStatus::converged);

  auto scaled_options = options;
  scaled_options.epsilon_start = 1.0;
  scaled_options.epsilon_decay = 0.9;
  const auto scaled = sinkhorn(p.C, p.a, p.b, scaled_options);
  REQUIRE(scaled.status == SolverStatus::converged);
  CHECK(scaled.iterations < cold.iterations * 9 / 10);
  CHECK(max_relative_error(scaled.plan, cold.plan) <= 1e-3);

  // A slightly different problem, warm-started from the first one's potentials.
  Vector<double> b = p.b.array() * (1 + 1e-3 * Eigen::ArrayXd::LinSpaced(100, -1, 1));
  b /= b.sum();
  const auto fresh = sinkhorn(p.C, p.a, b, options);
  auto warm_options = options;
  warm_options.f_init = cold.f;
  warm_options.g_init = cold.g;
  const auto warm = sinkhorn(p.C, p.a, b, warm_options);
  REQUIRE(warm.status == SolverStatus::converged);
  CHECK(warm.iterations < fresh.iterations / 2);
  CHECK(max_relative_error(warm.plan, fresh.plan) <= 1e-3);

  for (const bool log_domain : {true, false}) {  // restarting at the solution: done at once
    warm_options.log_domain = log_domain;
    const auto same = sinkhorn(p.C, p.a, p.b, warm_options);
    CHECK(same.status == SolverStatus::converged);
    CHECK(same.iterations <= 2);
  }
}

TEMPLATE_TEST_CASE("a result's potentials warm-start it again when a marginal has zero entries", "[sinkhorn]", float,
                   double) {
  // A point without mass has potential -inf (an empty K-means cluster gives such a prototype
  // marginal); passing the result back as a warm start, as ProtoOT does epoch to epoch, must work.
  using S = TestType;
  const auto p = random_ot_problem(20, 12, 4);
  const Matrix<S> C = p.C.cast<S>();
  Vector<S> a = p.a.cast<S>(), b = p.b.cast<S>();
  a(3) = 0;
  b(5) = 0;
  a /= a.sum();
  b /= b.sum();
  const S inf = std::numeric_limits<S>::infinity();
  for (const bool log_domain : {true, false})
    for (const S rho : {inf, S(1)}) {
      SinkhornOptions<S> options;
      options.epsilon = S(0.05);
      options.tolerance = std::is_same<S, float>::value ? S(1e-5) : S(1e-10);
      options.log_domain = log_domain;
      const auto cold = sinkhorn_unbalanced(C, a, b, rho, rho, options);
      REQUIRE(cold.status == SolverStatus::converged);
      REQUIRE(cold.f(3) == -inf);
      REQUIRE(cold.g(5) == -inf);
      auto warm_options = options;
      warm_options.f_init = cold.f;
      warm_options.g_init = cold.g;
      const auto warm = sinkhorn_unbalanced(C, a, b, rho, rho, warm_options);
      CHECK(warm.status == SolverStatus::converged);
      CHECK(warm.iterations <= 2);
      CHECK(warm.plan.allFinite());
      CHECK((warm.plan - cold.plan).cwiseAbs().maxCoeff() <= 10 * options.tolerance);
      CHECK(warm.plan.row(3).sum() == 0);
      CHECK(warm.plan.col(5).sum() == 0);
    }

  // -inf is the potential of a massless point only; NaN and +inf are never potentials.
  SinkhornOptions<S> options;
  options.epsilon = S(0.05);
  using Catch::Contains;
  options.g_init = Vector<S>::Zero(12);
  options.g_init(4) = -inf;  // b(4) > 0
  CHECK_THROWS_WITH(sinkhorn(C, a, b, options), Contains("g_init contains NaN or Inf") && Contains("where b is zero"));
  options.g_init(4) = 0;
  options.g_init(5) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH(sinkhorn(C, a, b, options), Contains("g_init contains NaN or Inf"));
  options.g_init.resize(0);
  options.f_init = Vector<S>::Zero(20);
  options.f_init(3) = inf;
  CHECK_THROWS_WITH(sinkhorn(C, a, b, options), Contains("f_init contains NaN or Inf"));
  options.f_init(3) = -inf;  // a(3) = 0
  CHECK_NOTHROW(sinkhorn(C, a, b, options));
}

TEST_CASE("callback sees every checked iteration and can stop the solve", "[sinkhorn]") {
  const auto p = random_ot_problem(20, 20, 2);
  SinkhornOptions<double> options;
  options.epsilon = 0.01;
  options.check_every = 3;
  std::vector<int> seen;
  options.callback = [&](const SinkhornProgress<double>& progress) {
    seen.push_back(progress.iteration);
    CHECK(progress.epsilon == 0.01);
    CHECK(progress.marginal_error >= 0);
    return progress.iteration < 9;
  };
  const auto r = sinkhorn(p.C, p.a, p.b, options);
  CHECK(r.status == SolverStatus::interrupted);
  CHECK(r.iterations == 9);
  CHECK(seen == std::vector<int>{3, 6, 9});
  CHECK(r.error_history.size() == 3);
}

TEMPLATE_TEST_CASE("three fixed iterations equal SwAV's alternating normalisation", "[sinkhorn][swav]", float,
                   double) {
  // The prototype-OT use: samples x prototypes, samples hard (uniform), prototypes uniform here,
  // exactly 3 iterations, prototype side first: Q = exp(-C / eps); Q *= b / colsum; Q *= a / rowsum.
  using S = TestType;
  const Index n = 64, k = 10;
  const Matrix<S> C = random_ot_problem(n, k, 4).C.cast<S>();
  const Vector<S> a = Vector<S>::Constant(n, S(1) / S(n)), b = Vector<S>::Constant(k, S(1) / S(k));
  const S rho = S(0.7), epsilon = S(0.05);
  SinkhornOptions<S> options;
  options.epsilon = epsilon;
  options.max_iterations = 3;
  for (const S rho_b : {std::numeric_limits<S>::infinity(), rho}) {
    // Scalings u, v on K = exp(-C / eps) from u = 1; the column step is damped by
    // lambda = rho / (rho + eps) when the prototype side is relaxed (POT's unbalanced update).
    const Eigen::ArrayXXd K = (-C.template cast<double>() / double(epsilon)).array().exp();
    const double lambda = std::isinf(rho_b) ? 1.0 : double(rho_b) / double(rho_b + epsilon);
    Eigen::ArrayXd u = Eigen::ArrayXd::Ones(n), v;
    for (int it = 0; it < 3; ++it) {
      v = (b.template cast<double>().array() / (K.matrix().transpose() * u.matrix()).array()).pow(lambda);
      u = a.template cast<double>().array() / (K.matrix() * v.matrix()).array();
    }
    const Eigen::ArrayXXd Q = (K.colwise() * u).rowwise() * v.transpose();
    for (const bool log_domain : {true, false}) {
      options.log_domain = log_domain;
      const auto r = sinkhorn_unbalanced(C, a, b, std::numeric_limits<S>::infinity(), rho_b, options);
      CAPTURE(log_domain, rho_b);
      CHECK(r.iterations == 3);
      CHECK(r.status == SolverStatus::max_iterations);
      CHECK(max_relative_error(r.plan, Q.matrix()) <= (std::is_same_v<S, float> ? 1e-4 : 1e-12));
    }
  }
}

TEST_CASE("zero-mass entries get empty rows and columns, never NaN", "[sinkhorn]") {
  auto p = random_ot_problem(6, 5, 8);
  p.a[2] = 0;
  p.b[4] = 0;
  p.a /= p.a.sum();
  p.b /= p.b.sum();
  for (const bool log_domain : {true, false}) {
    SinkhornOptions<double> options;
    options.epsilon = 0.05;
    options.log_domain = log_domain;
    const auto r = sinkhorn(p.C, p.a, p.b, options);
    CHECK(r.status == SolverStatus::converged);
    CHECK(r.plan.allFinite());
    CHECK(r.plan.row(2).cwiseAbs().maxCoeff() == 0);
    CHECK(r.plan.col(4).cwiseAbs().maxCoeff() == 0);
  }
}

TEST_CASE("sinkhorn_batch equals one solve per problem", "[sinkhorn][batch]") {
  std::vector<Matrix<double>> costs;
  std::vector<Vector<double>> as, bs;
  for (Index k = 0; k < 12; ++k) {
    auto p = random_ot_problem(8 + k, 16 - k, std::uint64_t(100 + k));
    costs.push_back(p.C);
    as.push_back(p.a);
    bs.push_back(p.b);
  }
  SinkhornOptions<double> options;
  options.epsilon = 0.05;
  for (const bool log_domain : {true, false}) {
    options.log_domain = log_domain;
    const auto results = sinkhorn_batch(costs, as, bs, options);
    REQUIRE(results.size() == costs.size());
    for (std::size_t k = 0; k < costs.size(); ++k) {
      const auto single = sinkhorn(costs[k], as[k], bs[k], options);
      CHECK(results[k].iterations == single.iterations);
      CHECK(max_relative_error(results[k].plan, single.plan) <= 1e-13);
    }
    const auto relaxed = sinkhorn_unbalanced_batch(costs, as, bs, 1.0, 0.5, options);
    CHECK(max_relative_error(relaxed[3].plan, sinkhorn_unbalanced(costs[3], as[3], bs[3], 1.0, 0.5, options).plan) <=
          1e-13);
  }
  // one shared cost, many histograms
  std::vector<Vector<double>> shared_as(3, as[0]), shared_bs(3, bs[0]);
  const auto shared = sinkhorn_batch(costs[0], shared_as, shared_bs, options);
  CHECK(max_relative_error(shared[2].plan, sinkhorn(costs[0], as[0], bs[0], options).plan) <= 1e-13);

  bs[5][0] = -1;
  CHECK_THROWS_WITH(sinkhorn_batch(costs, as, bs, options),
                    Catch::Contains("sinkhorn_batch (problem 5)") && Catch::Contains("b has negative entries"));
  bs.pop_back();
  CHECK_THROWS_WITH(sinkhorn_batch(costs, as, bs, options), Catch::Contains("need one a and one b per problem"));
}

TEST_CASE("threaded passes (>= 2^20 entries) equal the one-thread solve", "[sinkhorn][threads]") {
  // sinkhorn() splits this problem into row blocks over the OpenMP threads; sinkhorn_batch runs
  // each problem on one thread: same iterates up to the order of the column sums.
  const auto p = random_ot_problem(1100, 1000, 21);
  REQUIRE(p.C.size() >= detail::kSinkhornParallelEntries);
  SinkhornOptions<double> options;
  options.epsilon = 0.05;
  options.max_iterations = 10;
  for (const bool log_domain : {true, false}) {
    options.log_domain = log_domain;
    const auto threaded = sinkhorn(p.C, p.a, p.b, options);
    const auto single = sinkhorn_batch(std::vector<Matrix<double>>{p.C}, {p.a}, {p.b}, options).front();
    CHECK(threaded.iterations == 10);
    CHECK(max_relative_error(threaded.plan, single.plan) <= 1e-12);
    CHECK(threaded.marginal_error == Approx(single.marginal_error).epsilon(1e-9));
  }
}
