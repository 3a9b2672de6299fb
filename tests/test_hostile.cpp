// Hostile input over the public entry points: every case must end in a clear exception of the
// library's types (std::invalid_argument, std::domain_error, std::runtime_error) or a finite,
// correct result; never a crash, an assertion, a silent NaN/Inf or a result that depends on the
// thread count. Built twice in CI (asserts on and -DNDEBUG) under ASan+UBSan.
#include <catch2/catch.hpp>

#include <climits>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "protoot/contrastive.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/prototype_targets.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/synthetic.hpp"

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

template <class S>
SinkhornOptions<S> sinkhorn_options(S epsilon, bool log_domain = true) {
  SinkhornOptions<S> o;
  o.epsilon = epsilon;
  o.max_iterations = 30;
  o.tolerance = S(0);
  o.log_domain = log_domain;
  return o;
}

template <class S>
Vector<S> uniform_weights(Index n) {
  return Vector<S>::Constant(n, S(1) / S(n));
}

/// Runs f with 1 and then 2 OpenMP threads (restoring the caller's setting) and returns both.
template <class F>
auto with_one_and_two_threads(F&& f) {
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = f();
  omp_set_num_threads(2);
  auto two = f();
  omp_set_num_threads(saved);
  return std::make_pair(std::move(one), std::move(two));
#else
  return std::make_pair(f(), f());
#endif
}

