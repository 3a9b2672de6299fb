// tests/support/reference.hpp — run an independent reference (NumPy, POT, scikit-learn, faiss)
// on the same inputs as a protoot test.
//
// Data crosses as raw little-endian float64 files (numpy.fromfile / ndarray.tofile), so the
// tests depend on no protoot I/O code. Scripts live in tests/reference/ and run with Debian's
// /usr/bin/python3 (PROTOOT_REFERENCE_PYTHON), which scripts/install_deps.sh provisions.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

namespace protoot::test {

/// Writes a dense matrix/vector as row-major float64 to `path`.
template <class Derived>
void write_raw(const std::string& path, const Eigen::DenseBase<Derived>& x) {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m = x.derived().template cast<double>();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(m.data()), static_cast<std::streamsize>(m.size() * sizeof(double)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

/// Reads rows x cols row-major float64 from `path` (written by ndarray.astype(float).tofile).
inline Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> read_raw(
    const std::string& path, Eigen::Index rows, Eigen::Index cols) {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(rows, cols);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(m.data()), static_cast<std::streamsize>(m.size() * sizeof(double)));
  if (!in || in.gcount() != static_cast<std::streamsize>(m.size() * sizeof(double)))
    throw std::runtime_error("cannot read " + std::to_string(rows * cols) + " doubles from " + path);
  return m;
}

/// Creates and returns the directory `name`_float or `name`_double (by S) in the current
/// directory: where a float/double test case exchanges files with its reference script, so
/// the two instantiations never read each other's files.
template <class S>
std::string scratch_dir(const std::string& name) {
  const std::string dir = name + (std::is_same<S, float>::value ? "_float" : "_double");
  std::filesystem::create_directories(dir);
  return dir;
}

/// Runs tests/reference/<script> with `args` in the current directory; throws on failure so
/// a broken reference fails the test instead of passing it vacuously.
inline void run_reference(const std::string& script, const std::string& args = "") {
  const std::string command = std::string(PROTOOT_REFERENCE_PYTHON) + " " + PROTOOT_SOURCE_DIR +
                              "/tests/reference/" + script + " " + args;
  if (std::system(command.c_str()) != 0) throw std::runtime_error("reference failed: " + command);
}

}  // namespace protoot::test
