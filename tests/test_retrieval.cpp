// Top-k search against brute-force sorting, and P@K / mAP against an independent NumPy run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "protoot/retrieval_metrics.hpp"
#include "support/reference.hpp"

using namespace protoot;

namespace {

/// Small integers: every inner product is exact in float, so many exact ties occur.
template <class S>
Matrix<S> integer_data(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-2, 2);
  Matrix<S> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = S(value(rng));
  return x;
}

template <class S>
Matrix<S> gaussian_data(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> value;
  Matrix<S> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = S(value(rng));
  return x;
}

/// Brute force: the full similarity row, sorted by (score desc, index asc).
IndexMatrix brute_force_ranking(const Matrix<double>& s, Index k) {
  IndexMatrix ranking(s.rows(), k);
  for (Index i = 0; i < s.rows(); ++i) {
    std::vector<Index> order(static_cast<std::size_t>(s.cols()));
    std::iota(order.begin(), order.end(), Index(0));
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return s(i, a) > s(i, b); });
    for (Index t = 0; t < k; ++t) ranking(i, t) = order[static_cast<std::size_t>(t)];
  }
  return ranking;
}

IndexVector random_labels(Index n, unsigned seed, const std::vector<double>& class_weights) {
  std::mt19937 rng(seed);
  std::discrete_distribution<Index> label(class_weights.begin(), class_weights.end());
  IndexVector labels(n);
  for (Index i = 0; i < n; ++i) labels(i) = label(rng);
  return labels;
}

}  // namespace

TEMPLATE_TEST_CASE("inner_product_topk equals brute-force sorting, ties by lower index", "[retrieval]", float, double) {
  const Matrix<TestType> q = integer_data<TestType>(37, 5, 1), g = integer_data<TestType>(53, 5, 2);
  const Matrix<double> s = q.template cast<double>() * g.template cast<double>().transpose();
  for (const Index k : {Index(1), Index(10), Index(53)}) {
    const IndexMatrix expected = brute_force_ranking(s, k);
    for (const SearchBlocks blocks : {SearchBlocks{3, 7}, SearchBlocks{1, 1}, SearchBlocks{37, 53}, SearchBlocks{}}) {
      INFO("k " << k << " blocks " << blocks.queries << " x " << blocks.gallery);
      const TopK<TestType> top = inner_product_topk(q, g, k, blocks);
      REQUIRE(top.indices == expected);
      for (Index i = 0; i < q.rows(); ++i)
        for (Index t = 0; t < k; ++t) REQUIRE(double(top.scores(i, t)) == s(i, expected(i, t)));
    }
  }
}

TEMPLATE_TEST_CASE("cosine_topk equals sorted cosine similarity, any blocking", "[retrieval]", float, double) {
  const Matrix<TestType> q = gaussian_data<TestType>(41, 8, 3), g = gaussian_data<TestType>(300, 8, 4) * TestType(7);
  Matrix<double> qn = q.template cast<double>(), gn = g.template cast<double>();
  qn.rowwise().normalize();
  gn.rowwise().normalize();
  const Matrix<double> s = qn * gn.transpose();
  const IndexMatrix expected = brute_force_ranking(s, 20);
  const TopK<TestType> one_block = cosine_topk(q, g, 20, SearchBlocks{41, 300});
  const TopK<TestType> tiny_blocks = cosine_topk(q, g, 20, SearchBlocks{4, 9});
  REQUIRE(one_block.indices == expected);
  REQUIRE(tiny_blocks.indices == expected);
  const double tolerance = std::is_same_v<TestType, float> ? 1e-6 : 1e-14;
  for (Index i = 0; i < q.rows(); ++i)
    for (Index t = 0; t < 20; ++t) {
      REQUIRE(std::abs(double(one_block.scores(i, t)) - s(i, expected(i, t))) <= tolerance);
      REQUIRE(std::abs(double(tiny_blocks.scores(i, t)) - s(i, expected(i, t))) <= tolerance);
    }
}