template <class M>
bool bitwise_equal(const M& x, const M& y) {
  return x.rows() == y.rows() && x.cols() == y.cols() &&
         std::memcmp(x.data(), y.data(), sizeof(*x.data()) * std::size_t(x.size())) == 0;
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
  REQUIRE_NOTHROW(result = prototype_sinkhorn_on_cost(C, w, options));
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

// ---- memory safety and UB ----------------------------------------------------------------------

TEST_CASE("kmeans bounds local_trials before allocating", "[hostile][kmeans]") {
  const Matrix<double> X = uniform_matrix<double>(50, 3, 3);
  KMeansOptions<double> o;
  for (const int trials : {INT_MAX, 51, -1}) {
    o.local_trials = trials;
    CHECK_THROWS_AS(kmeans(X, 4, o), std::invalid_argument);
  }
  o.local_trials = 50;
  CHECK_NOTHROW(kmeans(X, 4, o));
}

TEMPLATE_TEST_CASE("top-k searches accept any block size", "[hostile][retrieval]", float, double) {
  using S = TestType;
  const Matrix<S> Q = uniform_matrix<S>(37, 5, 4), G = uniform_matrix<S>(53, 5, 5);
  const TopK<S> expected = inner_product_topk(Q, G, 4);
  const Index huge = std::numeric_limits<Index>::max();
  for (const SearchBlocks blocks : {SearchBlocks{huge, huge}, SearchBlocks{huge - 1, 7}, SearchBlocks{3, huge}}) {
    const TopK<S> got = inner_product_topk(Q, G, 4, blocks);
    CHECK(got.indices == expected.indices);
    // Other tile shapes may round the last bit differently (GEMM kernels), never more.
    CHECK((got.scores - expected.scores).cwiseAbs().maxCoeff() <= 8 * std::numeric_limits<S>::epsilon());
    CHECK(cosine_topk(Q, G, 4, blocks).indices == cosine_topk(Q, G, 4).indices);
  }
  IndexVector ql(37), gl(53);
  for (Index i = 0; i < 37; ++i) ql(i) = i % 3;
  for (Index i = 0; i < 53; ++i) gl(i) = i % 3;
  const RetrievalScores reference = evaluate_retrieval(Q, ql, G, gl, {1, 5});
  const RetrievalScores got = evaluate_retrieval(Q, ql, G, gl, {1, 5}, huge);
  CHECK(got.precision == reference.precision);
  CHECK(got.mean_average_precision == reference.mean_average_precision);
}

TEST_CASE("info_nce checks the negatives' width even when there are none", "[hostile][losses]") {
  const Matrix<double> q = uniform_matrix<double>(4, 3, 6);
  CHECK_THROWS_AS(info_nce(q, q, Matrix<double>(0, 5), 0.1), std::invalid_argument);
  CHECK(std::isfinite(info_nce(q, q, Matrix<double>(0, 3), 0.1)));
}

TEST_CASE("sinkhorn checks shapes before any Eigen operation", "[hostile][sinkhorn]") {
  // POT's sinkhorn(a, b, M) does not compile (a and b must be vectors); wrong sizes throw.
  const Matrix<double> C = uniform_matrix<double>(4, 3, 7);
  const auto o = sinkhorn_options(0.1);
  CHECK_THROWS_AS(sinkhorn(C, uniform_weights<double>(3), uniform_weights<double>(3), o), std::invalid_argument);
  CHECK_THROWS_AS(sinkhorn(C, uniform_weights<double>(4), uniform_weights<double>(4), o), std::invalid_argument);
  CHECK_THROWS_AS(sinkhorn(Matrix<double>(0, 3), Vector<double>(0), uniform_weights<double>(3), o),
                  std::invalid_argument);
}

// ---- Sinkhorn: silent NaN / Inf / false convergence --------------------------------------------

TEMPLATE_TEST_CASE("sinkhorn rejects epsilon outside the representable range", "[hostile][sinkhorn]", float, double) {
  using S = TestType;
  const Matrix<S> C = uniform_matrix<S>(5, 4, 8), zero = Matrix<S>::Zero(5, 4);
  const Vector<S> a = uniform_weights<S>(5), b = uniform_weights<S>(4);
  const S max = std::numeric_limits<S>::max(), denormal = std::numeric_limits<S>::denorm_min() * S(16);
  for (const S epsilon : {max, max / S(16), max / S(1000), denormal}) {
    for (const bool log_domain : {true, false}) {
      CHECK_THROWS_AS(sinkhorn(C, a, b, sinkhorn_options(epsilon, log_domain)), std::invalid_argument);
      CHECK_THROWS_AS(sinkhorn(zero, a, b, sinkhorn_options(epsilon, log_domain)), std::invalid_argument);
    }
  }
  auto o = sinkhorn_options(S(0.1));
  o.epsilon_start = max;
  o.epsilon_decay = S(0.5);
  CHECK_THROWS_AS(sinkhorn(C, a, b, o), std::invalid_argument);
}

TEMPLATE_TEST_CASE("sinkhorn rejects masses that overflow or vanish", "[hostile][sinkhorn]", float, double) {
  using S = TestType;
  const Matrix<S> C = uniform_matrix<S>(2, 2, 9);
  const S big = std::numeric_limits<S>::max() / S(1.5);
  const Vector<S> huge = Vector<S>::Constant(2, big);
  CHECK_THROWS_AS(sinkhorn(C, huge, huge, sinkhorn_options(S(0.1))), std::invalid_argument);
  CHECK_THROWS_AS(sinkhorn_unbalanced(C, huge, huge, S(1), S(1), sinkhorn_options(S(0.1))), std::invalid_argument);
  const Vector<S> tiny = Vector<S>::Constant(2, std::numeric_limits<S>::min() / S(4));
  CHECK_THROWS_AS(sinkhorn(C, tiny, tiny, sinkhorn_options(S(0.1))), std::invalid_argument);
}

TEMPLATE_TEST_CASE("sinkhorn results do not depend on the thread count", "[hostile][sinkhorn][threads]", float,
                   double) {
  using S = TestType;
  const Index n = 1100, m = 1000;  // above the 2^20-entry parallel threshold
  const Matrix<S> C = uniform_matrix<S>(n, m, 10);
  const Vector<S> a = uniform_weights<S>(n), b = uniform_weights<S>(m);
  for (const bool log_domain : {true, false}) {
    const auto o = sinkhorn_options(S(0.05), log_domain);
    const auto [one, two] = with_one_and_two_threads([&] { return sinkhorn(C, a, b, o); });
    CHECK(bitwise_equal(one.plan, two.plan));
    CHECK(bitwise_equal(one.f, two.f));
    const auto [u1, u2] = with_one_and_two_threads([&] { return sinkhorn_unbalanced(C, a, b, S(1), S(2), o); });
    CHECK(bitwise_equal(u1.plan, u2.plan));
  }
}

// ---- losses and geometry ----------------------------------------------------------------------

TEMPLATE_TEST_CASE("info_nce rejects a tau that overflows the logits", "[hostile][losses]", float, double) {
  using S = TestType;
  const Vector<S> p = Vector<S>::Constant(3, S(0.5));
  const Matrix<S> N = uniform_matrix<S>(3, 4, 11);
  const S denormal = std::numeric_limits<S>::denorm_min() * S(8);
  CHECK_THROWS_AS(info_nce_logits(p, N, denormal), std::invalid_argument);
  const S max = std::numeric_limits<S>::max();
  Vector<S> huge = p;
  huge(0) = max / S(2);
  CHECK_THROWS_AS(info_nce_logits(huge, N, S(1)), std::invalid_argument);
  Matrix<S> hugeN = N;
  hugeN(1, 1) = -max / S(2);
  CHECK_THROWS_AS(info_nce_logits(p, hugeN, S(0.5)), std::invalid_argument);
  const Matrix<S> q = uniform_matrix<S>(3, 2, 12);
  CHECK_THROWS_AS(info_nce(q, q, q, denormal), std::invalid_argument);
  CHECK(std::isfinite(info_nce_logits(p, N, S(0.07))));
}

TEMPLATE_TEST_CASE("info_nce results do not depend on the thread count", "[hostile][losses][threads]", float,
                   double) {
  using S = TestType;
  const Matrix<S> q = uniform_matrix<S>(300, 16, 13), v = uniform_matrix<S>(400, 16, 14);
  const auto [one, two] = with_one_and_two_threads([&] { return info_nce(q, q, v, S(0.1)); });
  CHECK(std::memcmp(&one, &two, sizeof(S)) == 0);
}

TEST_CASE("l2_normalise_rows_backward rejects non-finite input", "[hostile][losses]") {
  const Matrix<double> x = uniform_matrix<double>(3, 4, 15);
  Vector<double> norms;
  const Matrix<double> y = l2_normalise_rows(x, &norms);
  Matrix<double> g = uniform_matrix<double>(3, 4, 16);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Matrix<double> bad = g;
  bad(1, 2) = nan;
  CHECK_THROWS_AS(l2_normalise_rows_backward(y, norms, bad), std::invalid_argument);
  bad = y;
  bad(0, 0) = inf;
  CHECK_THROWS_AS(l2_normalise_rows_backward(bad, norms, g), std::invalid_argument);
  Vector<double> bad_norms = norms;
  bad_norms(2) = inf;
  CHECK_THROWS_AS(l2_normalise_rows_backward(y, bad_norms, g), std::invalid_argument);
}

TEST_CASE("make_two_domain rejects non-finite parameters", "[hostile][synthetic]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (double TwoDomainOptions::*field :
       {&TwoDomainOptions::spread, &TwoDomainOptions::rotation, &TwoDomainOptions::noise, &TwoDomainOptions::offset,
        &TwoDomainOptions::scale_jitter, &TwoDomainOptions::imbalance})
    for (const double value : {nan, inf, -inf}) {
      TwoDomainOptions o;
      o.samples_a = o.samples_b = 20;
      o.*field = value;
      CHECK_THROWS_AS(make_two_domain<double>(o), std::invalid_argument);
    }
  TwoDomainOptions o;
  o.samples_a = o.samples_b = 20;
  o.spread = 1e300;
  CHECK_THROWS_AS(make_two_domain<float>(o), std::invalid_argument);
}

