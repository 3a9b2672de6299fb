// Catch2's implementation, compiled once for every test executable (the plain main in
// catch_main.cpp and the MPI one in mpi/mpi_catch_main.cpp): it is the slowest part of Catch2 to
// build, about 20 s per copy.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_session.hpp"

int protoot_test::run_catch_session(int argc, char* argv[]) {
  Catch::Session session;
  const int status = session.applyCommandLine(argc, argv);
  return status != 0 ? status : session.run();
}
