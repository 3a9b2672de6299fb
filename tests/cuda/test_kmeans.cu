// CUDA K-means against the CPU kmeans from the same seed / warm start: identical labels, sizes
// and iteration counts; centroids and inertia within 1e-4 (float) / 1e-10 (double) relative.
// Covers k-means++ restarts, random init, weights, spherical mode and empty-cluster relocation.
#include <string>

#include "check.hpp"
#include "cpu_reference.hpp"
#include "protoot/cuda/kmeans.cuh"

using namespace protoot;
using protoot::test::Checker;
using protoot::test::label;

namespace {

template <class S>
void expect_same(Checker& check, const KMeansResult<S>& gpu, const KMeansResult<S>& cpu, const std::string& what) {
  const double tol = std::is_same<S, float>::value ? 1e-4 : 1e-10;
  check.expect(gpu.labels == cpu.labels, label<S>(what + ": same labels"));
  check.expect(gpu.sizes == cpu.sizes, label<S>(what + ": same sizes"));
  check.expect(gpu.iterations == cpu.iterations && gpu.restart == cpu.restart,
               label<S>(what + ": same iterations and winning restart"));
  check.expect(test::relative_error(gpu.centroids, cpu.centroids) <= tol, label<S>(what + ": centroids"));
  check.expect(std::abs(double(gpu.inertia - cpu.inertia)) <= tol * std::abs(double(cpu.inertia)),
               label<S>(what + ": inertia"));
}

template <class S>
void compare(Checker& check) {
  const Index n = 3000, d = 16, k = 6;
  const Matrix<S> X = test::blobs<S>(n, d, k, 21);
  const cuda::DeviceMatrix<S> dx(X);
  KMeansOptions<S> options;
  options.n_init = 3;
  options.seed = 5;
  options.max_iterations = 50;
  expect_same(check, kmeans(dx, k, options), test::cpu_kmeans(X, k, options), "k-means++, 3 restarts");

  options.init = KMeansInit::random;
  options.weights = (test::random_points<S>(n, 1, 22).array().abs() + S(0.5)).matrix();
  expect_same(check, kmeans(dx, k, options), test::cpu_kmeans(X, k, options), "random init, weighted");

  KMeansOptions<S> spherical;
  spherical.spherical = true;
  spherical.seed = 7;
  expect_same(check, kmeans(dx, k, spherical), test::cpu_kmeans(X, k, spherical), "spherical");

  KMeansOptions<S> warm;  // one centroid far from every point: its cluster empties and is re-seeded
  warm.initial_centroids = X.topRows(k);
  warm.initial_centroids.row(k - 1).setConstant(S(1000));
  const KMeansResult<S> gpu = kmeans(dx, k, warm);
  expect_same(check, gpu, test::cpu_kmeans(X, k, warm), "warm start with an empty cluster");
  check.expect((gpu.sizes.array() > 0).all(), label<S>("no cluster left empty"));

  check.expect_throws<std::invalid_argument>([&] { kmeans(dx, 0, options); }, label<S>("k = 0"));
  check.expect_throws<std::invalid_argument>([&] { kmeans(dx, n + 1, options); }, label<S>("k > n"));
}

}  // namespace

int main() {
  return test::run_tests("test_kmeans (CUDA)", true, [](Checker& check) {
    compare<float>(check);
    compare<double>(check);
  });
}