// ---- I/O ---------------------------------------------------------------------------------------

TEST_CASE("read_npy names the file for directories and out-of-range values", "[hostile][io]") {
  const std::string dir = "hostile_npy_dir";
  std::filesystem::create_directories(dir);
  try {
    io::read_npy<double>(dir);
    FAIL("a directory was read");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find(dir) != std::string::npos);
  }
  const std::string path = "hostile_f8.npy";
  Matrix<double> x(1, 2);
  x << 1.0, 1e300;
  io::write_npy(path, x);
  CHECK(io::read_npy<double>(path)(0, 1) == 1e300);
  try {
    io::read_npy<float>(path);
    FAIL("1e300 was read as float");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  Vector<double> labels(2);
  labels << 1.0, 1e30;
  io::write_npy(path, labels);
  CHECK_THROWS_AS(io::read_npy<Index>(path), std::invalid_argument);
}

TEST_CASE("write_npy keeps the previous file when a write fails", "[hostile][io]") {
  const std::string path = "hostile_atomic.npy";
  const Matrix<double> previous = uniform_matrix<double>(4, 4, 17);
  io::write_npy(path, previous);
  // A file-size limit makes the next write fail part-way (EFBIG), as a full disk would.
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const Matrix<double> big = uniform_matrix<double>(64, 64, 18);  // 32 KiB
  CHECK_THROWS_AS(io::write_npy(path, big), std::invalid_argument);
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(bitwise_equal(io::read_npy<double>(path), previous));
  for (const auto& entry : std::filesystem::directory_iterator("."))
    CHECK(entry.path().filename().string().rfind(path + ".tmp", 0) == std::string::npos);
}

