// Sinkhorn solves with a fixed iteration count (tolerance 0: no early stop), the workload of
// issue 2: n = m = 4096, float64, eps = 0.01 on a unit-scale cost, 100 iterations.
//
// Benchmarks (real time, whole solve incl. the plan; counter ms_per_iteration):
//   BM_Sinkhorn{Log,Scaling}<{double,float}>/n, BM_SinkhornUnbalanced{Log,Scaling}<double>/n
//   (rho_a = rho_b = PROTOOT_BENCH_RHO), BM_SinkhornBatch{Log,Scaling}<double>/count/n.
// Data: PROTOOT_BENCH_INPUT=<dir> reads raw row-major float64 <dir>/C.bin, a.bin, b.bin: one
// problem (n from a.bin's size, m from b.bin's; the benchmarks then run on that size only) or,
// with PROTOOT_BENCH_BATCH=<count>, count stacked problems of PROTOOT_BENCH_N x PROTOOT_BENCH_N.
// Otherwise fixed-seed problems: squared distances between random 2-D points scaled to [0, 1].
// PROTOOT_BENCH_ITERATIONS (100), PROTOOT_BENCH_EPSILON (0.01), PROTOOT_BENCH_RHO (1) override.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_batch.hpp"
#include "../tests/support/sinkhorn_problems.hpp"
#include "bench_inputs.hpp"

namespace {

using protoot::Index;
using protoot::bench::env_number;
using protoot::bench::read_vector;
template <class S>
using Matrix = protoot::Matrix<S>;
template <class S>
using Vector = protoot::Vector<S>;

using Problem = protoot::test::OtProblem;

/// The unit-scale cost: squared distances of random 2-D points, scaled to [0, 1].
Problem random_problem(Index n, unsigned seed) {
  Problem p = protoot::test::random_ot_problem(n, n, seed);
  p.C /= p.C.maxCoeff();
  return p;
}

/// The problems of PROTOOT_BENCH_INPUT: `count` stacked n_rows x n_cols problems.
std::vector<Problem> read_problems(const std::string& dir, Index count, Index n_rows, Index n_cols) {
  const Vector<double> C = read_vector<double>(dir + "/C.bin"), a = read_vector<double>(dir + "/a.bin"),
                       b = read_vector<double>(dir + "/b.bin");
  if (Index(C.size()) != count * n_rows * n_cols || Index(a.size()) != count * n_rows ||
      Index(b.size()) != count * n_cols)
    throw std::runtime_error("bench_sinkhorn: C.bin/a.bin/b.bin sizes do not match the problem shape");
  std::vector<Problem> problems(static_cast<std::size_t>(count));
  for (Index k = 0; k < count; ++k) {
    Problem& p = problems[std::size_t(k)];
    p.C = Eigen::Map<const Matrix<double>>(C.data() + k * n_rows * n_cols, n_rows, n_cols);
    p.a = Eigen::Map<const Vector<double>>(a.data() + k * n_rows, n_rows);
    p.b = Eigen::Map<const Vector<double>>(b.data() + k * n_cols, n_cols);
  }
  return problems;
}

template <class S>
protoot::SinkhornOptions<S> fixed_iterations(bool log_domain) {
  protoot::SinkhornOptions<S> options;
  options.epsilon = S(env_number("PROTOOT_BENCH_EPSILON", 0.01));
  options.max_iterations = int(env_number("PROTOOT_BENCH_ITERATIONS", 100));
  options.tolerance = S(0);
  options.log_domain = log_domain;
  return options;
}

/// One problem: rho = +inf for the balanced benchmarks.
template <class S>
void run_single(benchmark::State& state, const Problem& problem, bool log_domain, double rho) {
  const Matrix<S> C = problem.C.cast<S>();
  const Vector<S> a = problem.a.cast<S>(), b = problem.b.cast<S>();
  const auto options = fixed_iterations<S>(log_domain);
  for (auto _ : state) {
    auto result = protoot::sinkhorn_unbalanced(C, a, b, S(rho), S(rho), options);
    benchmark::DoNotOptimize(result.plan.data());
    state.counters["transport_cost"] = double(result.transport_cost);  // quality, for compare.py
    state.counters["marginal_error"] = double(result.marginal_error);
  }
  state.counters["ms_per_iteration"] = benchmark::Counter(
      options.max_iterations / 1e3, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void run_batch(benchmark::State& state, const std::vector<Problem>& problems, bool log_domain) {
  std::vector<Matrix<double>> costs;
  std::vector<Vector<double>> as, bs;
  for (const Problem& p : problems) {
    costs.push_back(p.C);
    as.push_back(p.a);
    bs.push_back(p.b);
  }
  const auto options = fixed_iterations<double>(log_domain);
  for (auto _ : state) {
    auto results = protoot::sinkhorn_batch(costs, as, bs, options);
    benchmark::DoNotOptimize(results.data());
  }
}

void register_all() {
  const double inf = std::numeric_limits<double>::infinity(), rho = env_number("PROTOOT_BENCH_RHO", 1.0);
  const char* input = std::getenv("PROTOOT_BENCH_INPUT");
  static std::vector<Problem> singles, batch;  // registered lambdas refer to these
  const Index batch_count = Index(env_number("PROTOOT_BENCH_BATCH", input ? 0 : 1000));
  const Index batch_n = Index(env_number("PROTOOT_BENCH_N", 64));
  if (input && batch_count == 0) {
    const Index n = Index(read_vector<double>(std::string(input) + "/a.bin").size());
    const Index m = Index(read_vector<double>(std::string(input) + "/b.bin").size());
    singles = read_problems(input, 1, n, m);
  } else if (input) {
    batch = read_problems(input, batch_count, batch_n, batch_n);
  } else {
    for (Index n : {256, 1024, 4096}) singles.push_back(random_problem(n, unsigned(n)));
    for (Index k = 0; k < batch_count; ++k) batch.push_back(random_problem(batch_n, unsigned(k)));
  }
  auto add = [](const std::string& name, auto&& body) {
    benchmark::RegisterBenchmark(name.c_str(), body)->Unit(benchmark::kMillisecond)->UseRealTime();
  };
  for (const Problem& p : singles) {
    const std::string n = "/" + std::to_string(p.C.rows());
    add("BM_SinkhornLog<double>" + n, [&p, inf](benchmark::State& s) { run_single<double>(s, p, true, inf); });
    add("BM_SinkhornScaling<double>" + n, [&p, inf](benchmark::State& s) { run_single<double>(s, p, false, inf); });
    add("BM_SinkhornLog<float>" + n, [&p, inf](benchmark::State& s) { run_single<float>(s, p, true, inf); });
    add("BM_SinkhornScaling<float>" + n, [&p, inf](benchmark::State& s) { run_single<float>(s, p, false, inf); });
    add("BM_SinkhornUnbalancedLog<double>" + n, [&p, rho](benchmark::State& s) { run_single<double>(s, p, true, rho); });
    add("BM_SinkhornUnbalancedScaling<double>" + n,
        [&p, rho](benchmark::State& s) { run_single<double>(s, p, false, rho); });
  }
  if (!batch.empty()) {
    const std::string shape = "/" + std::to_string(batch.size()) + "/" + std::to_string(batch.front().C.rows());
    add("BM_SinkhornBatchLog<double>" + shape, [](benchmark::State& s) { run_batch(s, batch, true); });
    add("BM_SinkhornBatchScaling<double>" + shape, [](benchmark::State& s) { run_batch(s, batch, false); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
