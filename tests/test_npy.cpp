// protoot::io .npy reader/writer against files written and read by NumPy itself.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "protoot/io/npy.hpp"
#include "support/reference.hpp"

using namespace protoot;

namespace {

const std::string dir = "npy_files";

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string with_header(const std::string& dict) {
  std::string h = dict;
  h.append(63 - (10 + h.size()) % 64, ' ');
  h += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + char(h.size() & 0xff) + char(h.size() >> 8) + h;
}

void make_numpy_files() {
  static bool done = false;
  if (done) return;
  std::system(("mkdir -p " + dir).c_str());
  test::run_reference("npy_reference.py", "write " + dir);
  done = true;
}

}  // namespace

TEMPLATE_TEST_CASE("read_npy reads every dtype, order and version NumPy writes", "[peers][npy]", float, double) {
  make_numpy_files();
  for (const std::string dt : {"f4", "f8", "i4", "i8"})
    for (const std::string order : {"C", "F"})
      for (const std::string version : {"1", "2", "3"})
        for (const int ndim : {0, 1, 2}) {
          const std::string path = dir + "/" + dt + "_" + order + "_" + version + "_" + std::to_string(ndim) + "d.npy";
          INFO(path);
          const Matrix<TestType> m = io::read_npy<TestType>(path);
          const Index rows = ndim == 2 ? 3 : ndim == 1 ? 5 : 1, cols = ndim == 2 ? 4 : 1;
          REQUIRE(m.rows() == rows);
          REQUIRE(m.cols() == cols);
          for (Index i = 0; i < rows; ++i)
            for (Index j = 0; j < cols; ++j) {
              const double flat = double(i * cols + j);
              const double expected = dt[0] == 'i' ? flat - 4 : flat * 1.5 - 4;
              REQUIRE(double(m(i, j)) == expected);
            }
          if (dt[0] == 'i' && ndim == 1) {
            const IndexVector labels = io::read_npy_labels(path);
            REQUIRE(labels.size() == 5);
            REQUIRE(labels(4) == 0);
          }
        }
}

TEST_CASE("write_npy output loads in NumPy with the right dtype, shape and values", "[peers][npy]") {
  std::system(("mkdir -p " + dir).c_str());
  Matrix<double> m(3, 5);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = double(i) * 0.75 - 3;
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor> col_major = m;  // any storage order
  const Vector<double> v = m.row(1).transpose();
  const auto save = [&](const std::string& dt, const auto& mat, const auto& vec) {
    io::write_npy(dir + "/rt_" + dt + "_m.npy", mat);
    io::write_npy(dir + "/rt_" + dt + "_v.npy", vec);
    test::write_raw(dir + "/expected_" + dt + "_m.f64", mat.template cast<double>());
    test::write_raw(dir + "/expected_" + dt + "_v.f64", vec.template cast<double>());
    // and our own reader gets the same values back
    REQUIRE(io::read_npy<double>(dir + "/rt_" + dt + "_m.npy") == mat.template cast<double>());
    REQUIRE(io::read_npy<double>(dir + "/rt_" + dt + "_v.npy").col(0) == vec.template cast<double>());
  };
  save("f8", col_major, v);
  save("f4", m.cast<float>().eval(), v.cast<float>().eval());
  const Matrix<double> integral = (m * 4).array().round().matrix();
  save("i4", integral.cast<std::int32_t>().eval(), v.cast<std::int32_t>().eval());
  save("i8", integral.cast<std::int64_t>().eval(), IndexVector(v.cast<Index>()));
  test::run_reference("npy_reference.py", "check " + dir);
}

TEST_CASE("malformed .npy input is rejected with a clear message", "[peers][npy]") {
  make_numpy_files();
  const std::vector<char> good = bytes_of(dir + "/f8_C_1_2d.npy");
  REQUIRE(good.size() == 128 + 12 * 8);
  // every truncation, including inside the header and the data
  for (std::size_t n = 0; n < good.size(); ++n)
    REQUIRE_THROWS_AS(io::parse_npy<double>(good.data(), n, "cut"), std::invalid_argument);
  const auto rejects = [](const std::string& bytes, const std::string& message) {
    REQUIRE_THROWS_WITH(io::parse_npy<float>(bytes.data(), bytes.size(), "x.npy"),
                        Catch::Contains("x.npy") && Catch::Contains(message));
  };
  rejects(std::string("\x93NUMPX\x01\x00\x10\x00", 10) + std::string(16, ' '), "bad magic");
  rejects(std::string("\x93NUMPY\x04\x00\x10\x00", 10) + std::string(16, ' '), "version 4");
  rejects(std::string("\x93NUMPY\x01\x00\xff\x00", 10) + "{}", "truncated header");
  rejects(with_header("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, '\0'), "dtype '>f8'");
  rejects(with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, '\0'), "dtype");
  rejects(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }") + std::string(8, '\0'),
          "more than 2 dimensions");
  rejects(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), "data size");
  rejects(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }"), "too large");
  rejects(with_header("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }") + std::string(8, '\0'), "True or False");
  rejects(with_header("{'descr': '<f8', 'shape': (1,), }") + std::string(8, '\0'), "lacks");
  rejects(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }") + std::string(8, '\0'), "data size");
  rejects(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }") + std::string(9, '\0'), "data size");
  rejects(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}") + std::string(8, '\0'),
          "unknown header key");
  // An empty array with a huge row count is legal and must load at once (the fuzzer found a
  // reader that looped over its 2^60 empty rows).
  const std::string empty = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1152921504606846976, 0), }");
  const Matrix<float> none = io::parse_npy<float>(empty.data(), empty.size());
  CHECK(none.rows() == Index(1) << 60);
  CHECK(none.cols() == 0);
  REQUIRE_THROWS_WITH(io::read_npy<double>(dir + "/no_such_file.npy"), Catch::Contains("cannot open"));
  REQUIRE_THROWS_WITH(io::read_npy_labels(dir + "/f8_C_1_1d.npy"), Catch::Contains("int32 or int64"));
  REQUIRE_THROWS_WITH(io::read_npy_labels(dir + "/i8_C_1_2d.npy"), Catch::Contains("shape (n,)"));
}
