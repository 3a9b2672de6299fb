// K-means on the ProtoOT-scale workload: n = 100000, d = 128, k = 100, 20 Lloyd iterations,
// float32, one init — the figure compared against faiss and scikit-learn in docs/benchmarks.md.
//
// Data: PROTOOT_BENCH_INPUT=<dir> reads <dir>/X.bin (raw row-major float32 or float64, told
// apart by the file size) with shape PROTOOT_BENCH_N x PROTOOT_BENCH_D, so peers can time the
// very same points (benchmarks/peer_kmeans.py writes such a directory); otherwise a fixed-seed
// Gaussian mixture is generated. PROTOOT_BENCH_K overrides k.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "protoot/kmeans.hpp"
#include "bench_inputs.hpp"

namespace {

using protoot::Index;
using protoot::bench::env_index;
using Points = protoot::Matrix<float>;

Points load_points() {
  const Index n = env_index("PROTOOT_BENCH_N", 100000), d = env_index("PROTOOT_BENCH_D", 128);
  if (const char* dir = std::getenv("PROTOOT_BENCH_INPUT")) {
    const std::string path = std::string(dir) + "/X.bin";
    if (protoot::bench::file_bytes(path) == n * d * Index(sizeof(double)))
      return protoot::bench::read_matrix<double>(path, n, d).cast<float>();
    return protoot::bench::read_matrix<float>(path, n, d);  // throws when the size fits neither
  }
  // 100 overlapping Gaussian blobs: Lloyd keeps moving for all 20 iterations.
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.f, 1.f);
  Points centres(100, d), X(n, d);
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] = normal(rng);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) X(i, j) = centres(i % 100, j) + 2.f * normal(rng);
  return X;
}

const Points& points() {
  static const Points X = load_points();
  return X;
}

void run(benchmark::State& state, protoot::KMeansInit init, Index points_per_centroid = 0) {
  const Points& X = points();
  protoot::KMeansOptions<float> options;
  options.max_iterations = 20;
  options.tolerance = 0;
  options.init = init;
  options.max_points_per_centroid = points_per_centroid;
  // <dir>/C0.bin (k x d, same element type as X.bin): the initial centroids every peer starts from too
  const char* dir = std::getenv("PROTOOT_BENCH_INPUT");
  const Index k = env_index("PROTOOT_BENCH_K", 100);
  if (dir && std::ifstream(std::string(dir) + "/C0.bin").good())
    options.initial_centroids = protoot::bench::read_matrix<float>(std::string(dir) + "/C0.bin", k, X.cols());
  int iterations = 0;
  for (auto _ : state) {
    const auto result = protoot::kmeans(X, k, options);
    benchmark::DoNotOptimize(result.inertia);
    iterations = result.iterations;
    state.counters["inertia"] = result.inertia;
  }
  state.counters["lloyd_iterations"] = iterations;
}

void BM_KMeansRandomInit(benchmark::State& state) { run(state, protoot::KMeansInit::random); }
void BM_KMeansPlusPlus(benchmark::State& state) { run(state, protoot::KMeansInit::kmeans_plus_plus); }
// faiss's default: train on 256 points per centroid, then label all points.
void BM_KMeansSampled(benchmark::State& state) { run(state, protoot::KMeansInit::random, 256); }

}  // namespace

BENCHMARK(BM_KMeansRandomInit)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_KMeansPlusPlus)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_KMeansSampled)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_MAIN();
