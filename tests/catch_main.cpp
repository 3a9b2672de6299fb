// The main of every (non-MPI) test executable.
#include <filesystem>

#include "catch_session.hpp"

// Tests exchange scratch files with their reference scripts through relative paths; run them in
// the build tree (as CTest does) wherever the binary is started from, never in a source checkout.
int main(int argc, char* argv[]) {
  std::filesystem::current_path(PROTOOT_TEST_WORKING_DIR);
  return protoot_test::run_catch_session(argc, argv);
}
