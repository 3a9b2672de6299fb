// The contrastive kernels at ProtoOT training scale: batch n = 256 queries, d = 128, K = 64
// prototypes, a memory bank / key queue of m = 4096, tau = 0.2, float32. Each kernel is timed
// forward only and forward + backward (all gradients the kernel offers).
// PROTOOT_BENCH_INPUT=<dir> reads the features from <dir>/{q,k,bank,c}.bin (raw row-major float32
// of these shapes), so benchmarks/compare.py's peers compute the very same losses.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>

#include "protoot/contrastive.hpp"
#include "bench_inputs.hpp"

namespace {

using protoot::Index;
using Features = protoot::Matrix<float>;

constexpr Index kBatch = 256, kDim = 128, kPrototypes = 64, kBank = 4096, kNeighbours = 5;
constexpr float kTau = 0.2f;

Features unit_gaussian(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Features x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  return protoot::l2_normalise_rows(x);
}

/// Features of PROTOOT_BENCH_INPUT's <name>.bin when given, else unit Gaussian rows of this seed.
Features features(const char* name, Index rows, unsigned seed) {
  if (const char* dir = std::getenv("PROTOOT_BENCH_INPUT"))
    return protoot::bench::read_matrix<float>(std::string(dir) + "/" + name + ".bin", rows, kDim);
  return unit_gaussian(rows, kDim, seed);
}

/// The shared inputs: queries, their positive keys, a bank, prototypes, matches, soft targets.
struct Inputs {
  Features q = features("q", kBatch, 1), k = features("k", kBatch, 2), bank = features("bank", kBank, 3),
           c = features("c", kPrototypes, 4), raw = unit_gaussian(kBatch, kDim, 5) * 3.0f;
  protoot::IndexVector match = protoot::IndexVector::LinSpaced(kBatch, 0, kBatch - 1).unaryExpr([](Index i) {
    return i % kPrototypes;
  });
  Features targets = [this] {
    Features w = (q * c.transpose() / 0.05f).array().exp();  // a plan-like soft assignment
    return Features((w.array().colwise() / w.rowwise().sum().array()).matrix());
  }();
};

const Inputs& inputs() {
  static const Inputs in;
  return in;
}

/// Items processed, and the last loss value (compare.py checks a peer's loss against it).
void set_counters(benchmark::State& state, double loss = 0) {
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["loss"] = loss;
}

void BM_l2_normalise(benchmark::State& state) {
  const Inputs& in = inputs();
  const Features grad_y = in.k;
  for (auto _ : state) {
    protoot::Vector<float> norms;
    Features y = protoot::l2_normalise_rows(in.raw, &norms);
    if (state.range(0)) {
      Features dx = protoot::l2_normalise_rows_backward(y, norms, grad_y);
      benchmark::DoNotOptimize(dx.data());
    }
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state);
}

void BM_info_nce_bank(benchmark::State& state) {  // MoCo form: one positive key, the bank as negatives
  const Inputs& in = inputs();
  protoot::InfoNceGradients<float> g;
  float loss = 0;
  for (auto _ : state) {
    loss = protoot::info_nce(in.q, in.k, in.bank, kTau, nullptr, state.range(0) ? &g : nullptr);
    benchmark::DoNotOptimize(loss);
  }
  set_counters(state, loss);
}

void BM_info_nce_two_views(benchmark::State& state) {  // in-batch negatives
  const Inputs& in = inputs();
  protoot::TwoViewGradients<float> g;
  const bool backward = state.range(0) != 0;
  float loss = 0;
  for (auto _ : state) {
    loss = protoot::info_nce_two_views(in.q, in.k, kTau, backward ? &g : nullptr);
    benchmark::DoNotOptimize(loss);
  }
  set_counters(state, loss);
}

void BM_prototype_contrast(benchmark::State& state) {  // hard match, unmatched prototypes as negatives
  const Inputs& in = inputs();
  protoot::PrototypeGradients<float> g;
  float loss = 0;
  for (auto _ : state) {
    loss = protoot::prototype_contrast(in.q, in.c, in.match, kTau, state.range(0) ? &g : nullptr);
    benchmark::DoNotOptimize(loss);
  }
  set_counters(state, loss);
}

void BM_ot_target_loss(benchmark::State& state) {  // soft targets from a plan
  const Inputs& in = inputs();
  protoot::PrototypeGradients<float> g;
  float loss = 0;
  for (auto _ : state) {
    loss = protoot::ot_target_loss(in.q, in.c, in.targets, kTau, state.range(0) ? &g : nullptr);
    benchmark::DoNotOptimize(loss);
  }
  set_counters(state, loss);
}

void BM_neighbour_contrast(benchmark::State& state) {  // k = 5 cosine neighbours in the bank
  const Inputs& in = inputs();
  protoot::PrototypeGradients<float> g;
  for (auto _ : state)
    benchmark::DoNotOptimize(
        protoot::neighbour_contrast(in.q, in.bank, kNeighbours, kTau, nullptr, state.range(0) ? &g : nullptr));
  set_counters(state);
}

}  // namespace

// Arg 0: forward only; 1: forward + backward.
BENCHMARK(BM_l2_normalise)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_info_nce_bank)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_info_nce_two_views)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_prototype_contrast)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ot_target_loss)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_neighbour_contrast)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
