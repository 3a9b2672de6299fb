// Catch2 main of the MPI tests: every rank runs every test case (the calls under test are
// collective); the exit status is the worst over the ranks, so mpiexec fails if any rank failed.
#include <mpi.h>

#include "../catch_session.hpp"

int main(int argc, char* argv[]) {
  MPI_Init(&argc, &argv);
  int failed = protoot_test::run_catch_session(argc, argv);
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return failed;
}