TEMPLATE_TEST_CASE("cosine geometry survives rows near the overflow limit", "[hostile][geometry]", float, double) {
  using S = TestType;
  const S big = std::is_same_v<S, float> ? S(1e30) : S(1e200), small = std::is_same_v<S, float> ? S(1e-30) : S(1e-200);
  const Matrix<S> Z = uniform_matrix<S>(20, 4, 19), P = uniform_matrix<S>(3, 4, 20);
  const Matrix<S> expected = prototype_cost(Z, P);
  for (const S scale : {big, small}) {
    const Matrix<S> got = prototype_cost((Z * scale).eval(), (P * scale).eval());
    CHECK((got - expected).cwiseAbs().maxCoeff() <= 16 * std::numeric_limits<S>::epsilon());
    Vector<S> norms;
    const Matrix<S> unit = l2_normalise_rows((Z * scale).eval(), &norms);
    CHECK((unit - l2_normalise_rows(Z)).cwiseAbs().maxCoeff() <= 8 * std::numeric_limits<S>::epsilon());
  }
  KMeansOptions<S> o;
  o.spherical = true;
  o.seed = 3;
  const KMeansResult<S> reference = kmeans(Z, 3, o);
  const KMeansResult<S> scaled = kmeans((Z * big).eval(), 3, o);
  CHECK(scaled.labels == reference.labels);
  CHECK(all_finite(scaled.centroids));
  o.initial_centroids = P * big;
  CHECK(all_finite(kmeans((Z * big).eval(), 3, o).centroids));
}

TEMPLATE_TEST_CASE("kmeans rejects weights and warm starts whose inertia overflows", "[hostile][kmeans]", float,
                   double) {
  using S = TestType;
  const Matrix<S> X = uniform_matrix<S>(30, 3, 21);
  KMeansOptions<S> o;
  o.weights = Vector<S>::Constant(30, std::numeric_limits<S>::max() / S(8));
  CHECK_THROWS_AS(kmeans(X, 3, o), std::invalid_argument);
  o.weights = Vector<S>();
  o.initial_centroids = Matrix<S>::Constant(3, 3, std::sqrt(std::numeric_limits<S>::max()) * S(2));
  CHECK_THROWS_AS(kmeans(X, 3, o), std::invalid_argument);
}

TEMPLATE_TEST_CASE("kmeans results do not depend on the thread count", "[hostile][kmeans][threads]", float, double) {
  using S = TestType;
  const Matrix<S> X = uniform_matrix<S>(20000, 32, 22);  // above the 2^22 multiply-add threshold
  KMeansOptions<S> o;
  o.max_iterations = 5;
  const auto [one, two] = with_one_and_two_threads([&] { return kmeans(X, 8, o); });
  CHECK(bitwise_equal(one.centroids, two.centroids));
  CHECK(one.labels == two.labels);
  CHECK(std::memcmp(&one.inertia, &two.inertia, sizeof(S)) == 0);
}