TEMPLATE_TEST_CASE("P@K and mAP agree with NumPy", "[peers][retrieval][metrics]", float, double) {
  const Index n = 60, m = 80, d = 6;
  const Matrix<TestType> q = gaussian_data<TestType>(n, d, 5), g = gaussian_data<TestType>(m, d, 6);
  IndexVector lq = random_labels(n, 7, {5, 3, 1, 1, 0.5});
  const IndexVector lg = random_labels(m, 8, {1, 1, 2, 4, 6});
  lq(0) = 9;  // a query whose class the gallery lacks: r = 0, no AP
  const std::vector<Index> ks{1, 5, 15, 100};
  const std::string dir = test::scratch_dir<TestType>("retrieval_metrics");
  test::write_raw(dir + "/q.f64", q);
  test::write_raw(dir + "/g.f64", g);
  test::write_raw(dir + "/lq.f64", lq);
  test::write_raw(dir + "/lg.f64", lg);
  test::run_reference("retrieval_metrics.py", dir + " 60 80 6 1 5 15 100");
  const auto expected = test::read_raw(dir + "/expected.f64", 1, 5);

  const RetrievalScores scores = evaluate_retrieval(q, lq, g, lg, ks, 7);
  const double tolerance = std::is_same_v<TestType, float> ? 1e-4 : 1e-10;
  for (std::size_t t = 0; t < ks.size(); ++t) REQUIRE(scores.precision[t] == Approx(expected(0, Index(t))).margin(tolerance));
  REQUIRE(scores.mean_average_precision == Approx(expected(0, 4)).margin(tolerance));
  REQUIRE(scores.mean_average_precision > 10);  // not vacuous
  REQUIRE(scores.mean_average_precision < 90);

  const TopK<TestType> top = cosine_topk(q, g, 15);  // P@K from a top-k ranking agrees
  for (std::size_t t = 0; t < 3; ++t)
    REQUIRE(precision_at_k(top.indices, lq, lg, ks[t]) == Approx(expected(0, Index(t))).margin(tolerance));

  const auto table = cross_domain_scores(q, lq, g, lg, {1, 5});
  REQUIRE(table.size() == 2);
  REQUIRE(table[0].direction == "A->B");
  REQUIRE(table[0].scores.precision[1] == Approx(expected(0, 1)).margin(tolerance));
  REQUIRE(table[1].direction == "B->A");
}

TEST_CASE("retrieval rejects bad input with a clear message", "[retrieval]") {
  const Matrix<double> q = gaussian_data<double>(4, 3, 9), g = gaussian_data<double>(6, 3, 10);
  REQUIRE_THROWS_WITH(cosine_topk(q, g, 0), Catch::Contains("k = 0"));
  REQUIRE_THROWS_WITH(cosine_topk(q, g, 7), Catch::Contains("k = 7"));
  REQUIRE_THROWS_WITH(cosine_topk(q, Matrix<double>::Zero(6, 4), 1), Catch::Contains("feature dimension"));
  Matrix<double> bad = g;
  bad(2, 1) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(inner_product_topk(q, bad, 2), Catch::Contains("NaN"));
  // Finite rows whose products overflow: q.g = 1e400 - 1e400 is NaN, which no ranking admits,
  // so the query had fewer than k candidates and got garbage indices.
  Matrix<double> huge_q(1, 2), huge_g(3, 2);
  huge_q << 1e200, 1e200;
  huge_g << 1e200, -1e200, 2e200, -2e200, 1, -1;
  REQUIRE_THROWS_WITH(inner_product_topk(huge_q, huge_g, 2), Catch::Contains("overflow"));
  bad = g;
  bad.row(3).setZero();
  REQUIRE_THROWS_WITH(cosine_topk(q, bad, 2), Catch::Contains("zero"));
  REQUIRE_THROWS_AS(inner_product_topk(Matrix<double>(0, 3), g, 1), std::invalid_argument);
  REQUIRE_THROWS_WITH(inner_product_topk(q, g, 1, SearchBlocks{0, 4}), Catch::Contains("block"));
  const IndexVector lq = IndexVector::Zero(4), lg = IndexVector::Ones(6);
  REQUIRE_THROWS_WITH(evaluate_retrieval(q, lq, g, IndexVector::Ones(5), {1}), Catch::Contains("gallery_labels"));
  REQUIRE_THROWS_WITH(evaluate_retrieval(q, lq, g, lg, {1}), Catch::Contains("no query has a relevant"));
  REQUIRE_THROWS_WITH(evaluate_retrieval(q, lq, g, lg, {0}), Catch::Contains("ks"));
  REQUIRE_THROWS_WITH(precision_at_k(IndexMatrix::Zero(4, 1), lq, IndexVector::Zero(6), 5), Catch::Contains("fewer than K"));
}
