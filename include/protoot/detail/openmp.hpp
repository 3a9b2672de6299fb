// protoot/detail/openmp.hpp — OpenMP in protoot: directives that vanish cleanly without OpenMP,
// and the rule that protoot's kernels own their threads.
//
// protoot's kernels are parallel when the user compiles with OpenMP (protoot::protoot links it
// by default) and serial otherwise. A bare `#pragma omp` in a header would warn in every
// -Wall build without -fopenmp; PROTOOT_OMP(directive) emits the pragma only under OpenMP.
//
// Eigen parallelises its own matrix products with OpenMP too, and its threads busy-wait on each
// other at every panel: nested beside protoot's teams, or on a core another process also wants,
// a product spins away its time slice (info_nce forward+backward took 141 ms at 2 threads
// against 7.4 ms at 1 on a loaded 2-core machine; a 10000 x 32, k = 8 K-means 5.4 s against
// 13 ms). So every kernel turns Eigen's parallelism off while it runs (SerialEigen) and splits
// its products itself, in blocks coarse enough to meet once (parallel_product).
#pragma once

#include <algorithm>
#include <mutex>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <Eigen/Core>

#include "protoot/types.hpp"

#ifdef _OPENMP
#define PROTOOT_OMP(directive) _Pragma(PROTOOT_OMP_STRING(omp directive))
#define PROTOOT_OMP_STRING(text) #text
#else
#define PROTOOT_OMP(directive)
#endif

namespace protoot::detail {

/// Threads for a kernel of `work` multiply-adds split into `parts` independent pieces: one
/// below ~a millisecond of work, where waking a team costs more than it saves (and spins on a
/// loaded machine); otherwise omp_get_max_threads(), at most one per part.
inline int threads_for(Index work, Index parts) {
#ifdef _OPENMP
  if (work < (Index(1) << 22)) return 1;
  return static_cast<int>(std::max<Index>(1, std::min<Index>(omp_get_max_threads(), parts)));
#else
  (void)work, (void)parts;
  return 1;
#endif
}

/// While alive, Eigen's own OpenMP parallelism is off (Eigen::setNbThreads(1)). Scopes nest and
/// may overlap across the caller's threads: the first one in saves the caller's setting, the
/// last one out restores it (while any protoot kernel runs, Eigen products elsewhere in the
/// program are serial too).
class SerialEigen {
 public:
  SerialEigen() {
    std::lock_guard<std::mutex> lock(state().mutex);
    if (state().scopes++ == 0) {
      state().saved = Eigen::nbThreads();
#ifdef _OPENMP
      // nbThreads() follows omp_get_max_threads() until the caller sets it; 0 restores that.
      if (state().saved == omp_get_max_threads()) state().saved = 0;
#endif
      Eigen::setNbThreads(1);
    }
  }
  ~SerialEigen() {
    std::lock_guard<std::mutex> lock(state().mutex);
    if (--state().scopes == 0) Eigen::setNbThreads(state().saved);
  }
  SerialEigen(const SerialEigen&) = delete;
  SerialEigen& operator=(const SerialEigen&) = delete;

 private:
  struct State {
    std::mutex mutex;
    int scopes = 0;
    int saved = 0;
  };
  static State& state() {
    static State s;
    return s;
  }
};

/// Rows per block of parallel_product: fixed, so the result does not depend on the thread count.
constexpr Index product_block_rows = 64;

/// out = lhs * rhs with the rows of out in blocks of product_block_rows spread over protoot's
/// threads (threads_for), each block one serial Eigen GEMM. out must not alias lhs or rhs.
template <class Out, class Lhs, class Rhs>
void parallel_product(Out& out, const Lhs& lhs, const Rhs& rhs) {
  const SerialEigen serial;
  const Index n = lhs.rows(), blocks = (n + product_block_rows - 1) / product_block_rows;
  out.resize(n, rhs.cols());
  const int threads = threads_for(n * lhs.cols() * rhs.cols(), blocks);
PROTOOT_OMP(parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1))
  for (Index b = 0; b < blocks; ++b) {
    const Index first = b * product_block_rows, rows = std::min(product_block_rows, n - first);
    out.middleRows(first, rows).noalias() = lhs.middleRows(first, rows) * rhs;
  }
}

}  // namespace protoot::detail
