// Contrastive kernels: gradients against central finite differences, values against NumPy and
// hand-computed cases, float against double, numerics at tau = 0.01, and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "protoot/contrastive.hpp"
#include "support/gradient_check.hpp"
#include "support/reference.hpp"

using namespace protoot;
using test::gradient_error;
using test::MatrixD;
using test::random_normal;

namespace {


MatrixD unit_rows(Index rows, Index cols, std::mt19937& rng) { return l2_normalise_rows(random_normal(rows, cols, rng)); }

/// Random row-stochastic n x k matrix.
MatrixD stochastic_rows(Index n, Index k, std::mt19937& rng) {
  MatrixD w = random_normal(n, k, rng).array().exp();
  return (w.array().colwise() / w.rowwise().sum().array()).matrix();
}

IndexVector random_indices(Index n, Index range, std::mt19937& rng) {
  std::uniform_int_distribution<Index> pick(0, range - 1);
  IndexVector v(n);
  for (Index i = 0; i < n; ++i) v(i) = pick(rng);
  return v;
}

/// The fixed problem the checks share: n queries, m negatives / bank rows, K prototypes, dim d.
struct Problem {
  static constexpr Index n = 6, m = 9, kp = 4, d = 5, k = 3;
  MatrixD q, kpos, v, c, w, bank;
  IndexVector excl, match;
  explicit Problem(unsigned seed) {
    std::mt19937 rng(seed);
    q = unit_rows(n, d, rng);
    kpos = unit_rows(n, d, rng);
    v = unit_rows(m, d, rng);
    c = unit_rows(kp, d, rng);
    w = stochastic_rows(n, kp, rng);
    bank = unit_rows(m, d, rng);
    excl = random_indices(n, m, rng);
    excl(0) = -1;  // one row without an exclusion
    match = random_indices(n, kp, rng);
  }
};

constexpr double kTau = 0.3;

}  // namespace

TEST_CASE("l2_normalise_rows: unit rows and a finite-difference backward", "[losses]") {
  std::mt19937 rng(1);
  const MatrixD x = random_normal(5, 4, rng), weights = random_normal(5, 4, rng);
  Vector<double> norms;
  const MatrixD y = l2_normalise_rows(x, &norms);
  CHECK((y.rowwise().norm().array() - 1).abs().maxCoeff() < 1e-14);
  const MatrixD dx = l2_normalise_rows_backward(y, norms, weights);
  const auto f = [&](const MatrixD& p) { return l2_normalise_rows(p).cwiseProduct(weights).sum(); };
  CHECK(gradient_error(f, x, dx) <= 1e-6);
  MatrixD zero_row = x;
  zero_row.row(2).setZero();
  CHECK_THROWS_WITH(l2_normalise_rows(zero_row), Catch::Contains("row 2 has zero"));
}

TEST_CASE("info_nce_logits: hand-computed values", "[losses]") {
  Vector<double> pos(2);
  pos << 1.0, 0.5;
  MatrixD neg(2, 2);
  neg << 0.0, 2.0, 1.0, -1.0;
  const double row0 = std::log(std::exp(1.0) + 1 + std::exp(2.0)) - 1.0;
  const double row1 = std::log(std::exp(0.5) + std::exp(1.0) + std::exp(-1.0)) - 0.5;
  CHECK(info_nce_logits(pos, neg, 1.0) == Approx((row0 + row1) / 2).epsilon(1e-14));
  IndexVector excl(2);
  excl << 1, -1;  // row 0 drops its logit 2
  const double row0_excl = std::log(std::exp(1.0) + 1) - 1.0;
  CHECK(info_nce_logits(pos, neg, 1.0, &excl) == Approx((row0_excl + row1) / 2).epsilon(1e-14));
  // tau = 0.5 doubles every logit
  CHECK(info_nce_logits(pos, neg, 0.5) == Approx(info_nce_logits(Vector<double>(2 * pos), MatrixD(2 * neg), 1.0)));
}

