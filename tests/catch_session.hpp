// The one Catch2 session of the test executables (catch_session.cpp), so that their mains need
// not include Catch2's implementation.
#pragma once

namespace protoot_test {

/// Catch::Session: parses argv (a bad command line returns its non-zero status), runs the
/// selected test cases and returns the number of failed ones.
int run_catch_session(int argc, char* argv[]);

}  // namespace protoot_test
