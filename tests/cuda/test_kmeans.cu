// CUDA K-means against the CPU kmeans from the same seed / warm start: identical labels, sizes
// and iteration counts; centroids and inertia within 1e-4 (float) / 1e-10 (double) relative.
// Covers k-means++ restarts, random init, weights, spherical mode and empty-cluster relocation,
// all on device data: X is never downloaded (counted), and bad X is rejected on the device.
#include <limits>
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

  KMeansOptions<S> more_trials;  // k-means++ with many candidates per centre, over several 1024-row chunks
  more_trials.local_trials = 40;
  more_trials.seed = 11;
  expect_same(check, kmeans(dx, k, more_trials), test::cpu_kmeans(X, k, more_trials), "k-means++, 40 trials");

  check.expect_throws<std::invalid_argument>([&] { kmeans(dx, 0, options); }, label<S>("k = 0"));
  check.expect_throws<std::invalid_argument>([&] { kmeans(dx, n + 1, options); }, label<S>("k > n"));
  Matrix<S> bad = X;
  bad(n - 1, d - 1) = std::numeric_limits<S>::quiet_NaN();
  check.expect_throws<std::invalid_argument>([&] { kmeans(cuda::DeviceMatrix<S>(bad), k, options); },
                                             label<S>("NaN in X, found on the device"));
  bad(n - 1, d - 1) = S(0);
  bad.row(3).setConstant(std::numeric_limits<S>::max() / S(4));  // finite entries, squared norm overflows
  check.expect_throws<std::invalid_argument>([&] { kmeans(cuda::DeviceMatrix<S>(bad), k, options); },
                                             label<S>("overflowing squared norm, found on the device"));
}

/// Device-to-host traffic of a call: the final labels per restart, k x d sums, k masses and
/// scalars per iteration, the seeding's candidates, never the n x d points.
template <class S>
void points_stay_on_device(Checker& check) {
  const Index n = 20000, d = 32, k = 8;
  const cuda::DeviceMatrix<S> dx(test::blobs<S>(n, d, k, 31));
  KMeansOptions<S> options;  // k-means++, the shift tolerance, two restarts
  options.n_init = 2;
  options.max_iterations = 20;
  const std::size_t before = cuda::current_resources().downloaded_bytes();
  const KMeansResult<S> result = kmeans(dx, k, options);
  const std::size_t bytes = cuda::current_resources().downloaded_bytes() - before;
  const std::size_t labels_bytes = std::size_t(options.n_init) * n * sizeof(int),
                    x_bytes = std::size_t(n) * d * sizeof(S);
  check.expect(bytes >= labels_bytes, label<S>("the counter sees the final labels of every restart"));
  check.expect(bytes < x_bytes / 4, label<S>("X is not downloaded (" + std::to_string(bytes) +
                                             " bytes to the host, X is " + std::to_string(x_bytes) + ")"));
  check.expect((result.sizes.array() > 0).all() && result.labels.size() == n, label<S>("a full result"));
}

}  // namespace

int main() {
  return test::run_tests("test_kmeans (CUDA)", true, [](Checker& check) {
    compare<float>(check);
    compare<double>(check);
    points_stay_on_device<float>(check);
    points_stay_on_device<double>(check);
  });
}
