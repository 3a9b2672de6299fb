// Top-k and K-means over a memory-mapped .npy (out_of_core.hpp): the same results as in memory,
// bit for bit, while only a window of the file is resident; bad files and options are errors.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <string>

#include "protoot/io/mapped_npy.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/out_of_core.hpp"
#include "protoot/retrieval.hpp"

using namespace protoot;

namespace {

template <class S>
Matrix<S> random_rows(Index n, Index d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix<S> x(n, d);
  for (Index i = 0; i < n; ++i)  // clusters, so that K-means has something to find
    for (Index j = 0; j < d; ++j) x(i, j) = S(normal(rng) + 4.0 * double((i * 7) % 5 == j % 5));
  return x;
}

template <class S>
std::string write_file(const std::string& name, const Matrix<S>& x) {
  const std::string path = name + (sizeof(S) == 4 ? "_f4.npy" : "_f8.npy");
  io::write_npy(path, x);
  return path;
}

/// Resident bytes of the mappings of `path` in this process (/proc/self/smaps, Linux).
std::size_t resident_bytes_of(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  std::size_t total = 0;
  while (std::getline(smaps, line)) {
    const bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16;
    if (header) inside = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
    else if (inside && line.rfind("Rss:", 0) == 0) total += std::stoull(line.substr(4)) * 1024;
  }
  return total;
}

}  // namespace

TEMPLATE_TEST_CASE("streamed top-k over a mapped gallery equals the in-memory search", "[out_of_core]", float, double) {
  using S = TestType;
  const Matrix<S> gallery = random_rows<S>(2200, 24, 1), queries = random_rows<S>(30, 24, 2);
  Matrix<S> tied = gallery;
  tied.row(2100) = tied.row(10);  // equal scores across windows: the lower index must rank first
  const io::MappedNpy<S> mapped(write_file("topk_gallery", tied));
  REQUIRE(mapped.rows() == 2200);
  REQUIRE(mapped.cols() == 24);
  const std::size_t row = 24 * sizeof(S);
  for (const Index k : {Index(1), Index(40), Index(2200)}) {
    const TopK<S> expected = inner_product_topk(queries, tied, k), cos_expected = cosine_topk(queries, tied, k);
    // windows of whole tiles (1024 rows, also 1100 rounded down, and all rows): bit for bit
    for (const std::size_t rows : {std::size_t(1024), std::size_t(1100), std::size_t(1) << 20}) {
      const TopK<S> got = inner_product_topk(queries, mapped, k, StreamOptions{rows * row});
      CHECK(got.indices == expected.indices);
      CHECK(got.scores == expected.scores);
      const TopK<S> cos_got = cosine_topk(queries, mapped, k, StreamOptions{2 * rows * row});
      CHECK(cos_got.indices == cos_expected.indices);
      CHECK(cos_got.scores == cos_expected.scores);
    }
  }
  // windows smaller than a tile (one row, 700 rows): the same ranking, scores up to rounding
  for (const std::size_t rows : {std::size_t(1), std::size_t(700)}) {
    const TopK<S> expected = inner_product_topk(queries, tied, 40), got = inner_product_topk(queries, mapped, 40, StreamOptions{rows * row});
    CHECK(got.indices == expected.indices);
    CHECK(got.scores.isApprox(expected.scores, S(100) * std::numeric_limits<S>::epsilon()));
  }
}

TEMPLATE_TEST_CASE("streamed K-means over a mapped file equals K-means in memory", "[out_of_core]", float, double) {
  using S = TestType;
  const Matrix<S> x = random_rows<S>(2500, 12, 3);
  const io::MappedNpy<S> mapped(write_file("kmeans_points", x));
  KMeansOptions<S> options;
  options.seed = 9;
  options.n_init = 2;
  options.max_iterations = 20;
  for (const KMeansInit init : {KMeansInit::kmeans_plus_plus, KMeansInit::random}) {
    options.init = init;
    for (const Index per_centroid : {Index(0), Index(60)}) {
      options.max_points_per_centroid = per_centroid;
      const KMeansResult<S> expected = kmeans(x, 7, options), got = kmeans(mapped, 7, options);
      CHECK(got.labels == expected.labels);
      CHECK(got.centroids == expected.centroids);
      CHECK(got.inertia == expected.inertia);
      CHECK(got.iterations == expected.iterations);
      CHECK(got.proportions == expected.proportions);
    }
  }
}

