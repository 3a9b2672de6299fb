#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "protoot/prototype_targets.hpp"
#include "support/reference.hpp"

using namespace protoot;
using test::read_raw;
using test::run_reference;
using test::write_raw;

namespace {

/// Unit features of 4 classes with the given proportions around fixed random unit directions
/// (shared by every call with the same seed), plus `shift` * a domain-specific direction.
template <class S>
struct Domain {
  Matrix<S> Z;
  IndexVector classes;
};

template <class S>
Domain<S> imbalanced_domain(Index n, const std::array<double, 4>& proportions, double noise, double shift,
                            std::uint64_t seed) {
  const Index d = 16;
  std::mt19937_64 directions_rng(123), rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd mean(5, d);  // 4 class directions + a domain shift direction
  for (Index i = 0; i < mean.size(); ++i) mean.data()[i] = normal(directions_rng);
  mean.rowwise().normalize();
  Domain<S> domain{Matrix<S>(n, d), IndexVector(n)};
  Index i = 0;
  for (Index c = 0; c < 4; ++c) {
    const Index end = c == 3 ? n : i + Index(std::lround(proportions[c] * double(n)));
    for (; i < end; ++i) {
      Eigen::RowVectorXd z = mean.row(c) + shift * mean.row(4);
      for (Index j = 0; j < d; ++j) z(j) += noise * normal(rng);
      domain.Z.row(i) = z.normalized().cast<S>();
      domain.classes(i) = c;
    }
  }
  return domain;
}

/// Accuracy of labels against classes under the best one-to-one prototype -> class map (k = 4).
double matched_accuracy(const IndexVector& labels, const IndexVector& classes) {
  std::array<Index, 4> map{0, 1, 2, 3};
  Index best = 0;
  do {
    Index hits = 0;
    for (Index i = 0; i < labels.size(); ++i) hits += map[labels(i)] == classes(i);
    best = std::max(best, hits);
  } while (std::next_permutation(map.begin(), map.end()));
  return double(best) / double(labels.size());
}

template <class S>
S tight() {
  return std::is_same<S, float>::value ? S(1e-4) : S(1e-10);
}

template <class S>
SinkhornOptions<S> converged_options(S epsilon) {
  SinkhornOptions<S> options;
  options.epsilon = epsilon;
  options.tolerance = std::is_same<S, float>::value ? S(1e-5) : S(1e-10);
  options.max_iterations = 20000;
  return options;
}

const std::array<double, 4> kImbalanced{0.5, 0.3, 0.15, 0.05};

}  // namespace

TEMPLATE_TEST_CASE("prototype_sinkhorn: K-means proportions beat equipartition on imbalanced classes",
                   "[prototype_sinkhorn]", float, double) {
  using S = TestType;
  const Domain<S> data = imbalanced_domain<S>(2000, kImbalanced, 0.3, 0.0, 1);
  KMeansOptions<S> km;
  km.spherical = true;
  km.n_init = 5;
  const auto clusters = kmeans(data.Z, 4, km);
  const auto options = converged_options<S>(S(0.05));
  const auto proto = prototype_sinkhorn(data.Z, clusters.centroids, clusters.proportions, options);
  const Vector<S> uniform = Vector<S>::Constant(4, S(0.25));
  const auto equi = prototype_sinkhorn(data.Z, clusters.centroids, uniform, options);
  REQUIRE(proto.status == SolverStatus::converged);
  REQUIRE(equi.status == SolverStatus::converged);
  const double acc_proto = matched_accuracy(proto.labels, data.classes);
  const double acc_equi = matched_accuracy(equi.labels, data.classes);
  INFO("accuracy with K-means proportions " << acc_proto << ", with equipartition " << acc_equi);
  CHECK(acc_proto >= 0.95);
  CHECK(acc_equi <= acc_proto - 0.15);
  // Both marginals hard: columns sum to w, rows to 1/n; targets are distributions.
  CHECK((proto.plan.colwise().sum().transpose() - clusters.proportions).cwiseAbs().sum() <= 10 * options.tolerance);
  CHECK((proto.plan.rowwise().sum().array() - S(1) / S(2000)).abs().sum() <= 10 * options.tolerance);
  CHECK((proto.assignments.rowwise().sum().array() - 1).abs().maxCoeff() <= tight<S>() * 100);
  CHECK(proto.marginal_error_b <= 10 * options.tolerance);
  for (Index i = 0; i < 2000; ++i) {
    Index best;
    proto.assignments.row(i).maxCoeff(&best);
    CHECK(proto.labels(i) == best);
  }
}

