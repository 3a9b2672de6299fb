// The one Catch2 main shared by every test executable (compiled once).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <filesystem>

// Tests exchange scratch files with their reference scripts through relative paths; run them in
// the build tree (as CTest does) wherever the binary is started from, never in a source checkout.
int main(int argc, char* argv[]) {
  std::filesystem::current_path(PROTOOT_TEST_WORKING_DIR);
  return Catch::Session().run(argc, argv);
}
