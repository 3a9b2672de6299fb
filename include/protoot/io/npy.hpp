// protoot/io/npy.hpp — read and write NumPy .npy files (header-only, no dependencies).
//
// Features and labels travel between Python and protoot as .npy files. Supported: dtypes
// float32/float64/int32/int64, little-endian, C or Fortran order, format versions 1.0/2.0/3.0,
// arrays of 0, 1 or 2 dimensions. The reader treats the file as untrusted: every length and
// offset is checked before it is used (header length, shape product overflow, data size), so a
// malformed or truncated file gives std::invalid_argument naming the file and the problem,
// never a crash or an out-of-bounds read (tests/fuzz/fuzz_npy.cpp checks this with libFuzzer).
#pragma once

#include <cstddef>
#include <string>

#include "protoot/types.hpp"

namespace protoot::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "protoot .npy I/O assumes a little-endian host");

/// Element types protoot reads and writes ('<f4', '<f8', '<i4', '<i8').
enum class NpyDtype { float32, float64, int32, int64 };

/// What the header of a .npy buffer says, after validation against the buffer's size.
struct NpyHeader {
  NpyDtype dtype;
  bool fortran_order;
  Index rows;              ///< shape[0] (1 for a 0-d array)
  Index cols;              ///< shape[1] (1 for 0-d and 1-d arrays)
  int ndim;                ///< 0, 1 or 2
  std::size_t data_offset; ///< byte offset of the first element
};

/// Parses and validates the header of an in-memory .npy file of `size` bytes; `name` appears in
/// error messages. Guarantees data_offset + rows * cols * itemsize == size (no overflow).
inline NpyHeader parse_npy_header(const char* data, std::size_t size, const std::string& name);

/// Parses an in-memory .npy file into a rows x cols matrix of S (any supported dtype converted;
/// 0-d arrays become 1 x 1, 1-d arrays n x 1). O(size) time, one pass over the data.
template <class S>
Matrix<S> parse_npy(const char* data, std::size_t size, const std::string& name = "<buffer>");

/// Reads a .npy file as a Matrix<S> (see parse_npy). Throws std::invalid_argument naming `path`
/// when the file is missing, a directory, malformed, truncated, of more than 2 dimensions, or
/// holds a value S cannot represent (e.g. 1e300 in an f8 file read as float).
template <class S>
Matrix<S> read_npy(const std::string& path);

/// Parses integer labels (int32/int64, shape (n,) or (n, 1)) from an in-memory .npy file.
inline IndexVector parse_npy_labels(const char* data, std::size_t size, const std::string& name = "<buffer>");

/// Reads integer labels from a .npy file (see parse_npy_labels).
inline IndexVector read_npy_labels(const std::string& path);

/// Writes `x` as a version 1.0, C-ordered .npy file, atomically (a temporary file in the same
/// folder, fsync, rename: on failure the previous file at `path` is untouched); the dtype follows the scalar type (float ->
/// '<f4', double -> '<f8', int32 -> '<i4', int64 -> '<i8'). Compile-time vectors are written 1-d.
template <class Derived>
void write_npy(const std::string& path, const Eigen::DenseBase<Derived>& x);

}  // namespace protoot::io

#include "protoot/io/detail/npy_impl.hpp"
