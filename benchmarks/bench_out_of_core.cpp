// Top-k and K-means over a memory-mapped .npy larger than a memory budget (out_of_core.hpp),
// against the same calls on the data loaded in memory: issue 12's "beyond one memory size".
//
// PROTOOT_BENCH_INPUT=<file.npy> (float32, n x d) is required; compare.py --out-of-core writes a
// 4 GiB one. Run one benchmark per process (--benchmark_filter), so that the counter peak_rss_MB
// (ru_maxrss) is that benchmark's own:
//   BM_OutOfCoreTopK/mapped, BM_OutOfCoreTopK/memory: cosine top-k of the first
//     PROTOOT_BENCH_QUERIES (256) rows against all n rows, k = PROTOOT_BENCH_K (100);
//   BM_OutOfCoreKMeans/mapped, BM_OutOfCoreKMeans/memory: PROTOOT_BENCH_ITERATIONS (3) Lloyd
//     iterations, k = PROTOOT_BENCH_CLUSTERS (100), random init, seed 0.
// The mapped runs hold at most PROTOOT_BENCH_BUDGET_MB (1024) MB of the file (top-k windows;
// K-means keeps a few row blocks). "memory" copies the file into a Matrix first (untimed).
// Counters: GB/s of the file read per call, peak_rss_MB, and `check` (sum of the top-k indices,
// or the inertia), which must agree between the two modes.
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "protoot/io/mapped_npy.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/out_of_core.hpp"
#include "protoot/retrieval.hpp"
#include "bench_inputs.hpp"

namespace {

using protoot::Index;
using protoot::bench::env_index;

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

/// The whole file in memory, copied a window at a time so that the mapping never holds it all.
protoot::Matrix<float> load(const protoot::io::MappedNpy<float>& file) {
  protoot::Matrix<float> x(file.rows(), file.cols());
  for (Index first = 0; first < file.rows(); first += 65536) {
    const Index rows = std::min<Index>(65536, file.rows() - first);
    x.middleRows(first, rows) = file.matrix().middleRows(first, rows);
    file.release(first, rows);
  }
  return x;
}

void report(benchmark::State& state, const protoot::io::MappedNpy<float>& file, double passes, double check) {
  const double bytes = double(file.rows()) * double(file.cols()) * sizeof(float);
  state.counters["GB/s"] = benchmark::Counter(passes * bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_rss_MB"] = peak_rss_mb();
  state.counters["check"] = check;
}

void out_of_core_topk(benchmark::State& state, const std::string& path) {
  const protoot::io::MappedNpy<float> file(path);
  const bool mapped = state.range(0) == 1;
  const protoot::Matrix<float> queries = file.matrix().topRows(std::min<Index>(env_index("PROTOOT_BENCH_QUERIES", 256), file.rows()));
  file.release(0, queries.rows());
  const protoot::Matrix<float> in_memory = mapped ? protoot::Matrix<float>() : load(file);
  const Index k = env_index("PROTOOT_BENCH_K", 100);
  const protoot::StreamOptions stream{std::size_t(env_index("PROTOOT_BENCH_BUDGET_MB", 1024)) << 20};
  const protoot::SearchBlocks blocks{64, 1024};  // several query blocks, so that every thread has work
  double check = 0;
  for (auto _ : state) {
    const auto top = mapped ? protoot::cosine_topk(queries, file, k, stream, blocks)
                            : protoot::cosine_topk(queries, in_memory, k, blocks);
    check = double(top.indices.sum());
  }
  report(state, file, 1.0, check);
}

void out_of_core_kmeans(benchmark::State& state, const std::string& path) {
  const protoot::io::MappedNpy<float> file(path);
  const bool mapped = state.range(0) == 1;
  const protoot::Matrix<float> in_memory = mapped ? protoot::Matrix<float>() : load(file);
  protoot::KMeansOptions<float> options;
  options.init = protoot::KMeansInit::random;
  options.max_iterations = int(env_index("PROTOOT_BENCH_ITERATIONS", 3));
  options.tolerance = 0;
  const Index k = env_index("PROTOOT_BENCH_CLUSTERS", 100);
  double check = 0;
  for (auto _ : state) {
    const auto result = mapped ? protoot::kmeans(file, k, options) : protoot::kmeans(in_memory, k, options);
    check = double(result.inertia);
  }
  // The Lloyd passes over X, one per iteration and the final labelling, counted alike in both
  // modes (the checks before them read X once more in either).
  report(state, file, double(options.max_iterations + 1), check);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* input = std::getenv("PROTOOT_BENCH_INPUT");
  if (!input) {
    std::fprintf(stderr, "bench_out_of_core: set PROTOOT_BENCH_INPUT to a float32 .npy file (compare.py --out-of-core)\n");
    return 1;
  }
  const std::string path = input;
  for (const char* name : {"BM_OutOfCoreTopK", "BM_OutOfCoreKMeans"}) {
    const bool topk = std::string(name) == "BM_OutOfCoreTopK";
    benchmark::RegisterBenchmark(name, [path, topk](benchmark::State& state) {
      topk ? out_of_core_topk(state, path) : out_of_core_kmeans(state, path);
    })->ArgName("mapped")->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