TEMPLATE_TEST_CASE("prototype_sinkhorn_released: the released code's 3-iteration recipe, exactly",
                   "[peers][prototype_sinkhorn]", float, double) {
  using S = TestType;
  const Domain<S> data = imbalanced_domain<S>(300, kImbalanced, 0.5, 0.0, 2);
  Matrix<S> P = data.Z.topRows(4) * S(3);  // not unit: the recipe normalises
  Vector<S> w(4);
  w << S(0.4), S(0.3), S(0.2), S(0.1);
  const std::string dir = test::scratch_dir<S>("prototype_released");
  write_raw(dir + "/Z.bin", data.Z);
  write_raw(dir + "/P.bin", P);
  write_raw(dir + "/w.bin", w);
  run_reference("prototype_sinkhorn_reference.py", "released " + dir + " 300 4 16");
  const auto expected = read_raw(dir + "/assignments.bin", 300, 4);
  const auto result = prototype_sinkhorn_released(data.Z, P, w);
  CHECK(result.iterations == 3);
  CHECK(result.status != SolverStatus::converged);
  CHECK((result.assignments.template cast<double>() - expected).cwiseAbs().maxCoeff() <= 10 * double(tight<S>()));
  CHECK(result.marginal_error_a <= 10 * tight<S>());  // the sample side is scaled last: exact
}

TEMPLATE_TEST_CASE("prototype_sinkhorn: a relaxed prototype side matches a NumPy semi-relaxed solve",
                   "[peers][prototype_sinkhorn]", float, double) {
  using S = TestType;
  const Domain<S> data = imbalanced_domain<S>(400, kImbalanced, 0.4, 0.0, 3);
  const Matrix<S> P = imbalanced_domain<S>(4, {0.25, 0.25, 0.25, 0.25}, 0.0, 0.0, 4).Z;  // true directions
  Vector<S> w = Vector<S>::Constant(4, S(0.25));  // wrong on purpose: the data is 0.5/0.3/0.15/0.05
  const S epsilon = S(0.1), rho = S(0.5);
  const Matrix<S> C = prototype_cost(data.Z, P);
  const std::string dir = test::scratch_dir<S>("prototype_relaxed");
  write_raw(dir + "/C.bin", C);
  write_raw(dir + "/w.bin", w);
  run_reference("prototype_sinkhorn_reference.py", "relaxed " + dir + " 400 4 0.1 0.5");
  const auto expected = read_raw(dir + "/plan.bin", 400, 4);
  const auto options = converged_options<S>(epsilon);
  const auto result = prototype_sinkhorn(data.Z, P, w, options, rho);
  REQUIRE(result.status == SolverStatus::converged);
  CHECK((result.plan.template cast<double>() - expected).cwiseAbs().maxCoeff() <= 1e-3 * double(tight<S>()) * 400);
  CHECK((result.plan.rowwise().sum().array() - S(1) / S(400)).abs().sum() <= 10 * options.tolerance);
  // The KL trade-off: a larger rho pulls the prototype mass towards w, monotonically.
  double previous_kl = std::numeric_limits<double>::infinity();
  for (S r : {S(0.05), S(0.5), S(5), std::numeric_limits<S>::infinity()}) {
    const Eigen::VectorXd q = prototype_sinkhorn(data.Z, P, w, options, r).plan.colwise().sum().transpose().template cast<double>();
    const double kl = (q.array() * (q.array() / w.template cast<double>().array()).log()).sum() - q.sum() + 1;
    CHECK(kl < previous_kl);
    previous_kl = kl;
  }
  CHECK(previous_kl <= 1e-3 * double(tight<S>()) * 1e4);
  // The same solve on the user's cost, with a non-uniform sample marginal.
  Vector<S> a = Vector<S>::LinSpaced(400, S(1), S(2));
  a /= a.sum();
  const auto custom = prototype_sinkhorn_on_cost(C, w, options, rho, a);
  CHECK((custom.plan.rowwise().sum() - a).cwiseAbs().sum() <= 10 * options.tolerance);
}

