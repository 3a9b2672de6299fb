#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "protoot/kmeans.hpp"
#include "support/reference.hpp"

using namespace protoot;
using test::read_raw;
using test::run_reference;
using test::write_raw;

namespace {

/// Overlapping Gaussian blobs (so Lloyd has work to do), drawn in double then cast to S.
template <class S>
Matrix<S> blobs(Index n, Index d, Index centres, double spread, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd mean(centres, d);
  for (Index i = 0; i < mean.size(); ++i) mean.data()[i] = 3.0 * normal(rng);
  Matrix<S> X(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) X(i, j) = S(mean(i % centres, j) + spread * normal(rng));
  return X;
}

template <class S>
S precision() {
  return std::is_same<S, float>::value ? S(2e-4) : S(1e-9);
}

/// Runs protoot and the NumPy Lloyd from the same centroids and weights; labels must agree.
template <class S>
void expect_numpy_lloyd(const Matrix<S>& X, const Matrix<S>& C0, const Vector<S>& w, bool spherical,
                        const std::string& name) {
  const std::string dir = test::scratch_dir<S>(name);
  write_raw(dir + "/X.bin", X);
  write_raw(dir + "/C0.bin", C0);
  write_raw(dir + "/w.bin", w);
  const int iterations = 60;
  run_reference("kmeans_reference.py", "lloyd " + dir + " " + std::to_string(X.rows()) + " " +
                                           std::to_string(X.cols()) + " " + std::to_string(C0.rows()) + " " +
                                           std::to_string(iterations) + " " + std::to_string(int(spherical)));
  KMeansOptions<S> options;
  options.initial_centroids = C0;
  options.weights = w;
  options.max_iterations = iterations;
  options.tolerance = 0;
  options.spherical = spherical;
  const auto result = kmeans(X, C0.rows(), options);
  const auto labels = read_raw(dir + "/labels.bin", X.rows(), 1);
  const auto centroids = read_raw(dir + "/centroids.bin", C0.rows(), X.cols());
  Index mismatches = 0;
  for (Index i = 0; i < X.rows(); ++i) mismatches += result.labels(i) != Index(labels(i, 0));
  CHECK(mismatches == 0);
  CHECK((result.centroids.template cast<double>() - centroids).cwiseAbs().maxCoeff() <=
        double(precision<S>()) * (1 + centroids.cwiseAbs().maxCoeff()));
  CHECK(result.centroids.allFinite());
  CHECK((result.sizes.array() > 0).all());
}

}  // namespace

TEMPLATE_TEST_CASE("kmeans: labels identical to a NumPy Lloyd from the same centroids", "[peers][kmeans]", float, double) {
  using S = TestType;
  const Matrix<S> X = blobs<S>(1500, 6, 8, 2.0, 7);
  const Matrix<S> C0 = X.topRows(7);  // 7 clusters on 8 overlapping blobs: many boundary points
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(0.5, 2.0);
  Vector<S> w(X.rows());
  for (Index i = 0; i < w.size(); ++i) w(i) = S(uniform(rng));
  SECTION("euclidean, weighted") { expect_numpy_lloyd<S>(X, C0, w, false, "kmeans_lloyd"); }
  SECTION("spherical, weighted") { expect_numpy_lloyd<S>(X, C0, w, true, "kmeans_spherical"); }
  SECTION("an empty cluster takes the farthest point") {
    Matrix<S> far = C0;
    far.row(6).setConstant(S(1000));  // nobody is nearest to it at the first assignment
    expect_numpy_lloyd<S>(X, far, Vector<S>::Ones(X.rows()), false, "kmeans_empty");
  }
}

TEMPLATE_TEST_CASE("kmeans: inertia within 1% of scikit-learn and faiss", "[peers][kmeans]", float, double) {
  using S = TestType;
  const Index n = 3000, d = 10, k = 12;
  const Matrix<S> X = blobs<S>(n, d, k, 2.5, 11);
  const std::string dir = test::scratch_dir<S>("kmeans_peers");
  write_raw(dir + "/X.bin", X);
  run_reference("kmeans_reference.py", "peers " + dir + " 3000 10 12 5 100");
  const auto peers = read_raw(dir + "/inertia.bin", 2, 1);
  KMeansOptions<S> options;
  options.n_init = 5;
  options.max_iterations = 100;
  const auto result = kmeans(X, k, options);
  INFO("protoot " << result.inertia << " sklearn " << peers(0, 0) << " faiss " << peers(1, 0));
  CHECK(std::abs(double(result.inertia) / peers(0, 0) - 1) <= 0.01);
  CHECK(std::abs(double(result.inertia) / peers(1, 0) - 1) <= 0.01);
  CHECK(result.status == SolverStatus::converged);
  CHECK(result.proportions.sum() == Approx(1).epsilon(1e-6));
  // Restarts keep the best: never worse than the first restart alone (same seed).
  options.n_init = 1;
  CHECK(result.inertia <= kmeans(X, k, options).inertia);
  // Lloyd never increases the objective.
  for (std::size_t i = 1; i < result.inertia_history.size(); ++i)
    CHECK(result.inertia_history[i] <= result.inertia_history[i - 1] * (1 + precision<S>()));
  // Random seeding reaches a comparable optimum too.
  options.n_init = 5;
  options.init = KMeansInit::random;
  CHECK(std::abs(double(kmeans(X, k, options).inertia) / peers(0, 0) - 1) <= 0.02);
}

