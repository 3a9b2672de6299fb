// Host-side logic of the CUDA backend, which runs without a GPU: error translation (the failing
// call is named, out-of-memory has its own type, no device is a plain NoDevice at the caller's
// call) and the argument checks that reject bad problems before any device memory is touched
// (every public entry point on empty inputs).
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "check.hpp"
#include "protoot/cuda/kmeans.cuh"
#include "protoot/cuda/losses.cuh"
#include "protoot/cuda/prototype_sinkhorn.cuh"
#include "protoot/cuda/sinkhorn_batch.cuh"
#include "protoot/cuda/topk.cuh"

using namespace protoot;
using protoot::test::Checker;

namespace {

void error_translation(Checker& check) {
  try {
    PROTOOT_CUDA_CHECK(cudaErrorMemoryAllocation);
    check.expect(false, "cudaErrorMemoryAllocation must throw");
  } catch (const cuda::OutOfMemory& e) {
    check.expect(std::string(e.what()).find("cudaErrorMemoryAllocation") != std::string::npos,
                 "out-of-memory message names the error: " + std::string(e.what()));
  }
  try {
    PROTOOT_CUDA_CHECK(cudaErrorInvalidValue);
    check.expect(false, "cudaErrorInvalidValue must throw");
  } catch (const cuda::OutOfMemory&) {
    check.expect(false, "an invalid value is not out-of-memory");
  } catch (const cuda::Error& e) {
    check.expect(std::string(e.what()).find("PROTOOT_CUDA_CHECK") == std::string::npos &&
                     std::string(e.what()).find("cudaErrorInvalidValue") != std::string::npos,
                 "message names the failing call: " + std::string(e.what()));
  }
  check.expect_throws<cuda::OutOfMemory>([] { PROTOOT_CUDA_CHECK(CUBLAS_STATUS_ALLOC_FAILED); },
                                         "cuBLAS allocation failure");
  check.expect_throws<cuda::Error>([] { PROTOOT_CUDA_CHECK(CUBLAS_STATUS_EXECUTION_FAILED); }, "cuBLAS failure");
  PROTOOT_CUDA_CHECK(cudaSuccess);  // no throw
}

void empty_device_matrix(Checker& check) {
  const cuda::DeviceMatrix<float> empty;  // allocates nothing: fine without a GPU
  check.expect(empty.rows() == 0 && empty.cols() == 0 && empty.data() == nullptr, "empty device matrix");
  check.expect(empty.download().size() == 0, "empty download");
  check.expect_throws<std::invalid_argument>([] { cuda::DeviceMatrix<float>(-1, 2); }, "negative shape");
}

template <class S>
void sinkhorn_arguments(Checker& check) {
  const S inf = std::numeric_limits<S>::infinity();
  const Vector<S> a = Vector<S>::Constant(4, S(0.25)), b = Vector<S>::Constant(5, S(0.2));
  SinkhornOptions<S> options;
  options.epsilon = S(0.1);
  auto validate = [&](const Vector<S>& va, const Vector<S>& vb, S rho_a, S rho_b, const SinkhornOptions<S>& o) {
    cuda::detail::validate_sinkhorn("cuda::sinkhorn", 4, 5, va, vb, rho_a, rho_b, o);
  };
  validate(a, b, inf, inf, options);  // valid: no throw
  check.expect_throws<std::invalid_argument>([&] { validate(b, b, inf, inf, options); }, "a size != rows");
  check.expect_throws<std::invalid_argument>([&] { validate(a, a, inf, inf, options); }, "b size != cols");
  check.expect_throws<std::invalid_argument>([&] { validate(a, S(2) * b, inf, inf, options); }, "unequal masses");
  validate(a, S(2) * b, S(1), S(1), options);  // unbalanced: masses may differ
  Vector<S> negative = a;
  negative(0) = S(-0.25);
  check.expect_throws<std::invalid_argument>([&] { validate(negative, b, S(1), S(1), options); }, "negative weight");
  check.expect_throws<std::invalid_argument>([&] { validate(a, b, S(0), S(1), options); }, "rho_a = 0");
  SinkhornOptions<S> bad = options;
  bad.epsilon = S(0);
  check.expect_throws<std::invalid_argument>([&] { validate(a, b, inf, inf, bad); }, "epsilon = 0");
  bad = options;
  bad.check_every = 0;
  check.expect_throws<std::invalid_argument>([&] { validate(a, b, inf, inf, bad); }, "check_every = 0");
  bad = options;
  bad.f_init = Vector<S>::Zero(3);
  check.expect_throws<std::invalid_argument>([&] { validate(a, b, inf, inf, bad); }, "f_init size");
  try {
    validate(b, b, inf, inf, options);
  } catch (const std::invalid_argument& e) {
    check.expect(std::string(e.what()).rfind("protoot::cuda::sinkhorn:", 0) == 0,
                 "message names the function: " + std::string(e.what()));
  }
}

void entry_points_reject_empty_inputs(Checker& check) {
  const cuda::DeviceMatrix<float> empty;
  const Vector<float> one = Vector<float>::Ones(1);
  SinkhornOptions<float> options;
  options.epsilon = 0.1f;
  check.expect_throws<std::invalid_argument>([&] { sinkhorn(empty, one, one, options); }, "sinkhorn, empty cost");
  check.expect_throws<std::invalid_argument>(
      [&] { sinkhorn(cuda::PointClouds<float>{empty, empty}, one, one, options); }, "sinkhorn, empty clouds");
  check.expect_throws<std::invalid_argument>(
      [&] { sinkhorn_batch(cuda::StackedCosts<float>{empty, 2}, {one}, {one}, options); }, "batch, count mismatch");
  check.expect_throws<std::invalid_argument>([&] { cosine_topk(empty, empty, 1); }, "top-k, empty queries");
  check.expect_throws<std::invalid_argument>([&] { kmeans(empty, 1); }, "kmeans, empty X");
  check.expect_throws<std::invalid_argument>([&] { info_nce(empty, empty, empty, 0.1f); }, "info_nce, empty queries");
  check.expect_throws<std::invalid_argument>([&] { info_nce_two_views(empty, empty, 0.1f); }, "two views, empty");
  check.expect_throws<std::invalid_argument>([&] { prototype_contrast(empty, empty, IndexVector(), 0.1f); },
                                             "prototype_contrast, empty features");
  check.expect_throws<std::invalid_argument>([&] { prototype_contrast_soft(empty, empty, empty, 0.1f); },
                                             "prototype_contrast_soft, empty features");
  check.expect_throws<std::invalid_argument>([&] { ot_target_loss(empty, empty, empty, 0.1f); }, "ot_target_loss, empty plan");
  check.expect_throws<std::invalid_argument>([&] { cosine_neighbours(empty, empty, 1); }, "cosine_neighbours, empty");
  check.expect_throws<std::invalid_argument>([&] { neighbour_contrast(empty, empty, 1, 0.0f); },
                                             "neighbour_contrast, tau = 0");
  check.expect_throws<std::invalid_argument>([&] { l2_normalise_rows(empty); }, "l2_normalise_rows, empty x");
  check.expect_throws<std::invalid_argument>(
      [&] { l2_normalise_rows_backward(empty, cuda::DeviceBuffer<float>(), cuda::DeviceMatrix<float>(0, 3)); },
      "l2_normalise_rows_backward, grad_y columns");
  check.expect_throws<std::invalid_argument>([&] { prototype_sinkhorn_released(empty, empty, one); },
                                             "prototype_sinkhorn_released, empty Z");
}

// The stored cost's rules on the GPU are the CPU's function (require_cost_resolution, fed by
// one device reduction; protoot::sinkhorn on the host calls it too): epsilon below max|C| times
// the unit roundoff is rejected; on a GPU, through cuda::sinkhorn itself. (The CPU solver is not
// called here: nvcc and g++ compile Eigen with different alignments, see cpu_reference.cpp.)
template <class S>
void cost_resolution(Checker& check) {
  SinkhornOptions<S> options;
  options.epsilon = S(1e-3);
  const S u = std::numeric_limits<S>::epsilon();
  const S fine = options.epsilon / u / S(2), coarse = options.epsilon / u * S(4);
  protoot::detail::require_cost_resolution("protoot::cuda::sinkhorn", true, fine, options);  // no throw
  std::string message;
  try {
    protoot::detail::require_cost_resolution("protoot::cuda::sinkhorn", true, coarse, options);
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  check.expect(message.find("below the resolution of the cost") != std::string::npos,
               test::label<S>("epsilon below the cost's resolution is rejected: " + message));
  check.expect_throws<std::invalid_argument>(
      [&] { protoot::detail::require_cost_resolution("protoot::cuda::sinkhorn", false, S(1), options); },
      test::label<S>("a non-finite cost is rejected"));
  if (!cuda::device_available()) return;
  Matrix<S> C = Matrix<S>::Zero(4, 5);
  C(1, 2) = coarse;
  const Vector<S> a = Vector<S>::Constant(4, S(0.25)), b = Vector<S>::Constant(5, S(0.2));
  check.expect_throws<std::invalid_argument>(
      [&] { protoot::sinkhorn(cuda::DeviceMatrix<S>(C), a, b, options); },
      test::label<S>("cuda::sinkhorn rejects epsilon below the cost's resolution"));
}

static_assert(std::is_base_of<std::runtime_error, cuda::NoDevice>::value, "NoDevice is a std::runtime_error");

bool says_no_device(const cuda::NoDevice& e) { return std::string(e.what()).rfind("no CUDA device/driver", 0) == 0; }

// Without a GPU (or driver) the caller's own call throws NoDevice; with one, each thread has one
// default Resources per device, and a ResourceScope makes another current.
void no_device(Checker& check) {
  for (const cudaError_t status : {cudaErrorNoDevice, cudaErrorInsufficientDriver}) {
    try {
      PROTOOT_CUDA_CHECK(status);
      check.expect(false, "a missing device or driver must throw");
    } catch (const cuda::NoDevice& e) {
      check.expect(says_no_device(e), "NoDevice message: " + std::string(e.what()));
    }
  }
  if (cuda::device_available()) {
    cuda::Resources& defaults = cuda::default_resources();
    check.expect(&defaults == &cuda::default_resources(), "one default Resources per thread and device");
    cuda::Resources own;
    {
      const cuda::ResourceScope scope(own);
      check.expect(&cuda::current_resources() == &own, "a ResourceScope makes its Resources current");
    }
    check.expect(&cuda::current_resources() == &defaults, "the scope restores the default");
    return;
  }
  try {
    const cuda::DeviceMatrix<float> cost(Matrix<float>::Ones(2, 2));
    const Vector<float> half = Vector<float>::Constant(2, 0.5f);
    protoot::sinkhorn(cost, half, half, SinkhornOptions<float>{});
    check.expect(false, "a solve without a device must throw");
  } catch (const cuda::NoDevice& e) {
    check.expect(says_no_device(e), "NoDevice message: " + std::string(e.what()));
  }
  check.expect_throws<cuda::NoDevice>([] { cuda::default_resources(); }, "default_resources without a device");
}

}  // namespace

int main() {
  return test::run_tests("test_cuda_host", false, [](Checker& check) {
    error_translation(check);
    no_device(check);
    empty_device_matrix(check);
    sinkhorn_arguments<float>(check);
    sinkhorn_arguments<double>(check);
    cost_resolution<float>(check);
    cost_resolution<double>(check);
    entry_points_reject_empty_inputs(check);
  });
}