TEMPLATE_TEST_CASE("prototype_targets: four problems, proportions matched to prototypes, warm start",
                   "[prototype_sinkhorn]", float, double) {
  using S = TestType;
  const Domain<S> A = imbalanced_domain<S>(1200, kImbalanced, 0.25, 0.3, 5);
  const Domain<S> B = imbalanced_domain<S>(1000, {0.1, 0.2, 0.3, 0.4}, 0.25, -0.3, 6);
  PrototypeTargetsOptions<S> options;
  options.k = 4;
  options.kmeans.n_init = 5;
  options.rho = S(0.05);
  const auto targets = prototype_targets(A.Z, B.Z, options);
  CHECK(matched_accuracy(targets.aa.labels, A.classes) >= 0.95);
  CHECK(matched_accuracy(targets.bb.labels, B.classes) >= 0.95);
  CHECK(targets.aa.plan.rows() == 1200);
  CHECK(targets.ab.plan.cols() == 4);
  CHECK(targets.ba.plan.rows() == 1000);
  // Each proportion belongs to its own prototype: the A->A plan's columns carry exactly them.
  CHECK((targets.aa.plan.colwise().sum().transpose() - targets.clusters_a.proportions).cwiseAbs().sum() <= 2 * options.sinkhorn.tolerance);
  CHECK((targets.clusters_b.centroids.rowwise().norm().array() - 1).abs().maxCoeff() <= 10 * tight<S>());
  // Cross-domain: B's proportions are wrong for A; the relaxed side lets A's mix through.
  const double cross_relaxed = matched_accuracy(targets.ab.labels, A.classes);
  options.rho = std::numeric_limits<S>::infinity();
  const double cross_hard = matched_accuracy(prototype_targets(A.Z, B.Z, options).ab.labels, A.classes);
  INFO("A->B accuracy relaxed " << cross_relaxed << ", hard " << cross_hard);
  CHECK(cross_relaxed >= 0.9);
  CHECK(cross_relaxed >= cross_hard + 0.2);

  // The checks below reuse `targets` in scoped blocks, not SECTIONs: Catch2 would re-run the two
  // clusterings above once per SECTION (the file's slowest case under the sanitizers).
  {
    INFO("warm start from permuted prototypes keeps their order and pairs proportions with them");
    PrototypeTargetsOptions<S> warm = options;
    const Eigen::Vector4i order(3, 1, 0, 2);
    warm.prototypes_a = targets.clusters_a.centroids(order, Eigen::all);
    warm.prototypes_b = targets.clusters_b.centroids(order, Eigen::all);
    const auto next = prototype_targets(A.Z, B.Z, warm);
    for (Index j = 0; j < 4; ++j) {
      CHECK(next.clusters_a.proportions(j) == Approx(targets.clusters_a.proportions(order(j))).epsilon(1e-3));
      CHECK(next.clusters_b.proportions(j) == Approx(targets.clusters_b.proportions(order(j))).epsilon(1e-3));
    }
    CHECK(next.clusters_a.iterations <= 2);
  }
  {
    INFO("max_iterations = 0 keeps the given prototypes and only recomputes proportions");
    PrototypeTargetsOptions<S> keep = options;
    keep.kmeans.max_iterations = 0;
    keep.prototypes_a = targets.clusters_a.centroids;
    keep.prototypes_b = targets.clusters_b.centroids;
    keep.released_recipe = true;
    const auto next = prototype_targets(A.Z, B.Z, keep);
    CHECK((next.clusters_a.centroids - targets.clusters_a.centroids).cwiseAbs().maxCoeff() <= 10 * tight<S>());
    CHECK(next.aa.iterations == 3);
    CHECK(matched_accuracy(next.aa.labels, A.classes) >= 0.9);
  }
  {
    INFO("uniform_marginals: every problem's prototype side is 1/K, the proportions stay reported");
    PrototypeTargetsOptions<S> uniform = options;
    uniform.rho = std::numeric_limits<S>::infinity();
    uniform.uniform_marginals = true;
    const auto equal = prototype_targets(A.Z, B.Z, uniform);
    for (const auto* plan : {&equal.aa.plan, &equal.bb.plan, &equal.ab.plan, &equal.ba.plan})
      CHECK((plan->colwise().sum().array() - S(0.25)).abs().maxCoeff() <= 2 * options.sinkhorn.tolerance);
    CHECK((equal.clusters_a.proportions.array() - S(0.25)).abs().maxCoeff() > S(0.05));  // imbalanced A
    CHECK(prototype_marginal(equal.clusters_a, true) == Vector<S>::Constant(4, S(0.25)));
    CHECK(prototype_marginal(equal.clusters_a, false) == equal.clusters_a.proportions);
  }
  {
    INFO("cross_k: the cross-domain problems tie samples to a second, finer clustering");
    CHECK(targets.cross_clusters_b.centroids == targets.clusters_b.centroids);  // default: the same ones
    CHECK_FALSE(options.second_clustering());
    PrototypeTargetsOptions<S> fine = options;
    fine.cross_k = 12;
    CHECK(fine.second_clustering());
    const auto t = prototype_targets(A.Z, B.Z, fine);
    // The in-domain half is untouched.
    CHECK(t.clusters_a.centroids == targets.clusters_a.centroids);
    CHECK(t.aa.labels == targets.aa.labels);
    // ab is exactly kmeans(B, 12, seed + 3) then prototype_sinkhorn onto it.
    KMeansOptions<S> o = fine.kmeans;
    o.seed += 3;
    const KMeansResult<S> reference = kmeans(B.Z, 12, o);
    CHECK((t.cross_clusters_b.centroids - reference.centroids).cwiseAbs().maxCoeff() <= 10 * tight<S>());
    const auto ab = prototype_sinkhorn(A.Z, reference.centroids, reference.proportions, fine.sinkhorn, fine.rho);
    CHECK(t.ab.plan.cols() == 12);
    CHECK(t.ba.plan.cols() == 12);
    CHECK((t.ab.plan - ab.plan).cwiseAbs().maxCoeff() <= 100 * tight<S>());
    // Warm start: the given rows win over cross_k and keep their order.
    PrototypeTargetsOptions<S> warm = options;
    warm.cross_prototypes_a = t.cross_clusters_a.centroids;
    warm.cross_prototypes_b = t.cross_clusters_b.centroids.colwise().reverse();
    CHECK(warm.cross_k == 0);
    CHECK(warm.second_clustering());  // a warm start alone asks for the second clustering
    const auto next = prototype_targets(A.Z, B.Z, warm);
    CHECK(next.cross_clusters_a.centroids.rows() == 12);
    CHECK(next.cross_clusters_a.proportions.isApprox(t.cross_clusters_a.proportions, S(1e-3)));
    const Vector<S> reversed = t.cross_clusters_b.proportions.reverse();
    CHECK(next.cross_clusters_b.proportions.isApprox(reversed, S(1e-3)));
  }
}