TEST_CASE("every kernel's gradient matches central finite differences", "[losses]") {
  const Problem p(7);
  const double tau = kTau;

  SECTION("info_nce_logits") {
    InfoNceLogitGradients<double> g;
    const MatrixD pos = p.q.col(0);
    info_nce_logits(pos, p.kpos, tau, nullptr, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce_logits(x.col(0), p.kpos, tau); }, pos,
                         g.positive) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce_logits(pos.col(0), x, tau); }, p.kpos,
                         g.negatives) <= 1e-6);
  }
  SECTION("info_nce with exclusions") {
    InfoNceGradients<double> g;
    info_nce(p.q, p.kpos, p.v, tau, &p.excl, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce(x, p.kpos, p.v, tau, &p.excl); }, p.q, g.queries) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce(p.q, x, p.v, tau, &p.excl); }, p.kpos, g.positives) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce(p.q, p.kpos, x, tau, &p.excl); }, p.v, g.negatives) <= 1e-6);
  }
  SECTION("info_nce_two_views") {
    TwoViewGradients<double> g;
    info_nce_two_views(p.q, p.kpos, tau, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce_two_views(x, p.kpos, tau); }, p.q, g.a) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return info_nce_two_views(p.q, x, tau); }, p.kpos, g.b) <= 1e-6);
  }
  SECTION("prototype_contrast (hard match)") {
    PrototypeGradients<double> g;
    prototype_contrast(p.q, p.c, p.match, tau, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return prototype_contrast(x, p.c, p.match, tau); }, p.q, g.features) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return prototype_contrast(p.q, x, p.match, tau); }, p.c, g.prototypes) <= 1e-6);
  }
  SECTION("prototype_contrast_soft") {
    PrototypeGradients<double> g;
    prototype_contrast_soft(p.q, p.c, p.w, tau, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return prototype_contrast_soft(x, p.c, p.w, tau); }, p.q, g.features) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return prototype_contrast_soft(p.q, x, p.w, tau); }, p.c, g.prototypes) <= 1e-6);
  }
  SECTION("ot_target_loss") {
    const MatrixD plan = p.w * 0.1;
    PrototypeGradients<double> g;
    ot_target_loss(p.q, p.c, plan, tau, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return ot_target_loss(x, p.c, plan, tau); }, p.q, g.features) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return ot_target_loss(p.q, x, plan, tau); }, p.c, g.prototypes) <= 1e-6);
  }
  SECTION("neighbour_contrast") {
    PrototypeGradients<double> g;
    neighbour_contrast(p.q, p.bank, p.k, tau, &p.excl, &g);
    CHECK(gradient_error([&](const MatrixD& x) { return neighbour_contrast(x, p.bank, p.k, tau, &p.excl); }, p.q,
                         g.features) <= 1e-6);
    CHECK(gradient_error([&](const MatrixD& x) { return neighbour_contrast(p.q, x, p.k, tau, &p.excl); }, p.bank,
                         g.prototypes) <= 1e-6);
  }
}

TEST_CASE("loss values and neighbours agree with NumPy", "[peers][losses][reference]") {
  const Problem p(11);
  const std::string dir = "test_losses_reference";
  std::system(("mkdir -p " + dir).c_str());
  test::write_raw(dir + "/q.f64", p.q);
  test::write_raw(dir + "/kpos.f64", p.kpos);
  test::write_raw(dir + "/v.f64", p.v);
  test::write_raw(dir + "/excl.f64", p.excl.cast<double>());
  test::write_raw(dir + "/c.f64", p.c);
  test::write_raw(dir + "/match.f64", p.match.cast<double>());
  test::write_raw(dir + "/w.f64", p.w);
  test::write_raw(dir + "/bank.f64", p.bank);
  test::run_reference("contrastive_losses.py", dir + " " + std::to_string(p.n) + " " + std::to_string(p.m) + " " +
                                                   std::to_string(p.kp) + " " + std::to_string(p.d) + " " +
                                                   std::to_string(p.k) + " " + std::to_string(kTau));
  const MatrixD out = test::read_raw(dir + "/out.f64", 1, 6 + p.n * p.k);
  CHECK(info_nce(p.q, p.kpos, p.v, kTau, &p.excl) == Approx(out(0)).epsilon(1e-12));
  CHECK(info_nce_two_views(p.q, p.kpos, kTau) == Approx(out(1)).epsilon(1e-12));
  CHECK(prototype_contrast(p.q, p.c, p.match, kTau) == Approx(out(2)).epsilon(1e-12));
  CHECK(prototype_contrast_soft(p.q, p.c, p.w, kTau) == Approx(out(3)).epsilon(1e-12));
  CHECK(neighbour_contrast(p.q, p.bank, p.k, kTau, &p.excl) == Approx(out(4)).epsilon(1e-12));
  CHECK(ot_target_loss(p.q, p.c, MatrixD(p.w * 0.37), kTau) == Approx(out(5)).epsilon(1e-12));
  const IndexMatrix nbrs = cosine_neighbours(p.q, p.bank, p.k, &p.excl);
  for (Index i = 0; i < p.n; ++i)
    for (Index r = 0; r < p.k; ++r) CHECK(nbrs(i, r) == static_cast<Index>(out(6 + i * p.k + r)));
}

