// Exact cosine top-k: n queries against m gallery rows, d = 128, k = 100, float32 — the
// figure compared against faiss IndexFlatIP in docs/benchmarks.md ("Top-k retrieval").
//
// Sizes: BM_CosineTopK/n/m/d/k runs 50000/50000/128/100 and smaller cases. Data:
// PROTOOT_BENCH_INPUT=<dir> reads <dir>/Q.bin and <dir>/G.bin (raw row-major float32, shape
// PROTOOT_BENCH_N x PROTOOT_BENCH_D and PROTOOT_BENCH_M x PROTOOT_BENCH_D; n and m default to
// the file sizes over d, d to 128) and runs one benchmark, k = PROTOOT_BENCH_K (default 100);
// otherwise seeded Gaussian rows are generated.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "protoot/retrieval.hpp"
#include "bench_inputs.hpp"

namespace {

using protoot::Index;
using protoot::bench::env_index;
using protoot::bench::gaussian_rows;
using Rows = protoot::Matrix<float>;

/// <dir>/<file> as float32 rows of width d; their count is `rows_variable` or the file size over d.
Rows read_rows(const std::string& path, const char* rows_variable, Index d) {
  const Index rows = env_index(rows_variable, protoot::bench::file_bytes(path) / (d * Index(sizeof(float))));
  return protoot::bench::read_matrix<float>(path, rows, d);
}

void run(benchmark::State& state, const Rows& queries, const Rows& gallery, Index k) {
  protoot::IndexMatrix indices;
  for (auto _ : state) {
    const auto top = protoot::cosine_topk(queries, gallery, k);
    benchmark::DoNotOptimize(top.scores.data());
    indices = top.indices;
  }
  // PROTOOT_BENCH_OUTPUT=<dir>: the first 100 queries' indices (int64) for compare.py's overlap check
  if (const char* out = std::getenv("PROTOOT_BENCH_OUTPUT")) {
    std::ofstream file(std::string(out) + "/topk_indices.bin", std::ios::binary);
    const Index rows = std::min<Index>(100, indices.rows());
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < indices.cols(); ++j) {
        const std::int64_t index = indices(i, j);
        file.write(reinterpret_cast<const char*>(&index), sizeof index);
      }
  }
  state.counters["similarities/s"] = benchmark::Counter(double(queries.rows()) * double(gallery.rows()),
                                                        benchmark::Counter::kIsIterationInvariantRate);
}

void register_case(const Rows& queries, const Rows& gallery, Index k) {
  const std::string name = "BM_CosineTopK/" + std::to_string(queries.rows()) + "/" + std::to_string(gallery.rows()) +
                           "/" + std::to_string(queries.cols()) + "/" + std::to_string(k);
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) { run(state, queries, gallery, k); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* dir = std::getenv("PROTOOT_BENCH_INPUT")) {
    const Index d = env_index("PROTOOT_BENCH_D", 128);
    register_case(read_rows(std::string(dir) + "/Q.bin", "PROTOOT_BENCH_N", d),
                  read_rows(std::string(dir) + "/G.bin", "PROTOOT_BENCH_M", d), env_index("PROTOOT_BENCH_K", 100));
  } else {
    for (const Index n : {50000, 10000, 2000}) register_case(gaussian_rows(n, 128, 1), gaussian_rows(n, 128, 2), 100);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