TEMPLATE_TEST_CASE("kmeans: integer weights equal repeated points", "[kmeans]", float, double) {
  using S = TestType;
  const Matrix<S> X = blobs<S>(400, 4, 5, 1.5, 5);
  Vector<S> w(X.rows());
  Index total = 0;
  for (Index i = 0; i < w.size(); ++i) total += Index(w(i) = S(1 + i % 3));
  Matrix<S> repeated(total, X.cols());
  for (Index i = 0, r = 0; i < X.rows(); ++i)
    for (int c = 0; c < int(w(i)); ++c) repeated.row(r++) = X.row(i);
  KMeansOptions<S> options;
  options.initial_centroids = X.topRows(5);
  const auto plain = kmeans(repeated, 5, options);
  options.weights = w;
  const auto weighted = kmeans(X, 5, options);
  CHECK((weighted.centroids - plain.centroids).cwiseAbs().maxCoeff() <= 10 * precision<S>());
  CHECK(double(weighted.inertia) == Approx(double(plain.inertia)).epsilon(10 * precision<S>()));
  CHECK((weighted.proportions - plain.proportions).cwiseAbs().maxCoeff() <= 10 * precision<S>());
  CHECK(weighted.sizes.sum() == X.rows());
}

TEMPLATE_TEST_CASE("kmeans: warm start keeps prototype identities", "[kmeans]", float, double) {
  using S = TestType;
  const Matrix<S> X = blobs<S>(600, 5, 4, 1.0, 9);
  KMeansOptions<S> options;
  options.seed = 4;
  const auto fresh = kmeans(X, 4, options);
  REQUIRE(fresh.status == SolverStatus::converged);

  SECTION("0 iterations only assigns: labels and proportions of the given prototypes") {
    KMeansOptions<S> assign_only;
    assign_only.initial_centroids = fresh.centroids.colwise().reverse();
    assign_only.max_iterations = 0;
    const auto result = kmeans(X, 4, assign_only);
    CHECK(result.centroids == assign_only.initial_centroids);
    CHECK(result.iterations == 0);
    for (Index i = 0; i < X.rows(); ++i) {
      Index nearest;
      (assign_only.initial_centroids.rowwise() - X.row(i)).rowwise().squaredNorm().minCoeff(&nearest);
      CHECK(result.labels(i) == nearest);
    }
    CHECK(result.inertia == Approx(fresh.inertia).epsilon(10 * precision<S>()));
  }
  SECTION("a permuted warm start returns the same clusters in the given order") {
    KMeansOptions<S> warm;
    const Eigen::Vector4i order(2, 0, 3, 1);
    warm.initial_centroids = fresh.centroids(order, Eigen::all);
    const auto result = kmeans(X, 4, warm);
    CHECK(result.status == SolverStatus::converged);
    CHECK(result.iterations == 1);
    for (Index j = 0; j < 4; ++j) {
      CHECK((result.centroids.row(j) - fresh.centroids.row(order(j))).cwiseAbs().maxCoeff() <= precision<S>());
      CHECK(result.proportions(j) == Approx(fresh.proportions(order(j))));
    }
  }
  SECTION("the callback sees every iteration and can stop") {
    KMeansOptions<S> stop;
    int calls = 0;
    stop.callback = [&](const KMeansProgress<S>& p) {
      CHECK(p.iteration == ++calls);
      return p.iteration < 2;
    };
    const auto result = kmeans(X, 4, stop);
    CHECK(result.iterations == 2);
    CHECK(result.inertia_history.size() == 2);
    CHECK(result.status == SolverStatus::interrupted);  // not mistaken for a spent budget
  }
  SECTION("a spent iteration budget is reported as such") {
    KMeansOptions<S> short_run;
    short_run.max_iterations = 1;
    short_run.tolerance = S(0);  // only stable labels stop it, which one iteration cannot show
    const auto result = kmeans(X, 4, short_run);
    CHECK(result.iterations == 1);
    CHECK(result.status == SolverStatus::max_iterations);
  }
}

