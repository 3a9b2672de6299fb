// benchmarks/bench_bandwidth.cpp — the memory-bandwidth bound of a Sinkhorn iteration.
//
// A Sinkhorn iteration on an n x n float64 problem cannot be faster than reading its n*n*8
// bytes of cost (log form) or kernel (scaling form) from memory: the fused scaling iteration
// reads them once, the log form twice (a row and a column log-sum-exp). This benchmark streams
// exactly those bytes with a vectorised sum over all cores, as the solvers' OpenMP loops do, so
// benchmarks/compare.py can state how close each solver gets to the limit of this machine.
//
//   bench_bandwidth --benchmark_filter='BM_StreamRead/4096$'
//
// Reports bytes_per_second (Google Benchmark's "bytes/s" counter) and the time of one pass.
#include <benchmark/benchmark.h>

#include <vector>

#include <Eigen/Core>

namespace {

/// One read of every entry of a row-major n x n float64 matrix, blocked by rows over threads.
double stream_sum(const std::vector<double>& data, Eigen::Index n) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (Eigen::Index row = 0; row < n; ++row)
    total += Eigen::Map<const Eigen::ArrayXd>(data.data() + row * n, n).sum();
  return total;
}

void BM_StreamRead(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  std::vector<double> data(static_cast<std::size_t>(n * n));
  // First touch from the same static schedule, so each thread's rows sit in its local memory.
#pragma omp parallel for schedule(static)
  for (Eigen::Index row = 0; row < n; ++row)
    for (Eigen::Index col = 0; col < n; ++col) data[static_cast<std::size_t>(row * n + col)] = 1.0 / double(1 + col);
  for (auto _ : state) benchmark::DoNotOptimize(stream_sum(data, n));
  state.SetBytesProcessed(state.iterations() * n * n * static_cast<int64_t>(sizeof(double)));
}
// n = 64 .. 16384: the Sinkhorn scaling sweep (small sizes for compare.py --quick); 4096 is the headline workload (134 MB).
BENCHMARK(BM_StreamRead)->RangeMultiplier(2)->Range(64, 16384)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