TEST_CASE("cosine_neighbours breaks ties by the lower index and honours exclusions", "[losses]") {
  MatrixD bank(4, 2);
  bank << 1, 0, 0, 1, 2, 0, 1, 0;  // rows 0, 2, 3 point the same way
  MatrixD q(1, 2);
  q << 3, 0;
  const IndexMatrix all = cosine_neighbours(q, bank, 3);
  CHECK(all(0, 0) == 0);
  CHECK(all(0, 1) == 2);
  CHECK(all(0, 2) == 3);
  IndexVector excl(1);
  excl << 0;
  CHECK(cosine_neighbours(q, bank, 2, &excl)(0, 0) == 2);
}

TEST_CASE("cosine_neighbours over several gallery tiles equals a full sort, with and without exclusions",
          "[losses]") {
  // 2500 bank rows span three 1024-row tiles of the blocked search; queries are bank rows (their
  // own row is the one excluded) plus fresh points (nothing excluded, -1).
  std::mt19937 rng(11);
  const Index m = 2500, n = 40, k = 7, d = 8;
  const MatrixD bank = unit_rows(m, d, rng);
  MatrixD q(n, d);
  IndexVector excl(n);
  for (Index i = 0; i < n; ++i) {
    const bool own = i % 2 == 0;
    excl(i) = own ? 61 * i : -1;
    q.row(i) = own ? MatrixD(bank.row(excl(i))) : unit_rows(1, d, rng);
  }
  const MatrixD similarity = q * bank.transpose();  // rows already unit
  const IndexVector* const cases[] = {nullptr, &excl};
  for (const IndexVector* exclusions : cases) {
    const IndexMatrix found = cosine_neighbours(q, bank, k, exclusions);
    for (Index i = 0; i < n; ++i) {
      std::vector<Index> order;
      for (Index j = 0; j < m; ++j)
        if (!exclusions || j != excl(i)) order.push_back(j);
      std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return similarity(i, a) > similarity(i, b); });
      for (Index r = 0; r < k; ++r) CHECK(found(i, r) == order[static_cast<std::size_t>(r)]);
    }
  }
}

TEMPLATE_TEST_CASE("tau = 0.01 on unit vectors: finite, and float32 within 1e-4 of float64", "[losses]", float,
                   double) {
  using S = TestType;
  std::mt19937 rng(3);
  const Index n = 64, m = 512, kp = 16, d = 32;
  const MatrixD q = unit_rows(n, d, rng), kpos = unit_rows(n, d, rng), v = unit_rows(m, d, rng),
                c = unit_rows(kp, d, rng), w = stochastic_rows(n, kp, rng);
  const IndexVector match = random_indices(n, kp, rng), excl = random_indices(n, m, rng);
  const double tau = 0.01;
  const Matrix<S> qs = q.cast<S>(), ks = kpos.cast<S>(), vs = v.cast<S>(), cs = c.cast<S>(), ws = w.cast<S>();
  const S t = S(tau);
  InfoNceGradients<S> gi;
  PrototypeGradients<S> gp, gs, gn;
  const double values[][2] = {
      {double(info_nce(qs, ks, vs, t, &excl, &gi)), info_nce(q, kpos, v, tau, &excl)},
      {double(info_nce_two_views(qs, ks, t)), info_nce_two_views(q, kpos, tau)},
      {double(prototype_contrast(qs, cs, match, t, &gp)), prototype_contrast(q, c, match, tau)},
      {double(prototype_contrast_soft(qs, cs, ws, t, &gs)), prototype_contrast_soft(q, c, w, tau)},
      {double(ot_target_loss(qs, cs, ws, t)), ot_target_loss(q, c, w, tau)},
      {double(neighbour_contrast(qs, vs, 5, t, &excl, &gn)), neighbour_contrast(q, v, 5, tau, &excl)},
  };
  for (const auto& pair : values) {
    CHECK(std::isfinite(pair[0]));
    CHECK(pair[0] > 0);  // each logit gap is up to 2 / 0.01 = 200: exp would overflow float
    CHECK(std::abs(pair[0] - pair[1]) <= 1e-4 * std::abs(pair[1]));
  }
  // gradients: finite, and the float ones within 1e-4 (relative, Frobenius) of the double ones
  InfoNceGradients<double> di;
  PrototypeGradients<double> dp, ds, dn;
  info_nce(q, kpos, v, tau, &excl, &di);
  prototype_contrast(q, c, match, tau, &dp);
  prototype_contrast_soft(q, c, w, tau, &ds);
  neighbour_contrast(q, v, 5, tau, &excl, &dn);
  const std::pair<Matrix<S>, MatrixD> grads[] = {{gi.queries, di.queries},       {gi.negatives, di.negatives},
                                                 {gp.features, dp.features},     {gp.prototypes, dp.prototypes},
                                                 {gs.features, ds.features},     {gn.features, dn.features}};
  for (const auto& [low, high] : grads) {
    CHECK(low.allFinite());
    CHECK((low.template cast<double>() - high).norm() <= 1e-4 * high.norm());
  }
}

