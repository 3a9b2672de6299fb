// benchmarks/bench_inputs.hpp — how a benchmark reads its settings and the inputs a peer script
// wrote: PROTOOT_BENCH_* environment variables and raw row-major binary files (ndarray.tofile),
// so protoot and its peers time the very same data.
#pragma once

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "protoot/types.hpp"

namespace protoot::bench {

/// rows x d float32 standard-normal entries from a fixed seed (the generated inputs).
inline Matrix<float> gaussian_rows(Index rows, Index d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  Matrix<float> x(rows, d);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  return x;
}

/// The number in environment variable `name`, or `fallback` when it is unset.
inline double env_number(const char* name, double fallback) {
  const char* value = std::getenv(name);
  return value ? std::stod(value) : fallback;
}

/// The whole number in environment variable `name`, or `fallback` when it is unset.
inline Index env_index(const char* name, Index fallback) {
  const char* value = std::getenv(name);
  return value ? static_cast<Index>(std::stoll(value)) : fallback;
}

/// The size of the file at `path` in bytes; throws std::runtime_error when it cannot be opened.
inline Index file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("benchmark input: cannot open " + path);
  return static_cast<Index>(in.tellg());
}

/// The file at `path` as a row-major rows x cols matrix of T (raw, no header). Throws
/// std::runtime_error unless the file holds exactly rows * cols values of T.
template <class T>
Matrix<T> read_matrix(const std::string& path, Index rows, Index cols) {
  const Index bytes = file_bytes(path);
  if (bytes != rows * cols * Index(sizeof(T)))
    throw std::runtime_error("benchmark input: " + path + " holds " + std::to_string(bytes) + " bytes, not " +
                             std::to_string(rows) + " x " + std::to_string(cols) + " values of " +
                             std::to_string(sizeof(T)) + " bytes");
  Matrix<T> x(rows, cols);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(x.data()), static_cast<std::streamsize>(bytes));
  if (!in) throw std::runtime_error("benchmark input: short read of " + path);
  return x;
}

/// The file at `path` as a vector of T, its length taken from the file size.
template <class T>
Vector<T> read_vector(const std::string& path) {
  return read_matrix<T>(path, file_bytes(path) / Index(sizeof(T)), 1);
}

}  // namespace protoot::bench