TEMPLATE_TEST_CASE("plan_weighted_prototypes: normalised plan-weighted means, massless prototypes kept",
                   "[prototype_sinkhorn]", float, double) {
  using S = TestType;
  std::mt19937 rng(11);
  std::normal_distribution<double> normal;
  Matrix<S> Z(30, 5), previous(3, 5), plan(30, 3);
  Z = Z.unaryExpr([&](S) { return S(normal(rng)); });
  previous = previous.unaryExpr([&](S) { return S(normal(rng)); });
  plan = plan.unaryExpr([&](S) { return S(std::abs(normal(rng))); });
  plan.col(2).setZero();  // prototype 2 receives no mass
  const Matrix<S> next = plan_weighted_prototypes(plan, Z, previous);
  for (Index j = 0; j < 2; ++j) {
    Vector<S> mean = Vector<S>::Zero(5);
    for (Index i = 0; i < 30; ++i) mean += plan(i, j) * Z.row(i).transpose();
    CHECK((next.row(j).transpose() - mean / mean.norm()).cwiseAbs().maxCoeff() <= 10 * tight<S>());
  }
  CHECK((next.row(2) - previous.row(2) / previous.row(2).norm()).cwiseAbs().maxCoeff() <= 10 * tight<S>());
  CHECK_THROWS_WITH(plan_weighted_prototypes(Matrix<S>(plan.topRows(29)), Z, previous), Catch::Contains("plan rows"));
  CHECK_THROWS_WITH(plan_weighted_prototypes(plan, Z, Matrix<S>(previous.leftCols(4))), Catch::Contains("dimension"));
  plan(0, 0) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH(plan_weighted_prototypes(plan, Z, previous), Catch::Contains("NaN"));
}

