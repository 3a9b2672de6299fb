// protoot-scaling-mpi — the timings behind the scaling table of docs/distributed.md.
//
//   mpiexec -n P protoot-scaling-mpi [strong|weak]
//
// Times one Lloyd iteration of mpi::kmeans (d = 64, k = 64), one iteration of mpi::sinkhorn
// (log form, m = 1024 columns) and one mpi::cosine_topk (1024 queries, d = 64, k = 10), on
// row shards that are fixed in total (strong: n = 131072 / 16384 / 262144) or per rank (weak:
// those totals divided by 4, per rank), plus the cost of the messages the algorithms send
// (Allreduce of 8 B and 1 MiB, Bcast of 512 B). Prints one CSV line per measurement from rank 0:
// ranks,mode,what,seconds.
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "protoot/mpi/kmeans.hpp"
#include "protoot/mpi/retrieval.hpp"
#include "protoot/mpi/sinkhorn.hpp"

using namespace protoot;

namespace {

int rank = 0, ranks = 1;

/// Rows of this rank: the total split evenly (strong) or total / 4 each (weak).
Index my_rows(Index total, bool weak) { return weak ? total / 4 : total * (rank + 1) / ranks - total * rank / ranks; }

/// Seconds per call of f, the slowest rank's, after one warm-up call.
template <class F>
double seconds(int repeats, F&& f) {
  f();
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  for (int r = 0; r < repeats; ++r) f();
  double elapsed = (MPI_Wtime() - start) / repeats;
  MPI_Allreduce(MPI_IN_PLACE, &elapsed, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return elapsed;
}

void report(const char* mode, const char* what, double s) {
  if (rank == 0) std::printf("%d,%s,%s,%.6g\n", ranks, mode, what, s);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const std::string mode = argc > 1 ? argv[1] : "strong";
  const bool weak = mode == "weak";
  std::srand(unsigned(1 + rank));

  {  // K-means: 10 Lloyd iterations from fixed centroids (no seeding), per iteration
    const Matrix<double> X = Matrix<double>::Random(my_rows(131072, weak), 64);
    KMeansOptions<double> o;
    o.initial_centroids = Matrix<double>::Ones(64, 64);
    for (Index j = 0; j < 64; ++j) o.initial_centroids(j, j % 64) = 2.0 + double(j) / 64;
    o.max_iterations = 10;
    o.tolerance = 0;
    const double s = seconds(1, [&] { mpi::kmeans(MPI_COMM_WORLD, X, 64, o); });
    report(mode.c_str(), "kmeans_iteration", s / 11);  // 10 iterations + the final assignment
  }
  {  // Sinkhorn, log form: 20 iterations, per iteration
    const Index n = my_rows(16384, weak);
    const Matrix<double> C = Matrix<double>::Random(n, 1024).cwiseAbs();
    Index total = n;
    MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    const Vector<double> a = Vector<double>::Constant(n, 1.0 / double(total));
    const Vector<double> b = Vector<double>::Constant(1024, 1.0 / 1024);
    SinkhornOptions<double> o;
    o.epsilon = 0.05;
    o.max_iterations = 20;
    o.tolerance = 0;
    report(mode.c_str(), "sinkhorn_iteration", seconds(1, [&] { mpi::sinkhorn(MPI_COMM_WORLD, C, a, b, o); }) / 20);
  }
  {  // cosine top-10 of 1024 queries (split over the ranks) in the sharded gallery
    const Matrix<double> G = Matrix<double>::Random(my_rows(262144, weak), 64);
    const Matrix<double> Q = Matrix<double>::Random(1024 * (rank + 1) / ranks - 1024 * rank / ranks, 64);
    report(mode.c_str(), "cosine_topk", seconds(2, [&] { mpi::cosine_topk(MPI_COMM_WORLD, Q, G, 10); }));
  }
  {  // message costs
    std::vector<double> small(1), large(131072), row(64);
    report(mode.c_str(), "allreduce_8B", seconds(200, [&] {
             MPI_Allreduce(MPI_IN_PLACE, small.data(), 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
           }));
    report(mode.c_str(), "allreduce_1MiB", seconds(20, [&] {
             MPI_Allreduce(MPI_IN_PLACE, large.data(), int(large.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
           }));
    report(mode.c_str(), "bcast_512B", seconds(200, [&] { MPI_Bcast(row.data(), 64, MPI_DOUBLE, 0, MPI_COMM_WORLD); }));
  }
  MPI_Finalize();
  return 0;
}
