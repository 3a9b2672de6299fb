// tests/cuda/check.hpp — a minimal test runner for the CUDA tests (Catch2 stays out of nvcc).
//
// run_device_tests() exits 77 with "SKIPPED: no CUDA device" where no GPU is usable, so CTest
// (SKIP_RETURN_CODE 77) reports the test as skipped, never as passed.
#pragma once

#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>

#include "protoot/cuda/error.hpp"

namespace protoot::test {

class Checker {
 public:
  /// Records a failure (with `what`) when `ok` is false.
  void expect(bool ok, const std::string& what) {
    ++checks_;
    if (!ok) {
      ++failures_;
      std::printf("FAILED: %s\n", what.c_str());
    }
  }
  /// Expects `body` to throw E.
  template <class E, class Body>
  void expect_throws(Body&& body, const std::string& what) {
    bool thrown = false;
    try {
      body();
    } catch (const E&) {
      thrown = true;
    }
    expect(thrown, what + " (expected an exception)");
  }
  int failures() const { return failures_; }
  int checks() const { return checks_; }

 private:
  int failures_ = 0, checks_ = 0;
};

/// `what` tagged with the scalar type, for messages of tests run in float and double.
template <class S>
std::string label(const std::string& what) {
  return what + (std::is_same<S, float>::value ? " [float]" : " [double]");
}

/// ||x - ref||_inf / max(||ref||_inf, tiny): the tests' relative error.
template <class A, class B>
double relative_error(const A& x, const B& ref) {
  const double scale = ref.size() ? double(ref.cwiseAbs().maxCoeff()) : 0.0;
  const double diff = x.size() == ref.size() && x.size() ? double((x - ref).cwiseAbs().maxCoeff()) : 1e300;
  return diff / (scale > 1e-30 ? scale : 1e-30);
}

/// Runs body(checker); returns the process exit code (77 = skipped: no device).
template <class Body>
int run_tests(const char* name, bool needs_device, Body&& body) {
  if (needs_device && !cuda::device_available()) {
    std::printf("SKIPPED: no CUDA device (%s needs a GPU; it was compiled and linked only)\n", name);
    return 77;
  }
  Checker checker;
  try {
    body(checker);
  } catch (const std::exception& e) {
    checker.expect(false, std::string("unexpected exception: ") + e.what());
  }
  std::printf("%s: %d checks, %d failed\n", name, checker.checks(), checker.failures());
  return checker.failures() ? 1 : 0;
}

}  // namespace protoot::test