TEMPLATE_TEST_CASE("kmeans: spherical centroids are unit and duplicates never give NaN", "[kmeans]", float, double) {
  using S = TestType;
  KMeansOptions<S> options;
  options.spherical = true;
  options.n_init = 3;
  const Matrix<S> X = blobs<S>(500, 8, 6, 0.5, 2);
  const auto result = kmeans(X, 6, options);
  CHECK((result.centroids.rowwise().norm().array() - 1).abs().maxCoeff() <= precision<S>() * 10);
  CHECK(result.inertia >= 0);
  // Any storage order or expression gives the same clustering.
  const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic> column_major = X;
  CHECK(kmeans(column_major, 6, options).labels == result.labels);
  CHECK(kmeans(S(2) * X, 6, options).labels == result.labels);
  // Only 3 distinct points for k = 5: clusters stay finite, proportions still sum to 1.
  Matrix<S> few(9, 2);
  few << 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, -1, 0, -1, 0, -1, 0;
  for (bool spherical : {false, true}) {
    options.spherical = spherical;
    const auto r = kmeans(few, 5, options);
    CHECK(r.centroids.allFinite());
    CHECK(r.proportions.sum() == Approx(1));
    CHECK(r.inertia == Approx(0).margin(1e-6));
  }
}

TEMPLATE_TEST_CASE("kmeans: max_points_per_centroid trains on a sample and labels every point", "[kmeans]", float,
                   double) {
  using S = TestType;
  const Matrix<S> X = blobs<S>(4000, 6, 5, 1.0, 12);
  KMeansOptions<S> options;
  options.seed = 3;
  const auto full = kmeans(X, 5, options);
  options.max_points_per_centroid = 40;  // 200 of the 4000 points
  const auto sampled = kmeans(X, 5, options);
  REQUIRE(sampled.labels.size() == X.rows());
  CHECK(sampled.sizes.sum() == X.rows());
  CHECK(sampled.proportions.sum() == Approx(1));
  // every label is the nearest trained centroid, and the inertia is over all points
  double inertia = 0;
  for (Index i = 0; i < X.rows(); ++i) {
    Index nearest;
    inertia += double((sampled.centroids.rowwise() - X.row(i)).rowwise().squaredNorm().minCoeff(&nearest));
    CHECK(sampled.labels(i) == nearest);
  }
  CHECK(double(sampled.inertia) == Approx(inertia).epsilon(1e-3));
  // 40 points per centroid find nearly the clusters of all 4000 (measured: +2.4 %)
  CHECK(double(sampled.inertia) <= 1.05 * double(full.inertia));
  // a budget of at least n / k points per centroid is no subsampling at all
  options.max_points_per_centroid = 800;
  CHECK(kmeans(X, 5, options).labels == full.labels);
  options.max_points_per_centroid = -1;
  CHECK_THROWS_WITH(kmeans(X, 5, options), Catch::Contains("max_points_per_centroid"));
}

TEMPLATE_TEST_CASE("kmeans: bad input is rejected with a message", "[kmeans]", float, double) {
  using S = TestType;
  const Matrix<S> X = blobs<S>(10, 3, 2, 1.0, 1);
  KMeansOptions<S> options;
  CHECK_THROWS_WITH(kmeans(X, 11, options), Catch::Contains("exceeds the number of points"));
  CHECK_THROWS_WITH(kmeans(X, 0, options), Catch::Contains("k must be > 0"));
  CHECK_THROWS_AS(kmeans(Matrix<S>(0, 3), 1, options), std::invalid_argument);
  Matrix<S> bad = X;
  bad(3, 1) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH(kmeans(bad, 2, options), Catch::Contains("NaN or Inf"));
  // Finite data whose squared norms overflow: every distance would be NaN, every label 0.
  const Matrix<S> huge = X * std::sqrt(std::numeric_limits<S>::max());
  REQUIRE(huge.allFinite());
  CHECK_THROWS_WITH(kmeans(huge, 2, options), Catch::Contains("overflow"));
  options.weights = Vector<S>::Ones(9);
  CHECK_THROWS_WITH(kmeans(X, 2, options), Catch::Contains("weights"));
  options.weights = -Vector<S>::Ones(10);
  CHECK_THROWS_WITH(kmeans(X, 2, options), Catch::Contains("negative"));
  options.weights.resize(0);
  options.initial_centroids = Matrix<S>::Zero(3, 3);
  CHECK_THROWS_WITH(kmeans(X, 2, options), Catch::Contains("initial_centroids"));
  options.initial_centroids.resize(0, 0);
  options.spherical = true;
  bad = X;
  bad.row(2).setZero();
  CHECK_THROWS_WITH(kmeans(bad, 2, options), Catch::Contains("zero row"));
  options.n_init = 0;
  CHECK_THROWS_AS(kmeans(X, 2, options), std::invalid_argument);
}