TEST_CASE("streamed K-means keeps only a few row blocks of the file resident", "[out_of_core]") {
  // 16 MiB of rows (64 blocks); without the release after each block all of it would be resident
  // by the end of the first pass.
  const Index n = 32768, d = 128;
  const std::string path = write_file("kmeans_large", random_rows<float>(n, d, 4));
  const io::MappedNpy<float> mapped(path);
  std::size_t most = 0;
  KMeansOptions<float> options;
  options.init = KMeansInit::random;
  options.max_iterations = 3;
  options.tolerance = 0;
  options.callback = [&](const KMeansProgress<float>&) {
    most = std::max(most, resident_bytes_of(path));
    return true;
  };
  const KMeansResult<float> result = kmeans(mapped, 16, options);
  CHECK(result.iterations == 3);
  const std::size_t block_bytes = 512 * d * sizeof(float);
  CHECK(most <= 4 * block_bytes);  // (threads + 1) blocks, pages rounded out, at 2 threads
  const Matrix<float> queries = random_rows<float>(8, d, 5);
  inner_product_topk(queries, mapped, 5, StreamOptions{std::size_t(4) << 20});
  CHECK(resident_bytes_of(path) <= (std::size_t(4) << 20));
}

TEST_CASE("mapped files and streaming options are checked", "[out_of_core]") {
  const Matrix<double> x = random_rows<double>(50, 4, 6);
  const std::string f8 = write_file("checked", x);
  CHECK_THROWS_WITH(io::MappedNpy<float>(f8), Catch::Contains("dtype must be '<f4'"));
  CHECK_THROWS_WITH(io::MappedNpy<double>("no_such_file.npy"), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(io::MappedNpy<double>("."), Catch::Contains("not a regular"));
  io::write_npy("vector_f8.npy", Vector<double>(Vector<double>::Ones(5)));
  CHECK_THROWS_WITH(io::MappedNpy<double>("vector_f8.npy"), Catch::Contains("must be 2-d"));
  {
    std::ofstream truncated("truncated_f8.npy", std::ios::binary);
    std::ifstream whole(f8, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(whole)), std::istreambuf_iterator<char>());
    truncated << bytes.substr(0, bytes.size() - 8);
  }
  CHECK_THROWS_AS(io::MappedNpy<double>("truncated_f8.npy"), std::invalid_argument);

  const io::MappedNpy<double> mapped(f8);
  const Matrix<double> q = random_rows<double>(3, 4, 7);
  CHECK_THROWS_WITH(inner_product_topk(q, mapped, 51), Catch::Contains("k = 51 must be in [1, 50]"));
  CHECK_THROWS_WITH(inner_product_topk(q, mapped, 2, StreamOptions{16}), Catch::Contains("must hold one gallery row"));
  CHECK_THROWS_WITH(cosine_topk(q, mapped, 2, StreamOptions{40}), Catch::Contains("with its normalised copy"));
  CHECK_THROWS_WITH(inner_product_topk(Matrix<double>(q.leftCols(3)), mapped, 2), Catch::Contains("feature dimension"));
  KMeansOptions<double> spherical;
  spherical.spherical = true;
  CHECK_THROWS_WITH(kmeans(mapped, 3, spherical), Catch::Contains("spherical"));
  CHECK_THROWS_WITH(kmeans(mapped, 51), Catch::Contains("exceeds the number of points"));

  Matrix<double> bad = x;
  bad(37, 2) = std::numeric_limits<double>::quiet_NaN();
  const io::MappedNpy<double> with_nan(write_file("with_nan", bad));
  CHECK_THROWS_WITH(kmeans(with_nan, 3), Catch::Contains("X contains NaN or Inf"));
  CHECK_THROWS_WITH(inner_product_topk(q, with_nan, 2, StreamOptions{20 * 4 * sizeof(double)}),
                    Catch::Contains("gallery rows 20-39 contains NaN or Inf"));
  bad(37, 2) = 1e300;  // finite, but its squared norm overflows
  const io::MappedNpy<double> huge(write_file("huge", bad));
  CHECK_THROWS_WITH(kmeans(huge, 3), Catch::Contains("overflow"));
  CHECK_THROWS_WITH(inner_product_topk(q, huge, 2), Catch::Contains("overflow"));
}
