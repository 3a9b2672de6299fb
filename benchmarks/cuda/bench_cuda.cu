// GPU timings of the CUDA backend (run on a GPU machine; see docs/cuda.md):
//  - Sinkhorn, stored cost, log and scaling forms: time per iteration and the achieved bandwidth
//    (two passes over the n x m cost per iteration) against the device's HBM peak;
//  - Sinkhorn with the cost recomputed from point clouds (d = 64);
//  - 1000 problems of 64 x 64 in one batched launch;
//  - K-means, n = 100000, d = 128, k = 100, 20 Lloyd iterations (warm start: no host seeding);
//  - cosine top-k, 50000 x 50000, d = 128, k = 100 (the retrieval issue's workload).
// Wall-clock times of whole calls (each ends with a device-to-host copy, so the device is idle
// when the clock stops), after a warm-up call that pays context and cuBLAS start-up.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>

#include "protoot/cuda/kmeans.cuh"
#include "protoot/cuda/sinkhorn_batch.cuh"
#include "protoot/cuda/topk.cuh"

using namespace protoot;

namespace {

Matrix<float> uniform(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Matrix<float> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

double peak_bandwidth() {  // bytes/s: 2 transfers per memory clock (HBM/DDR) x bus width
  int device = 0, clock_khz = 0, bus_bits = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device);
  return 2.0 * clock_khz * 1e3 * bus_bits / 8.0;
}

constexpr int sinkhorn_iterations = 100;

SinkhornOptions<float> fixed_iterations(float eps) {
  SinkhornOptions<float> options;
  options.epsilon = eps;
  options.max_iterations = sinkhorn_iterations;
  options.tolerance = 0;  // never converges early: exactly 100 iterations
  options.check_every = sinkhorn_iterations;
  return options;
}

void sinkhorn_stored(benchmark::State& state) {
  const Index n = state.range(0);
  const bool log_domain = state.range(1) != 0;
  const cuda::DeviceMatrix<float> C(uniform(n, n, 1));
  const Vector<float> a = Vector<float>::Constant(n, 1.0f / n);
  SinkhornOptions<float> options = fixed_iterations(0.05f);
  options.log_domain = log_domain;
  sinkhorn(C, a, a, options, cuda::PlanOutput::none);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(sinkhorn(C, a, a, options, cuda::PlanOutput::none));
  const double bytes_per_iteration = 2.0 * double(n) * double(n) * sizeof(float);
  state.counters["s_per_iteration"] =
      benchmark::Counter(double(state.iterations()) * sinkhorn_iterations, benchmark::Counter::kIsRate |
                                                                             benchmark::Counter::kInvert);
  state.counters["bandwidth_GBps"] = benchmark::Counter(
      double(state.iterations()) * sinkhorn_iterations * bytes_per_iteration / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_GBps"] = peak_bandwidth() / 1e9;
}
BENCHMARK(sinkhorn_stored)->ArgsProduct({{4096, 8192, 16384}, {1, 0}})->Unit(benchmark::kMillisecond)->UseRealTime();

void sinkhorn_point_clouds(benchmark::State& state) {
  const Index n = state.range(0);
  const cuda::DeviceMatrix<float> x(uniform(n, 64, 2)), y(uniform(n, 64, 3));
  const Vector<float> a = Vector<float>::Constant(n, 1.0f / n);
  const cuda::PointClouds<float> clouds{x, y, cuda::PointCost::squared_euclidean};
  const SinkhornOptions<float> options = fixed_iterations(0.5f);
  sinkhorn(clouds, a, a, options, cuda::PlanOutput::none);
  for (auto _ : state) benchmark::DoNotOptimize(sinkhorn(clouds, a, a, options, cuda::PlanOutput::none));
  state.counters["s_per_iteration"] =
      benchmark::Counter(double(state.iterations()) * sinkhorn_iterations, benchmark::Counter::kIsRate |
                                                                             benchmark::Counter::kInvert);
}
BENCHMARK(sinkhorn_point_clouds)->Arg(8192)->Arg(32768)->Unit(benchmark::kMillisecond)->UseRealTime();

void sinkhorn_batched(benchmark::State& state) {
  const Index problems = 1000, n = 64;
  const cuda::DeviceMatrix<float> costs(uniform(problems * n, n, 4));
  const std::vector<Vector<float>> marginals(problems, Vector<float>::Constant(n, 1.0f / n));
  const SinkhornOptions<float> options = fixed_iterations(0.05f);
  sinkhorn_batch(cuda::StackedCosts<float>{costs, problems}, marginals, marginals, options);
  for (auto _ : state)
    benchmark::DoNotOptimize(sinkhorn_batch(cuda::StackedCosts<float>{costs, problems}, marginals, marginals, options));
}
BENCHMARK(sinkhorn_batched)->Unit(benchmark::kMillisecond)->UseRealTime();

void kmeans_lloyd(benchmark::State& state) {
  const Index n = 100000, d = 128, k = 100;
  const Matrix<float> host = uniform(n, d, 5);
  const cuda::DeviceMatrix<float> X(host);
  KMeansOptions<float> options;
  options.initial_centroids = host.topRows(k);
  options.max_iterations = 20;
  options.tolerance = 0;
  kmeans(X, k, options);
  for (auto _ : state) benchmark::DoNotOptimize(kmeans(X, k, options));
}
BENCHMARK(kmeans_lloyd)->Unit(benchmark::kMillisecond)->UseRealTime();

void topk_cosine(benchmark::State& state) {
  const Index n = 50000, d = 128, k = 100;
  const cuda::DeviceMatrix<float> queries(uniform(n, d, 6)), gallery(uniform(n, d, 7));
  cosine_topk(queries, gallery, k);
  for (auto _ : state) benchmark::DoNotOptimize(cosine_topk(queries, gallery, k));
  state.counters["queries_per_s"] = benchmark::Counter(double(state.iterations()) * n, benchmark::Counter::kIsRate);
}
BENCHMARK(topk_cosine)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (!cuda::device_available()) {
    std::printf("SKIPPED: no CUDA device (bench_cuda needs a GPU)\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
