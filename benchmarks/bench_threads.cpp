// Every parallel kernel over a sweep of sizes, from tiny to the comparison workloads, for the
// thread sweep of benchmarks/compare.py (--thread-sweep): it runs this executable at
// OMP_NUM_THREADS=1 and 2 and flags every size where 2 threads are slower than 1. The sizes
// straddle the thresholds below which a kernel stays on one thread (detail::threads_for).
//
// BM_InfoNce/n/m (d = 128, forward + backward), BM_PrototypeContrast/n/K (d = 128, forward +
// backward), BM_KMeans/n/d/k (random init, 20 Lloyd iterations), BM_CosineTopK/n (n x n, d = 128,
// k = 100 or n), BM_Sinkhorn{Log,Scaling}/n (float64, 20 iterations), BM_SinkhornBatch/count (64 x 64).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "protoot/contrastive.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_batch.hpp"
#include "../tests/support/sinkhorn_problems.hpp"
#include "bench_inputs.hpp"

namespace {

using protoot::Index;
using Rows = protoot::Matrix<float>;
using protoot::bench::gaussian_rows;

void BM_InfoNce(benchmark::State& state) {
  const Index n = state.range(0), m = state.range(1);
  const Rows q = protoot::l2_normalise_rows(gaussian_rows(n, 128, 1)), k = protoot::l2_normalise_rows(gaussian_rows(n, 128, 2)),
             bank = protoot::l2_normalise_rows(gaussian_rows(m, 128, 3));
  protoot::InfoNceGradients<float> g;
  for (auto _ : state) benchmark::DoNotOptimize(protoot::info_nce(q, k, bank, 0.2f, nullptr, &g));
}

void BM_PrototypeContrast(benchmark::State& state) {
  const Index n = state.range(0), K = state.range(1);
  const Rows z = protoot::l2_normalise_rows(gaussian_rows(n, 128, 1)), c = protoot::l2_normalise_rows(gaussian_rows(K, 128, 2));
  const protoot::IndexVector match = protoot::IndexVector::LinSpaced(n, 0, n - 1).unaryExpr([K](Index i) { return i % K; });
  protoot::PrototypeGradients<float> g;
  for (auto _ : state) benchmark::DoNotOptimize(protoot::prototype_contrast(z, c, match, 0.2f, &g));
}

void BM_KMeans(benchmark::State& state) {
  const Rows X = gaussian_rows(state.range(0), state.range(1), 1);
  protoot::KMeansOptions<float> options;
  options.max_iterations = 20;
  options.tolerance = 0;
  options.init = protoot::KMeansInit::random;
  for (auto _ : state) benchmark::DoNotOptimize(protoot::kmeans(X, state.range(2), options).inertia);
}

void BM_CosineTopK(benchmark::State& state) {
  const Index n = state.range(0);
  const Rows q = gaussian_rows(n, 128, 1), g = gaussian_rows(n, 128, 2);
  for (auto _ : state) benchmark::DoNotOptimize(protoot::cosine_topk(q, g, std::min<Index>(100, n)).scores.data());
}

void sinkhorn(benchmark::State& state, bool log_domain) {
  protoot::test::OtProblem p = protoot::test::random_ot_problem(state.range(0), state.range(0), 1);
  p.C /= p.C.maxCoeff();
  protoot::SinkhornOptions<double> options;
  options.epsilon = 0.01;
  options.max_iterations = 20;
  options.tolerance = 0;
  options.log_domain = log_domain;
  for (auto _ : state) benchmark::DoNotOptimize(protoot::sinkhorn(p.C, p.a, p.b, options).plan.data());
}
void BM_SinkhornLog(benchmark::State& state) { sinkhorn(state, true); }
void BM_SinkhornScaling(benchmark::State& state) { sinkhorn(state, false); }

void BM_SinkhornBatch(benchmark::State& state) {
  std::vector<protoot::Matrix<double>> costs;
  std::vector<protoot::Vector<double>> as, bs;
  for (Index k = 0; k < state.range(0); ++k) {
    protoot::test::OtProblem p = protoot::test::random_ot_problem(64, 64, unsigned(k));
    costs.push_back(p.C / p.C.maxCoeff());
    as.push_back(p.a);
    bs.push_back(p.b);
  }
  protoot::SinkhornOptions<double> options;
  options.epsilon = 0.01;
  options.max_iterations = 20;
  options.tolerance = 0;
  for (auto _ : state) benchmark::DoNotOptimize(protoot::sinkhorn_batch(costs, as, bs, options).data());
}

}  // namespace

BENCHMARK(BM_InfoNce)->Args({32, 256})->Args({256, 1024})->Args({256, 4096})->Args({1024, 8192})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrototypeContrast)->Args({64, 16})->Args({256, 64})->Args({4096, 256})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KMeans)->Args({1000, 32, 8})->Args({10000, 32, 8})->Args({20000, 64, 32})->Args({100000, 128, 100})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CosineTopK)->Arg(500)->Arg(2000)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SinkhornLog)->Arg(128)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SinkhornScaling)->Arg(128)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SinkhornBatch)->Arg(16)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
