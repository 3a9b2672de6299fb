// benchmarks/bench_bandwidth.cpp — the physical limits benchmarks/compare.py puts beside every
// row: streaming bandwidth (Sinkhorn scaling form), exp throughput (log form) and sgemm peak
// (top-k, K-means, the losses), each over all threads of OMP_NUM_THREADS.
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
// BM_Exp: float64 exponentials per second (items/s) with the log form's own fast_exp over a
// cache-resident buffer, so the exp units and not memory bound it. BM_Sgemm/n: float32 n^3 GEMM
// in protoot's row blocks (detail::parallel_product), FLOP/s in the "flops" counter.
#include <benchmark/benchmark.h>

#include <vector>

#include <Eigen/Core>

#include "protoot/detail/fast_exp.hpp"
#include "protoot/detail/openmp.hpp"

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

void BM_Exp(benchmark::State& state) {
  constexpr Eigen::Index per_thread = 4096, passes = 256;  // 32 KB: in L1/L2
  double total = 0;
  for (auto _ : state) {
#pragma omp parallel reduction(+ : total)
    {
      std::vector<double> x(per_thread);
      for (Eigen::Index j = 0; j < per_thread; ++j) x[std::size_t(j)] = -double(j) / per_thread;
      for (Eigen::Index pass = 0; pass < passes; ++pass) {
#pragma omp simd
        for (Eigen::Index j = 0; j < per_thread; ++j) x[std::size_t(j)] = protoot::detail::fast_exp(x[std::size_t(j)]) - 1.0;
      }
      total += x[0];
    }
  }
  benchmark::DoNotOptimize(total);
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  state.SetItemsProcessed(state.iterations() * per_thread * passes * threads);
}
BENCHMARK(BM_Exp)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Sgemm(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const protoot::Matrix<float> a = protoot::Matrix<float>::Random(n, n), b = protoot::Matrix<float>::Random(n, n);
  protoot::Matrix<float> c;
  for (auto _ : state) {
    protoot::detail::parallel_product(c, a, b);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["flops"] = benchmark::Counter(2.0 * double(n) * double(n) * double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Sgemm)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
