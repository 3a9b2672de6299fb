// The ProtoOT target step at memory-bank scale: n samples (d = 128) onto K prototypes.
//   PrototypeSinkhornReleased   the released code's 3 scaling iterations (what it trains with)
//   PrototypeSinkhornConverged  the log-domain solve to a 1e-4 L1 marginal error (epsilon 0.05)
//   PrototypeTargetsWarm        a whole epoch step for two domains: warm-started spherical
//                               K-means on each plus the four OT problems
// Args: n, K. Features are a fixed-seed mixture of K unit directions with noise.
#include <benchmark/benchmark.h>

#include <random>

#include "protoot/prototype_targets.hpp"

namespace {

using protoot::Index;
using Features = protoot::Matrix<float>;

Features mixture(Index n, Index k, std::uint64_t seed) {
  const Index d = 128;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  Features centres(k, d), Z(n, d);
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] = normal(rng);
  centres.rowwise().normalize();
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) Z(i, j) = centres(i % k, j) + 0.2f * normal(rng);
    Z.row(i).normalize();
  }
  return Z;
}

struct Problem {
  Features Z;
  protoot::KMeansResult<float> clusters;
};

Problem problem(const benchmark::State& state) {
  Problem p{mixture(state.range(0), state.range(1), 1), {}};
  protoot::KMeansOptions<float> options;
  options.spherical = true;
  p.clusters = protoot::kmeans(p.Z, state.range(1), options);
  return p;
}

void BM_PrototypeSinkhornReleased(benchmark::State& state) {
  const Problem p = problem(state);
  for (auto _ : state)
    benchmark::DoNotOptimize(protoot::prototype_sinkhorn_released(p.Z, p.clusters.centroids, p.clusters.proportions));
}

void BM_PrototypeSinkhornConverged(benchmark::State& state) {
  const Problem p = problem(state);
  protoot::SinkhornOptions<float> options;
  options.epsilon = 0.05f;
  options.tolerance = 1e-4f;
  int iterations = 0;
  for (auto _ : state) {
    const auto result = protoot::prototype_sinkhorn(p.Z, p.clusters.centroids, p.clusters.proportions, options);
    iterations = result.iterations;
  }
  state.counters["sinkhorn_iterations"] = iterations;
}

void BM_PrototypeTargetsWarm(benchmark::State& state) {
  const Problem a = problem(state);
  const Features B = mixture(state.range(0), state.range(1), 2);
  protoot::PrototypeTargetsOptions<float> options;
  options.prototypes_a = a.clusters.centroids;
  options.prototypes_b = protoot::kmeans(B, state.range(1), options.kmeans).centroids;
  for (auto _ : state) benchmark::DoNotOptimize(protoot::prototype_targets(a.Z, B, options));
}

}  // namespace

BENCHMARK(BM_PrototypeSinkhornReleased)->Args({20000, 65})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrototypeSinkhornConverged)->Args({20000, 65})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrototypeTargetsWarm)->Args({20000, 65})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