TEMPLATE_TEST_CASE("prototype_sinkhorn: bad input is rejected with a message", "[prototype_sinkhorn]", float, double) {
  using S = TestType;
  const Matrix<S> Z = Matrix<S>::Random(6, 3), P = Matrix<S>::Random(2, 3);
  Vector<S> w(2);
  w << S(0.5), S(0.5);
  const auto options = converged_options<S>(S(0.1));
  CHECK_THROWS_WITH(prototype_sinkhorn(Z, Matrix<S>::Random(2, 4), w, options), Catch::Contains("dimension"));
  Vector<S> bad = w;
  bad(0) = S(0.6);
  CHECK_THROWS_WITH(prototype_sinkhorn(Z, P, bad, options), Catch::Contains("must sum to 1"));
  bad << S(1.5), S(-0.5);
  CHECK_THROWS_WITH(prototype_sinkhorn(Z, P, bad, options), Catch::Contains("negative"));
  CHECK_THROWS_WITH(prototype_sinkhorn(Z, P, Vector<S>::Constant(3, S(1) / 3), options), Catch::Contains("one entry per prototype"));
  Matrix<S> nan = Z;
  nan(1, 1) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH(prototype_sinkhorn(nan, P, w, options), Catch::Contains("NaN or Inf"));
  CHECK_THROWS_WITH(prototype_sinkhorn(Z, P, w, options, S(0)), Catch::Contains("rho"));
  CHECK_THROWS_WITH(prototype_sinkhorn(Z, P, w, options, S(1), Vector<S>::Ones(5)), Catch::Contains("sample marginal"));
  CHECK_THROWS_AS(prototype_sinkhorn(Z, P, w, SinkhornOptions<S>{}), std::invalid_argument);  // epsilon 0
  PrototypeTargetsOptions<S> targets;
  CHECK_THROWS_WITH(prototype_targets(Z, Z, targets), Catch::Contains("k must be >= 1"));
  targets.k = 2;
  CHECK_THROWS_WITH(prototype_targets(Z, Matrix<S>::Random(6, 4), targets), Catch::Contains("feature dimension"));
  targets.k = 7;
  CHECK_THROWS_WITH(prototype_targets(Z, Z, targets), Catch::Contains("exceeds the number of points"));
  targets.k = 2;
  targets.cross_k = -1;
  CHECK_THROWS_WITH(prototype_targets(Z, Z, targets), Catch::Contains("cross_k must be >= 0"));
  targets.cross_k = 7;
  CHECK_THROWS_WITH(prototype_targets(Z, Z, targets), Catch::Contains("exceeds the number of points"));
}

TEST_CASE("float marginals of 50,000 samples pass the mass check", "[prototype_sinkhorn]") {
  // A float sum of 50,000 weights 1/n drifts by ~1e-5 from 1: the balanced check used to reject
  // its own rescaled marginals ("same total mass (got 1 and 0.999983)") from ~5000 rows up.
  std::mt19937 rng(4);
  std::normal_distribution<float> normal;
  const Matrix<float> Z = Matrix<float>::NullaryExpr(50000, 8, [&] { return normal(rng); });
  const Matrix<float> P = Matrix<float>::NullaryExpr(10, 8, [&] { return normal(rng); });
  Vector<float> w = Vector<float>::LinSpaced(10, 1.0f, 3.0f);
  w /= w.sum();
  const auto released = prototype_sinkhorn_released(Z, P, w);
  CHECK(released.plan.allFinite());
  SinkhornOptions<float> o;
  o.epsilon = 0.05f;
  o.tolerance = 1e-4f;
  const auto converged = prototype_sinkhorn(Z, P, w, o);
  CHECK(converged.status == SolverStatus::converged);
  // The check still catches a real mismatch, and names the masses in full precision.
  Vector<float> a = Vector<float>::Constant(50000, 1.0f / 50000), b = Vector<float>::Constant(10, 0.101f);
  CHECK_THROWS_WITH(sinkhorn(prototype_cost(Z, P), a, b, o), Catch::Contains("same total mass") && Catch::Contains("1.01"));
}
