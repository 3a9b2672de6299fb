// CUDA top-k retrieval against the CPU cosine_topk on the same inputs: identical indices except
// where two candidates tie within rounding (then their scores must agree), scores within 1e-5
// (float) / 1e-12 (double), duplicates ranked by index, and the argument errors.
#include <string>

#include "check.hpp"
#include "cpu_reference.hpp"
#include "protoot/cuda/topk.cuh"

using namespace protoot;
using protoot::test::Checker;
using protoot::test::label;

namespace {

/// Same ranking as the CPU up to ties: at each rank the scores agree within `tol`, and the
/// indices agree unless the two items' scores are that close (a tie decided by rounding).
template <class S>
void expect_same_ranking(Checker& check, const TopK<S>& gpu, const TopK<S>& cpu, const std::string& what) {
  const S tol = std::is_same<S, float>::value ? S(1e-5) : S(1e-12);
  bool same_shape = gpu.indices.rows() == cpu.indices.rows() && gpu.indices.cols() == cpu.indices.cols();
  check.expect(same_shape, label<S>(what + ": shape"));
  if (!same_shape) return;
  Index index_mismatches = 0, score_mismatches = 0;
  for (Index i = 0; i < cpu.indices.rows(); ++i)
    for (Index t = 0; t < cpu.indices.cols(); ++t) {
      const bool close = std::abs(gpu.scores(i, t) - cpu.scores(i, t)) <= tol;
      score_mismatches += !close;
      index_mismatches += gpu.indices(i, t) != cpu.indices(i, t) && !close;
    }
  check.expect(score_mismatches == 0, label<S>(what + ": " + std::to_string(score_mismatches) + " scores differ"));
  check.expect(index_mismatches == 0, label<S>(what + ": " + std::to_string(index_mismatches) + " indices differ"));
}

template <class S>
void random_search(Checker& check) {
  const Matrix<S> queries = test::random_points<S>(300, 32, 11), gallery = test::random_points<S>(2500, 32, 12);
  const cuda::DeviceMatrix<S> dq(queries), dg(gallery);
  for (Index k : {Index(1), Index(10), Index(100), cuda::max_topk})
    expect_same_ranking(check, cosine_topk(dq, dg, k), test::cpu_cosine_topk(queries, gallery, k),
                        "random, k = " + std::to_string(k));
  // ties: every gallery row three times; the lower index must come first
  Matrix<S> repeated(3 * gallery.rows() / 10, gallery.cols());
  for (Index r = 0; r < repeated.rows(); ++r) repeated.row(r) = gallery.row(r / 3);
  const cuda::DeviceMatrix<S> dr(repeated);
  const TopK<S> gpu = cosine_topk(dq, dr, 9), cpu = test::cpu_cosine_topk(queries, repeated, 9);
  expect_same_ranking(check, gpu, cpu, "repeated gallery rows");
  check.expect(gpu.indices == cpu.indices, label<S>("exact ties are ranked by index"));

  check.expect_throws<std::invalid_argument>([&] { cosine_topk(dq, dg, 0); }, label<S>("k = 0"));
  check.expect_throws<std::invalid_argument>([&] { cosine_topk(dq, dr, dr.rows() + 1); }, label<S>("k > m"));
  check.expect_throws<std::invalid_argument>([&] { cosine_topk(dq, dg, cuda::max_topk + 1); }, label<S>("k > max"));
  const cuda::DeviceMatrix<S> wrong_d(Matrix<S>::Ones(4, 31));
  check.expect_throws<std::invalid_argument>([&] { cosine_topk(dq, wrong_d, 1); }, label<S>("d mismatch"));
  Matrix<S> with_zero = gallery.topRows(10);
  with_zero.row(3).setZero();
  const cuda::DeviceMatrix<S> dz(with_zero);
  check.expect_throws<std::invalid_argument>([&] { cosine_topk(dq, dz, 1); }, label<S>("zero gallery row"));
}

}  // namespace

int main() {
  return test::run_tests("test_topk (CUDA)", true, [](Checker& check) {
    random_search<float>(check);
    random_search<double>(check);
  });
}
