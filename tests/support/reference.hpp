// tests/support/reference.hpp — run an independent reference (NumPy, POT, scikit-learn, faiss)
// on the same inputs as a protoot test.
//
// Data crosses as raw little-endian float64 files (numpy.fromfile / ndarray.tofile), so the
// tests depend on no protoot I/O code. Scripts live in tests/reference/ and run with
// PROTOOT_REFERENCE_PYTHON (CMake cache variable; scripts/install_deps.sh provisions Debian's
// python3 with numpy, POT, scikit-learn and faiss). Test cases that call them are tagged [peers].
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
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

/// Exits with 77, which CTest reports as Skipped, when PROTOOT_REFERENCE_PYTHON cannot import a
/// module that tests/reference/<script> imports: a missing peer is named, never a failure.
inline void skip_unless_modules_of(const std::string& script) {
  static std::set<std::string> checked;
  if (!checked.insert(script).second) return;
  const std::string path = std::string(PROTOOT_SOURCE_DIR) + "/tests/reference/" + script;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  const std::regex import_line(R"(^\s*(?:import|from)\s+([A-Za-z_]\w*))");
  std::string line, modules;
  for (std::smatch match; std::getline(in, line);)
    if (std::regex_search(line, match, import_line)) modules += (modules.empty() ? "" : ", ") + match[1].str();
  if (modules.empty()) return;
  const std::string check = std::string(PROTOOT_REFERENCE_PYTHON) + " -c \"import " + modules + "\" > /dev/null 2>&1";
  if (std::system(check.c_str()) == 0) return;
  std::cout << "SKIPPED: tests/reference/" << script << " needs the Python modules " << modules << " in "
            << PROTOOT_REFERENCE_PYTHON << " (scripts/install_deps.sh installs them; or configure with "
            << "-DPROTOOT_REFERENCE_PYTHON=<a python that has them>)" << std::endl;
  std::exit(77);
}

/// Runs tests/reference/<script> with `args` in the current directory; throws on failure so
/// a broken reference fails the test instead of passing it vacuously. Skips the test executable
/// (see skip_unless_modules_of) where the script's modules are missing.
inline void run_reference(const std::string& script, const std::string& args = "") {
  skip_unless_modules_of(script);
  const std::string command = std::string(PROTOOT_REFERENCE_PYTHON) + " " + PROTOOT_SOURCE_DIR +
                              "/tests/reference/" + script + " " + args;
  if (std::system(command.c_str()) != 0) throw std::runtime_error("reference failed: " + command);
}

}  // namespace protoot::test