TEMPLATE_TEST_CASE("ot_target_loss accepts plans of any scale", "[hostile][losses]", float, double) {
  using S = TestType;
  const Matrix<S> Z = l2_normalise_rows(uniform_matrix<S>(6, 4, 23)), P = l2_normalise_rows(uniform_matrix<S>(3, 4, 24));
  const Matrix<S> plan = uniform_matrix<S>(6, 3, 25);
  const S expected = ot_target_loss(Z, P, plan, S(0.1));
  const S max = std::numeric_limits<S>::max(), denormal = std::numeric_limits<S>::denorm_min();
  for (const S scale : {max / S(2), S(1) / max * S(1e-3), denormal * S(1e6)}) {
    const S got = ot_target_loss(Z, P, (plan * scale).eval(), S(0.1));
    CHECK(std::abs(got - expected) <= std::abs(expected) * S(1e-4));
  }
  Matrix<S> bad = plan;
  bad(2, 1) = -S(1);
  try {
    ot_target_loss(Z, P, bad, S(0.1));
    FAIL("a negative plan entry was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("ot_target_loss") != std::string::npos);
  }
}

TEMPLATE_TEST_CASE("the scaling form never returns a non-finite plan", "[hostile][sinkhorn]", float, double) {
  using S = TestType;
  const S reach = std::is_same_v<S, float> ? S(100) : S(800);  // -C / epsilon past log(max)
  const Matrix<S> C = -reach * uniform_matrix<S>(6, 5, 26);
  const Vector<S> a = uniform_weights<S>(6), b = uniform_weights<S>(5);
  auto o = sinkhorn_options(S(1), false);
  const auto finite_or_domain_error = [&](const SinkhornOptions<S>& options) {
    try {
      const SinkhornResult<S> r = sinkhorn(C, a, b, options);
      CHECK(all_finite(r.plan));
      CHECK(std::isfinite(r.transport_cost));
    } catch (const std::domain_error&) {
      CHECK_FALSE(options.log_domain);  // only the scaling form may find no finite iterate
    }
  };
  finite_or_domain_error(o);
  CHECK_THROWS_AS(sinkhorn(C, a, b, o), std::domain_error);
  o.log_domain_fallback = true;  // continues in the log form: finite
  CHECK(all_finite(sinkhorn(C, a, b, o).plan));
  // A warm start beyond the potentials' resolution (epsilon / u) is rejected in both forms.
  for (const bool log_domain : {true, false}) {
    o.log_domain = log_domain;
    o.g_init = Vector<S>::Constant(5, std::numeric_limits<S>::max() / S(1e2));
    CHECK_THROWS_AS(sinkhorn(C, a, b, o), std::invalid_argument);
    o.g_init(0) = S(0.5);
    o.g_init.tail(4).setConstant(S(4) / std::numeric_limits<S>::epsilon());
    CHECK_THROWS_AS(sinkhorn(C, a, b, o), std::invalid_argument);
  }
}

// ---- property sweep: every entry point against every family of hostile inputs ----------------
// Each call either throws one of the library's error types or returns only finite numbers and
// valid indices; anything else (another exception type, a crash under the sanitizers, NaN/Inf
// in a result, an index out of range) fails.

#include "protoot/domain_adaptation.hpp"
#include "protoot/sinkhorn_batch.hpp"

namespace {

template <class S>
std::vector<std::pair<std::string, Matrix<S>>> hostile_matrices(Index rows, Index cols) {
  const S huge = std::numeric_limits<S>::max() / S(4), tiny = std::numeric_limits<S>::denorm_min();
  Matrix<S> base = uniform_matrix<S>(rows, cols, 7).array() + S(0.1);
  std::vector<std::pair<std::string, Matrix<S>>> inputs = {{"ordinary", base}};
  Matrix<S> x = base;
  x(0, 0) = std::numeric_limits<S>::quiet_NaN();
  inputs.push_back({"NaN", x});
  x = base;
  x(rows - 1, cols - 1) = std::numeric_limits<S>::infinity();
  inputs.push_back({"Inf", x});
  inputs.push_back({"huge", Matrix<S>(base * huge)});
  inputs.push_back({"denormal", Matrix<S>(Matrix<S>::Constant(rows, cols, tiny))});
  inputs.push_back({"zero row", Matrix<S>(base)});
  inputs.back().second.row(1).setZero();
  inputs.push_back({"empty", Matrix<S>(0, cols)});
  inputs.push_back({"1x1", Matrix<S>::Constant(1, 1, S(1))});
  inputs.push_back({"wrong width", Matrix<S>(base.leftCols(cols - 1))});
  return inputs;
}

template <class M>
bool finite_result(const M& m) {
  return m.allFinite();
}

/// Runs `call`; the result (a matrix, vector or scalar, via `finite`) must be finite if it returns.
template <class Call, class Check>
void expect_contract(const std::string& what, Call&& call, Check&& finite) {
  INFO(what);
  try {
    const auto result = call();
    CHECK(finite(result));
  } catch (const std::invalid_argument&) {
  } catch (const std::domain_error&) {
  } catch (const std::runtime_error&) {
  } catch (const std::exception& e) {
    FAIL("wrong error type: " << e.what());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("property sweep: hostile matrices through every entry point", "[hostile][sweep]", float, double) {
  using S = TestType;
  const Index rows = 12, cols = 4, k = 3;
  const Matrix<S> ok = uniform_matrix<S>(rows, cols, 3).array() + S(0.1);
  const Matrix<S> prototypes = ok.topRows(k);
  const Vector<S> weights = Vector<S>::Constant(k, S(1) / S(k));
  const auto finite_matrix = [](const auto& m) { return finite_result(m); };
  const auto finite_scalar = [](const auto& v) { return std::isfinite(double(v)); };
  for (const auto& [name, x] : hostile_matrices<S>(rows, cols)) {
    const std::string tag = name + " (" + std::to_string(x.rows()) + " x " + std::to_string(x.cols()) + ")";
    expect_contract("l2_normalise_rows " + tag, [&] { return l2_normalise_rows(x); }, finite_matrix);
    expect_contract("cosine_topk " + tag, [&] { return cosine_topk(x, ok, 2).scores; }, finite_matrix);
    expect_contract("cosine_topk gallery " + tag, [&] {
      const TopK<S> t = cosine_topk(ok, x, 2);
      CHECK((t.indices.array() >= 0 && t.indices.array() < x.rows()).all());
      return t.scores;
    }, finite_matrix);
    expect_contract("cosine_neighbours " + tag, [&] {
      const IndexMatrix nn = cosine_neighbours(x, ok, 2);
      return Matrix<S>(nn.template cast<S>());
    }, finite_matrix);
    expect_contract("neighbour_contrast " + tag, [&] { return neighbour_contrast(x, ok, 1, S(0.2)); }, finite_scalar);
    expect_contract("info_nce " + tag, [&] { return info_nce(x, x, ok, S(0.2)); }, finite_scalar);
    expect_contract("prototype_contrast " + tag, [&] {
      return prototype_contrast(x, prototypes, IndexVector::Zero(x.rows()), S(0.2));
    }, finite_scalar);
    expect_contract("prototype_contrast_soft " + tag, [&] {
      return prototype_contrast_soft(x, prototypes, Matrix<S>::Constant(x.rows(), k, S(1) / S(k)), S(0.2));
    }, finite_scalar);
    expect_contract("prototype_cost " + tag, [&] { return prototype_cost(x, prototypes); }, finite_matrix);
    expect_contract("prototype_sinkhorn " + tag, [&] {
      return prototype_sinkhorn_released(x, prototypes, weights).plan;
    }, finite_matrix);
    expect_contract("kmeans " + tag, [&] { return kmeans(x, k).centroids; }, finite_matrix);
    KMeansOptions<S> spherical;
    spherical.spherical = true;
    expect_contract("spherical kmeans " + tag, [&] { return kmeans(x, k, spherical).centroids; }, finite_matrix);
    expect_contract("coral " + tag, [&] { return apply_affine(coral(x, ok), x); }, finite_matrix);
    expect_contract("coral target " + tag, [&] { return apply_affine(coral(ok, x), ok); }, finite_matrix);
    SinkhornTransportOptions<S> transport;
    transport.sinkhorn.epsilon = S(0.1);
    expect_contract("sinkhorn_transport " + tag, [&] { return sinkhorn_transport(x, ok, transport).source_mapped; },
                    finite_matrix);
    expect_contract("assign_to_nearest_prototype " + tag, [&] {
      return Matrix<S>(assign_to_nearest_prototype(x, prototypes).template cast<S>());
    }, finite_matrix);
    expect_contract("plan_weighted_prototypes " + tag, [&] {
      return plan_weighted_prototypes(Matrix<S>::Constant(x.rows(), k, S(1)), x, prototypes);
    }, finite_matrix);
    SinkhornOptions<S> o;
    o.epsilon = S(0.1);
    expect_contract("sinkhorn (cost) " + tag, [&] {
      return sinkhorn(x, Vector<S>::Constant(x.rows(), S(1) / S(std::max<Index>(x.rows(), 1))),
                      Vector<S>::Constant(x.cols(), S(1) / S(x.cols())), o).plan;
    }, finite_matrix);
    expect_contract("sinkhorn_batch " + tag, [&] {
      const std::vector<Matrix<S>> costs = {x, x};
      const std::vector<Vector<S>> as = {Vector<S>::Constant(x.rows(), S(1) / S(std::max<Index>(x.rows(), 1)))};
      const std::vector<Vector<S>> bs = {Vector<S>::Constant(x.cols(), S(1) / S(x.cols()))};
      const auto results = sinkhorn_batch(costs, as, bs, o);
      return results.at(1).plan;
    }, finite_matrix);
  }
}