TEST_CASE("bad input throws std::invalid_argument naming the problem", "[losses]") {
  const Problem p(5);
  CHECK_THROWS_WITH(info_nce(p.q, p.kpos, p.v, 0.0), Catch::Contains("tau must be finite and > 0"));
  CHECK_THROWS_WITH(info_nce(p.q, p.kpos, p.v, -1.0), Catch::Contains("tau"));
  CHECK_THROWS_WITH(info_nce(p.q, p.kpos.topRows(3), p.v, kTau), Catch::Contains("positives must have one row"));
  CHECK_THROWS_WITH(info_nce(p.q, p.kpos, p.v.leftCols(3), kTau), Catch::Contains("negatives dimension"));
  CHECK_THROWS_WITH(info_nce(MatrixD(0, 5), MatrixD(0, 5), p.v, kTau), Catch::Contains("queries is empty"));
  IndexVector bad_excl = p.excl;
  bad_excl(1) = p.m;
  CHECK_THROWS_WITH(info_nce(p.q, p.kpos, p.v, kTau, &bad_excl), Catch::Contains("outside [-1, 9)"));
  MatrixD nan_q = p.q;
  nan_q(2, 1) = std::nan("");
  CHECK_THROWS_WITH(info_nce(nan_q, p.kpos, p.v, kTau), Catch::Contains("NaN or Inf"));
  CHECK_THROWS_WITH(prototype_contrast(nan_q, p.c, p.match, kTau), Catch::Contains("NaN or Inf"));
  IndexVector bad_match = p.match;
  bad_match(0) = -1;
  CHECK_THROWS_WITH(prototype_contrast(p.q, p.c, bad_match, kTau), Catch::Contains("match(0) = -1 is outside"));
  CHECK_THROWS_WITH(prototype_contrast(p.q, p.c, p.match.head(2), kTau), Catch::Contains("one entry per feature"));
  CHECK_THROWS_WITH(prototype_contrast_soft(p.q, p.c, MatrixD(2 * p.w), kTau), Catch::Contains("must sum to 1"));
  CHECK_THROWS_WITH(prototype_contrast_soft(p.q, p.c, p.w.leftCols(2), kTau), Catch::Contains("assignment columns"));
  CHECK_THROWS_WITH(prototype_contrast_soft(p.q, p.c.leftCols(2), p.w, kTau), Catch::Contains("prototypes dimension"));
  MatrixD empty_row_plan = p.w;
  empty_row_plan.row(3).setZero();
  CHECK_THROWS_WITH(ot_target_loss(p.q, p.c, empty_row_plan, kTau), Catch::Contains("plan row 3 must have positive mass"));
  MatrixD negative_plan = p.w;
  negative_plan(0, 1) = -0.01;
  CHECK_THROWS_WITH(ot_target_loss(p.q, p.c, negative_plan, kTau), Catch::Contains("negative entries"));
  // finite inputs whose logits overflow: the loss was a silent NaN
  CHECK_THROWS_WITH(ot_target_loss(MatrixD(p.q * 1e200), MatrixD(p.c * 1e200), p.w, kTau), Catch::Contains("overflow"));
  CHECK_THROWS_WITH(neighbour_contrast(p.q, p.bank, p.m, kTau, &p.excl), Catch::Contains("k = 9 must be in [1, 8]"));
  CHECK_THROWS_WITH(neighbour_contrast(p.q, p.bank, 0, kTau), Catch::Contains("k = 0"));
  CHECK_THROWS_WITH(neighbour_contrast(p.q, p.bank, 2, std::nan("")), Catch::Contains("tau"));
  CHECK_THROWS_AS(info_nce_logits(Vector<double>(), MatrixD(0, 3), kTau), std::invalid_argument);
}
