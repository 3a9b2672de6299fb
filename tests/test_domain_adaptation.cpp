#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "protoot/domain_adaptation.hpp"
#include "support/reference.hpp"

using namespace protoot;
using test::read_raw;
using test::run_reference;
using test::write_raw;

namespace {

/// Correlated Gaussian rows with a shifted mean (so CORAL has a real covariance to transfer),
/// drawn in double then cast to S.
template <class S>
Matrix<S> correlated(Index n, Index d, double shift, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd mix(d, d);
  for (Index i = 0; i < mix.size(); ++i) mix.data()[i] = normal(rng);
  Eigen::MatrixXd Z(n, d);
  for (Index i = 0; i < Z.size(); ++i) Z.data()[i] = normal(rng);
  return ((Z * mix).array() + shift).matrix().cast<S>();
}

template <class S>
double max_relative_error(const Matrix<S>& actual, const Eigen::MatrixXd& expected) {
  return (actual.template cast<double>() - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff();
}

template <class S>
bool is_double() {
  return std::is_same<S, double>::value;
}

/// Writes Xs and Xt to a fresh scratch folder and runs domain_adaptation_reference.py `mode` on
/// them with one numeric parameter; returns the folder holding its outputs.
template <class S>
std::string run_domain_adaptation_reference(const std::string& mode, const Matrix<S>& Xs, const Matrix<S>& Xt,
                                            double parameter) {
  const std::string dir = test::scratch_dir<S>(mode);
  write_raw(dir + "/Xs.bin", Xs);
  write_raw(dir + "/Xt.bin", Xt);
  run_reference("domain_adaptation_reference.py", mode + " " + dir + " " + std::to_string(Xs.rows()) + " " +
                                                      std::to_string(Xt.rows()) + " " + std::to_string(Xs.cols()) +
                                                      " " + std::to_string(parameter));
  return dir;
}

}  // namespace

TEMPLATE_TEST_CASE("coral: transform of Xs equals the NumPy/SciPy CORAL reference", "[peers][domain_adaptation]", float,
                   double) {
  using S = TestType;
  const Index ns = 60, nt = 45, d = 5;
  const Matrix<S> Xs = correlated<S>(ns, d, 0.0, 1);
  const Matrix<S> Xt = correlated<S>(nt, d, 2.0, 2);
  for (const double reg : {1.0, 0.01}) {
    const std::string dir = run_domain_adaptation_reference("coral", Xs, Xt, reg);
    const Eigen::MatrixXd expected = read_raw(dir + "/coral.bin", ns, d);
    const Matrix<S> mapped = apply_affine(coral(Xs, Xt, S(reg)), Xs);
    CAPTURE(reg);
    CHECK(max_relative_error(mapped, expected) <= (is_double<S>() ? 1e-10 : 1e-4));
  }
}

TEMPLATE_TEST_CASE("coral: without regularisation the source gets the target's mean and covariance",
                   "[domain_adaptation]", float, double) {
  using S = TestType;
  const Matrix<S> Xs = correlated<S>(80, 4, -1.0, 3);
  const Matrix<S> Xt = correlated<S>(50, 4, 3.0, 4);
  const Matrix<S> mapped = apply_affine(coral(Xs, Xt, S(0)), Xs);
  const auto covariance = [](const Matrix<S>& X) {
    const Eigen::MatrixXd x = X.template cast<double>();
    const Eigen::MatrixXd centred = x.rowwise() - x.colwise().mean();
    return Eigen::MatrixXd(centred.transpose() * centred / double(X.rows() - 1));
  };
  const double tolerance = is_double<S>() ? 1e-10 : 2e-4;
  const Eigen::MatrixXd target_cov = covariance(Xt);
  CHECK((covariance(mapped) - target_cov).cwiseAbs().maxCoeff() <= tolerance * target_cov.cwiseAbs().maxCoeff());
  CHECK((mapped.template cast<double>().colwise().mean() - Xt.template cast<double>().colwise().mean())
            .cwiseAbs()
            .maxCoeff() <= tolerance * 10);
}

TEMPLATE_TEST_CASE("sinkhorn_transport: plan and barycentric maps equal POT SinkhornTransport(norm='max')",
                   "[peers][domain_adaptation]", float, double) {
  using S = TestType;
  const Index ns = 40, nt = 30, d = 4;
  const double eps = 0.05;
  const Matrix<S> Xs = correlated<S>(ns, d, 0.0, 5);
  const Matrix<S> Xt = correlated<S>(nt, d, 1.5, 6);
  const std::string dir = run_domain_adaptation_reference("sinkhorn", Xs, Xt, eps);
  SinkhornTransportOptions<S> options;
  options.sinkhorn.epsilon = S(eps);
  options.sinkhorn.tolerance = is_double<S>() ? S(1e-13) : S(1e-5);
  options.sinkhorn.max_iterations = 100000;
  const auto result = sinkhorn_transport(Xs, Xt, options);
  CHECK(result.status == SolverStatus::converged);
  const double tolerance = is_double<S>() ? 1e-8 : 1e-3;
  CHECK(max_relative_error(result.plan, read_raw(dir + "/plan.bin", ns, nt)) <= tolerance);
  CHECK(max_relative_error(result.source_mapped, read_raw(dir + "/source_mapped.bin", ns, d)) <= tolerance);
  CHECK(max_relative_error(result.target_mapped, read_raw(dir + "/target_mapped.bin", nt, d)) <= tolerance);
}

TEMPLATE_TEST_CASE("sinkhorn_transport: normalise_cost_by_max equals the raw cost at epsilon times max",
                   "[domain_adaptation]", float, double) {
  using S = TestType;
  const Matrix<S> Xs = correlated<S>(20, 3, 0.0, 7);
  const Matrix<S> Xt = correlated<S>(25, 3, 1.0, 8);
  SinkhornTransportOptions<S> normalised;
  normalised.sinkhorn.epsilon = S(0.1);
  normalised.sinkhorn.tolerance = is_double<S>() ? S(1e-12) : S(1e-5);
  SinkhornTransportOptions<S> raw = normalised;
  raw.normalise_cost_by_max = false;
  double max_cost = 0;
  for (Index i = 0; i < Xs.rows(); ++i)
    for (Index j = 0; j < Xt.rows(); ++j)
      max_cost = std::max(max_cost, (Xs.row(i) - Xt.row(j)).template cast<double>().squaredNorm());
  raw.sinkhorn.epsilon = S(0.1 * max_cost);
  const auto a = sinkhorn_transport(Xs, Xt, normalised);
  const auto b = sinkhorn_transport(Xs, Xt, raw);
  CHECK(a.status == SolverStatus::converged);
  CHECK(b.status == SolverStatus::converged);
  CHECK(max_relative_error(b.plan, a.plan.template cast<double>()) <= (is_double<S>() ? 1e-9 : 1e-3));
}

TEMPLATE_TEST_CASE("assign_to_nearest_prototype: equals brute-force cosine argmax", "[domain_adaptation]", float,
                   double) {
  using S = TestType;
  const Index n = 2600, K = 9, d = 6;  // more rows than one 1024-row search tile
  Matrix<S> X = correlated<S>(n, d, 0.3, 9);
  const Matrix<S> prototypes = correlated<S>(K, d, 0.0, 10);
  for (Index i = 0; i < n; ++i) X.row(i) *= S(0.01 + double(i % 17));  // norms must not matter
  const IndexVector labels = assign_to_nearest_prototype(X, prototypes);
  REQUIRE(labels.size() == n);
  Index mismatches = 0;
  for (Index i = 0; i < n; ++i) {
    Index best = 0;
    double best_cos = -2;
    for (Index k = 0; k < K; ++k) {
      const Eigen::VectorXd x = X.row(i).template cast<double>(), p = prototypes.row(k).template cast<double>();
      const double cos = x.dot(p) / (x.norm() * p.norm());
      if (cos > best_cos) best_cos = cos, best = k;
    }
    mismatches += labels(i) != best;
  }
  CHECK(mismatches == 0);
}

TEMPLATE_TEST_CASE("match_prototypes: a permuted, rescaled copy is matched back with marginals pa, pb",
                   "[domain_adaptation]", float, double) {
  using S = TestType;
  const Index K = 7, d = 10;
  const Matrix<S> Ca = correlated<S>(K, d, 0.0, 11);
  const std::vector<Index> perm = {3, 0, 6, 1, 5, 2, 4};  // Cb row j is Ca row perm[j]
  Matrix<S> Cb(K, d);
  Vector<S> pa(K), pb(K);
  for (Index i = 0; i < K; ++i) pa(i) = S(i + 1) / S(K * (K + 1) / 2);
  for (Index j = 0; j < K; ++j) {
    Cb.row(j) = S(0.5 + j) * Ca.row(perm[j]);
    pb(j) = pa(perm[j]);
  }
  const auto matching = match_prototypes(Ca, pa, Cb, pb);
  CHECK(matching.status == SolverStatus::converged);
  for (Index j = 0; j < K; ++j) {
    CHECK(matching.b_to_a(j) == perm[j]);
    CHECK(matching.a_to_b(perm[j]) == j);
  }
  const double tolerance = is_double<S>() ? 1e-8 : 2e-3;
  CHECK((matching.plan.rowwise().sum() - pa).cwiseAbs().sum() <= tolerance);
  CHECK((matching.plan.colwise().sum().transpose() - pb).cwiseAbs().sum() <= tolerance);
  CHECK(matching.cost >= S(0));
  CHECK(matching.cost <= S(1e-2));  // the identity matching costs 0; entropy leaves only a little mass off it
}

TEMPLATE_TEST_CASE("domain adaptation: bad input throws std::invalid_argument", "[domain_adaptation]", float,
                   double) {
  using S = TestType;
  const Matrix<S> X = correlated<S>(10, 3, 0.0, 12);
  const Matrix<S> narrow = correlated<S>(10, 2, 0.0, 13);
  Matrix<S> with_nan = X;
  with_nan(4, 1) = std::numeric_limits<S>::quiet_NaN();
  Matrix<S> with_zero_row = X;
  with_zero_row.row(2).setZero();
  SinkhornTransportOptions<S> options;
  options.sinkhorn.epsilon = S(0.1);
  const Vector<S> uniform = Vector<S>::Constant(10, S(0.1));

  CHECK_THROWS_AS(coral(X, narrow), std::invalid_argument);
  CHECK_THROWS_AS(coral(X, with_nan), std::invalid_argument);
  CHECK_THROWS_WITH(coral(Matrix<S>(X.topRows(1)), X), Catch::Contains("at least 2 rows"));
  CHECK_THROWS_AS(coral(X, X, S(-1)), std::invalid_argument);
  CHECK_THROWS_AS(apply_affine(coral(X, X), narrow), std::invalid_argument);
  // Magnitudes whose float covariance overflows (1e25^2 > 3.4e38): accumulated in double, the map
  // is finite and still matches the target's mean; past double's range a clear error, never NaN.
  {
    const S big = std::is_same_v<S, float> ? S(1e25) : S(1e160);
    const Matrix<S> huge = X * big;
    for (const bool huge_target : {true, false}) {
      INFO("huge " << (huge_target ? "target" : "source") << ", scale " << big);
      if (std::is_same_v<S, float>) {
        const Matrix<S> mapped = huge_target ? apply_affine(coral(X, huge), X) : apply_affine(coral(huge, X), huge);
        REQUIRE(mapped.allFinite());
        const Matrix<S>& target = huge_target ? huge : X;
        CHECK(((mapped.colwise().mean() - target.colwise().mean()).array().abs() <=
               S(1e-3) * target.cwiseAbs().maxCoeff()).all());
      } else {
        CHECK_THROWS_WITH(huge_target ? coral(X, huge) : coral(huge, X), Catch::Contains("overflows double"));
      }
    }
    AffineMap<S> overflowing = coral(X, X);
    overflowing.linear = Matrix<S>::Identity(3, 3) * std::numeric_limits<S>::max();
    Matrix<S> four = X;
    four(0, 0) = S(4);
    CHECK_THROWS_WITH(apply_affine(overflowing, four), Catch::Contains("overflow"));
  }
  CHECK_THROWS_AS(sinkhorn_transport(X, narrow, options), std::invalid_argument);
  CHECK_THROWS_AS(sinkhorn_transport(with_nan, X, options), std::invalid_argument);
  CHECK_THROWS_AS(sinkhorn_transport(X, X, SinkhornTransportOptions<S>{}), std::invalid_argument);  // epsilon 0
  CHECK_THROWS_AS(assign_to_nearest_prototype(X, narrow), std::invalid_argument);
  CHECK_THROWS_AS(assign_to_nearest_prototype(with_nan, X), std::invalid_argument);
  CHECK_THROWS_AS(assign_to_nearest_prototype(with_zero_row, X), std::invalid_argument);
  CHECK_THROWS_AS(assign_to_nearest_prototype(X, with_zero_row), std::invalid_argument);
  CHECK_THROWS_AS(match_prototypes(X, uniform, narrow, uniform), std::invalid_argument);
  CHECK_THROWS_AS(match_prototypes(with_nan, uniform, X, uniform), std::invalid_argument);
  CHECK_THROWS_AS(match_prototypes(X, Vector<S>(uniform.head(9)), X, uniform), std::invalid_argument);
  CHECK_THROWS_WITH(match_prototypes(X, Vector<S>(2 * uniform), X, uniform), Catch::Contains("must sum to 1"));
  CHECK_THROWS_WITH(match_prototypes(X, uniform, X, Vector<S>(uniform / 2)), Catch::Contains("must sum to 1"));
  CHECK_THROWS_AS(match_prototypes(X, uniform, X, uniform, S(0)), std::invalid_argument);
}
