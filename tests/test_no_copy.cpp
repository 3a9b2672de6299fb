// Eigen::Map and row-major blocks reach the kernels without a copy: every heap allocation made
// during a call is recorded (malloc is interposed; Eigen allocates through it), and none may be
// as large as the mapped input. The recorder is first shown to catch a copy, so the test can fail.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <random>
#include <vector>

#include "protoot/kmeans.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/sinkhorn_batch.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define PROTOOT_COUNT_ALLOCATIONS 0  // the sanitizer owns malloc
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROTOOT_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef PROTOOT_COUNT_ALLOCATIONS
#define PROTOOT_COUNT_ALLOCATIONS 1
#endif

namespace {

std::atomic<bool> recording{false};
std::atomic<std::size_t> largest{0}, at_least{0}, count_at_least{0};

}  // namespace

#if PROTOOT_COUNT_ALLOCATIONS
extern "C" void* __libc_malloc(std::size_t size);  // glibc's allocator, which free() releases

extern "C" void* malloc(std::size_t size) {
  if (recording.load(std::memory_order_relaxed)) {
    std::size_t seen = largest.load(std::memory_order_relaxed);
    while (size > seen && !largest.compare_exchange_weak(seen, size)) {
    }
    if (size >= at_least.load(std::memory_order_relaxed)) ++count_at_least;
  }
  return __libc_malloc(size);
}
#endif

namespace {

using protoot::Index;
using protoot::Matrix;
using RowMap = Eigen::Map<const Matrix<double>>;

/// The largest single allocation made while f() runs.
template <class F>
std::size_t largest_allocation(F&& f) {
  largest = 0;
  recording = true;
  f();
  recording = false;
  return largest;
}

/// How many allocations of at least `bytes` f() makes.
template <class F>
std::size_t allocations_of_at_least(std::size_t bytes, F&& f) {
  at_least = bytes;
  count_at_least = 0;
  largest_allocation(f);
  return count_at_least;
}

std::vector<double> random_storage(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> storage(static_cast<std::size_t>(rows * cols));
  for (double& x : storage) x = normal(rng);
  return storage;
}

}  // namespace

TEST_CASE("Maps and row-major blocks are read in place, not copied", "[no_copy]") {
  if (!PROTOOT_COUNT_ALLOCATIONS) {
    WARN("skipped: AddressSanitizer intercepts malloc");
    return;
  }
  // 8 MB of gallery: far more than any tile (256 x 1024 doubles = 2 MB) or result buffer.
  const Index m = 32768, n = 2048, d = 32;
  const std::size_t gallery_bytes = sizeof(double) * std::size_t(m * d);
  const std::vector<double> gallery_storage = random_storage(m, d, 1), query_storage = random_storage(n, d, 2);
  const RowMap gallery(gallery_storage.data(), m, d), queries(query_storage.data(), n, d);

  SECTION("the recorder sees a copy") {
    CHECK(largest_allocation([&] { const Matrix<double> copy = gallery; }) >= gallery_bytes);
  }
  SECTION("inner_product_topk on Maps") {
    CHECK(largest_allocation([&] { protoot::inner_product_topk(queries, gallery, 5); }) < gallery_bytes / 2);
  }
  SECTION("inner_product_topk on row blocks of a larger row-major matrix") {
    const Matrix<double> wide = RowMap(gallery_storage.data(), m / 2, 2 * d);
    const auto rows = wide.middleRows(1000, wide.rows() - 2000).leftCols(d);  // outer stride 2 d
    const std::size_t block_bytes = sizeof(double) * std::size_t(rows.size());  // 3.7 MB
    CHECK(largest_allocation([&] { protoot::inner_product_topk(queries, rows, 5); }) < block_bytes);
  }
  SECTION("kmeans on a Map") {
    protoot::KMeansOptions<double> options;
    options.max_iterations = 2;
    CHECK(largest_allocation([&] { protoot::kmeans(gallery, 8, options); }) < gallery_bytes / 2);
  }
  SECTION("sinkhorn_batch on Maps of the caller's costs") {
    // The plans the solver returns are as large as the costs, so a copy shows up as extra
    // allocations of that size, not a larger one: Maps must allocate exactly as owned matrices
    // do, and column-major costs (documented as copied) more.
    const Index k = 256;
    const std::size_t cost_bytes = sizeof(double) * std::size_t(k * k);
    std::vector<double> storage = random_storage(2 * k, k, 3);
    for (double& x : storage) x = std::abs(x);
    const std::vector<RowMap> maps{RowMap(storage.data(), k, k), RowMap(storage.data() + k * k, k, k)};
    const std::vector<Matrix<double>> owned{maps[0], maps[1]};
    const std::vector<Eigen::MatrixXd> column_major{maps[0], maps[1]};
    const std::vector<protoot::Vector<double>> marginals(2, protoot::Vector<double>::Constant(k, 1.0 / double(k)));
    protoot::SinkhornOptions<double> options;
    options.epsilon = 1.0;
    options.max_iterations = 5;
    const auto solve = [&](const auto& costs) {
      return allocations_of_at_least(cost_bytes, [&] { protoot::sinkhorn_batch(costs, marginals, marginals, options); });
    };
    const std::size_t baseline = solve(owned);
    CHECK(baseline >= 2);  // the two plans
    CHECK(solve(maps) == baseline);
    CHECK(solve(column_major) > baseline);
  }
}
