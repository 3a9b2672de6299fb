// protoot/io/detail/npy_impl.hpp — definitions of protoot/io/npy.hpp.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include <sys/stat.h>

#include "protoot/detail/validation.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/types.hpp"

namespace protoot::io {
namespace detail {

inline std::size_t itemsize(NpyDtype t) {
  return (t == NpyDtype::float32 || t == NpyDtype::int32) ? 4 : 8;
}

inline bool is_integer(NpyDtype t) { return t == NpyDtype::int32 || t == NpyDtype::int64; }

/// Minimal parser for the Python dict literal of a .npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const char* text, std::size_t size, const std::string& where) : s_(text), n_(size), where_(where) {}

  NpyHeader parse() {
    std::string descr;
    bool fortran = false, have_descr = false, have_order = false, have_shape = false;
    std::vector<Index> shape;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        shape = parse_shape();
        have_shape = true;
      } else {
        bad("unknown header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++i_;
    }
    if (!have_descr || !have_order || !have_shape) bad("header lacks 'descr', 'fortran_order' or 'shape'");
    NpyHeader h{};
    h.dtype = parse_descr(descr);
    h.fortran_order = fortran;
    h.ndim = static_cast<int>(shape.size());
    if (h.ndim > 2) bad("arrays with more than 2 dimensions are not supported");
    h.rows = h.ndim >= 1 ? shape[0] : 1;
    h.cols = h.ndim == 2 ? shape[1] : 1;
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const { protoot::detail::fail("read_npy", where_ + ": " + what); }

  char peek() const {
    if (i_ >= n_) bad("header ends early");
    return s_[i_];
  }
  void skip_space() {
    while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("malformed header: expected '") + c + "'");
    ++i_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("malformed header: expected a quoted string");
    const std::size_t start = ++i_;
    while (peek() != quote) ++i_;
    return std::string(s_ + start, s_ + i_++);
  }
  bool parse_bool() {
    skip_space();
    for (const char* word : {"True", "False"}) {
      const std::size_t len = std::strlen(word);
      if (n_ - i_ >= len && std::memcmp(s_ + i_, word, len) == 0) {
        i_ += len;
        return word[0] == 'T';
      }
    }
    bad("malformed header: 'fortran_order' is not True or False");
  }
  std::vector<Index> parse_shape() {
    std::vector<Index> shape;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') bad("malformed header: bad shape entry");
      Index value = 0;
      constexpr Index limit = std::numeric_limits<Index>::max() / 10 - 10;
      while (peek() >= '0' && peek() <= '9') {
        if (value > limit) bad("shape entry too large");
        value = value * 10 + (s_[i_++] - '0');
      }
      shape.push_back(value);
      skip_space();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad("malformed header: bad shape tuple");
    }
    ++i_;
    return shape;
  }
  NpyDtype parse_descr(const std::string& d) const {
    if (d.size() == 3 && (d[0] == '<' || d[0] == '|' || d[0] == '=')) {
      const std::string t = d.substr(1);
      if (t == "f4") return NpyDtype::float32;
      if (t == "f8") return NpyDtype::float64;
      if (t == "i4") return NpyDtype::int32;
      if (t == "i8") return NpyDtype::int64;
    }
    bad("unsupported dtype '" + d + "' (supported: little-endian f4, f8, i4, i8)");
  }

  const char* s_;
  std::size_t n_;
  std::size_t i_ = 0;
  const std::string& where_;
};

/// Raw converted to S, or a clear error naming the file when the value does not fit S (a
/// double 1e300 read as float would silently become +Inf; a huge double cast to int is UB).
template <class Raw, class S>
S load_checked(const char* p, const std::string& name) {
  Raw value;
  std::memcpy(&value, p, sizeof(Raw));  // the data block need not be aligned for Raw
  if constexpr (std::is_floating_point_v<Raw> && std::is_floating_point_v<S> && sizeof(S) < sizeof(Raw)) {
    if (std::isfinite(value) && std::abs(value) > Raw(std::numeric_limits<S>::max()))
      protoot::detail::fail("read_npy", name + ": value " + std::to_string(value) + " is out of range for float");
  } else if constexpr (std::is_floating_point_v<Raw> && std::is_integral_v<S>) {
    // 2^63 is exact in double; the range check also rejects NaN.
    if (!(value >= Raw(std::numeric_limits<S>::min()) && value < -Raw(std::numeric_limits<S>::min())) ||
        value != std::trunc(value))
      protoot::detail::fail("read_npy", name + ": value " + std::to_string(value) + " is not an integer in range");
  } else if constexpr (std::is_integral_v<Raw> && std::is_integral_v<S> && sizeof(S) < sizeof(Raw)) {
    if (value < Raw(std::numeric_limits<S>::min()) || value > Raw(std::numeric_limits<S>::max()))
      protoot::detail::fail("read_npy", name + ": value " + std::to_string(value) + " is out of range");
  }
  return static_cast<S>(value);
}

template <class S>
S load_as(NpyDtype t, const char* p, const std::string& name) {
  switch (t) {
    case NpyDtype::float32: return load_checked<float, S>(p, name);
    case NpyDtype::float64: return load_checked<double, S>(p, name);
    case NpyDtype::int32: return load_checked<std::int32_t, S>(p, name);
    default: return load_checked<std::int64_t, S>(p, name);
  }
}

template <class S>
constexpr const char* descr_of() {
  if constexpr (std::is_floating_point_v<S> && sizeof(S) == 4) return "<f4";
  else if constexpr (std::is_floating_point_v<S> && sizeof(S) == 8) return "<f8";
  else if constexpr (std::is_integral_v<S> && std::is_signed_v<S> && sizeof(S) == 4) return "<i4";
  else if constexpr (std::is_integral_v<S> && std::is_signed_v<S> && sizeof(S) == 8) return "<i8";
  else static_assert(sizeof(S) == 0, "write_npy supports float, double, int32 and int64 scalars");
}

inline std::vector<char> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) protoot::detail::fail("read_npy", "'" + path + "' is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) protoot::detail::fail("read_npy", "cannot open '" + path + "'");
  std::vector<char> bytes;
  try {  // a read error may surface as std::ios_base::failure, which would not name the file
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    protoot::detail::fail("read_npy", "error while reading '" + path + "'");
  }
  if (in.bad()) protoot::detail::fail("read_npy", "error while reading '" + path + "'");
  return bytes;
}

/// Writes `bytes` to `path` all or nothing: into a temporary file in the same folder, flushed to
/// disk (fsync), then renamed over `path`. A full disk or a killed process leaves the previous
/// file intact (and at worst a stray temporary), never a truncated file under `path`.
inline void write_file_atomically(const std::string& path, const std::string& bytes) {
  const auto fail = [&](const std::string& what) {
    protoot::detail::fail("write_npy", what + " '" + path + "': " + std::strerror(errno));
  };
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) fail("cannot create a temporary file next to");
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ::ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      errno = error;
      fail("error while writing");
    }
    written += static_cast<std::size_t>(n);
  }
  // mkstemp creates the file 0600; give it the permissions a plain create would (0666 & ~umask).
  const ::mode_t mask = ::umask(0);
  ::umask(mask);
  const bool ok = ::fchmod(fd, 0666 & ~mask) == 0 && ::fsync(fd) == 0;
  const int error = errno;
  if (::close(fd) != 0 || !ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    if (ok) errno = error;
    ::unlink(temporary.c_str());
    fail("error while writing");
  }
}

}  // namespace detail

inline NpyHeader parse_npy_header(const char* data, std::size_t size, const std::string& name) {
  const auto bad = [&](const std::string& what) { protoot::detail::fail("read_npy", name + ": " + what); };
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) bad("not a .npy file (bad magic string)");
  const auto major = static_cast<unsigned char>(data[6]);
  if (major < 1 || major > 3) bad("unsupported .npy format version " + std::to_string(major));
  const std::size_t prefix = major == 1 ? 10 : 12;
  if (size < prefix) bad("truncated header");
  std::size_t header_len = static_cast<unsigned char>(data[8]) | (std::size_t(static_cast<unsigned char>(data[9])) << 8);
  if (major > 1)
    header_len |= (std::size_t(static_cast<unsigned char>(data[10])) << 16) |
                  (std::size_t(static_cast<unsigned char>(data[11])) << 24);
  if (header_len > size - prefix) bad("truncated header (declares " + std::to_string(header_len) + " bytes)");
  NpyHeader h = detail::HeaderParser(data + prefix, header_len, name).parse();
  h.data_offset = prefix + header_len;
  const std::size_t available = size - h.data_offset;
  const std::size_t item = detail::itemsize(h.dtype);
  const auto rows = static_cast<std::size_t>(h.rows), cols = static_cast<std::size_t>(h.cols);
  const bool overflow = (cols != 0 && rows > std::numeric_limits<std::size_t>::max() / cols) ||
                        (rows * cols != 0 && item > std::numeric_limits<std::size_t>::max() / (rows * cols));
  if (overflow || rows * cols * item != available)
    bad("data size mismatch: shape (" + std::to_string(h.rows) + ", " + std::to_string(h.cols) + ") needs " +
        (overflow ? std::string("more than addressable") : std::to_string(rows * cols * item)) + " bytes, file has " +
        std::to_string(available));
  return h;
}

template <class S>
Matrix<S> parse_npy(const char* data, std::size_t size, const std::string& name) {
  const NpyHeader h = parse_npy_header(data, size, name);
  Matrix<S> m(h.rows, h.cols);
  const char* p = data + h.data_offset;
  const std::size_t item = detail::itemsize(h.dtype), count = static_cast<std::size_t>(m.size());
  // One pass over the file's elements, not rows x cols: a legal empty shape such as (2^60, 0)
  // must not cost 2^60 steps. Element t is (t / cols, t % cols) in C order, (t % rows, t / rows)
  // in Fortran order.
  for (std::size_t t = 0; t < count; ++t) {
    const auto i = static_cast<Index>(h.fortran_order ? t % std::size_t(h.rows) : t / std::size_t(h.cols));
    const auto j = static_cast<Index>(h.fortran_order ? t / std::size_t(h.rows) : t % std::size_t(h.cols));
    m(i, j) = detail::load_as<S>(h.dtype, p + t * item, name);
  }
  return m;
}

template <class S>
Matrix<S> read_npy(const std::string& path) {
  const std::vector<char> bytes = detail::read_file(path);
  return parse_npy<S>(bytes.data(), bytes.size(), path);
}

inline IndexVector parse_npy_labels(const char* data, std::size_t size, const std::string& name) {
  const NpyHeader h = parse_npy_header(data, size, name);
  if (!detail::is_integer(h.dtype)) protoot::detail::fail("read_npy_labels", name + ": labels must be int32 or int64");
  if (h.ndim == 0 || h.cols != 1)
    protoot::detail::fail("read_npy_labels", name + ": labels must have shape (n,) or (n, 1)");
  return parse_npy<Index>(data, size, name).col(0);
}

inline IndexVector read_npy_labels(const std::string& path) {
  const std::vector<char> bytes = detail::read_file(path);
  return parse_npy_labels(bytes.data(), bytes.size(), path);
}

template <class Derived>
void write_npy(const std::string& path, const Eigen::DenseBase<Derived>& x) {
  using S = typename Derived::Scalar;
  const Matrix<S> m = x.derived();  // row-major: the bytes are in C order
  const bool vector = Derived::ColsAtCompileTime == 1 || Derived::RowsAtCompileTime == 1;
  const std::string shape = vector ? "(" + std::to_string(m.size()) + ",)"
                                   : "(" + std::to_string(m.rows()) + ", " + std::to_string(m.cols()) + ")";
  std::string header = std::string("{'descr': '") + detail::descr_of<S>() + "', 'fortran_order': False, 'shape': " +
                       shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // NumPy pads magic + header to a multiple of 64
  header += '\n';
  if (header.size() > 65535) protoot::detail::fail("write_npy", path + ": header too long");
  const char prefix[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<char>(header.size() & 0xff),
                           static_cast<char>(header.size() >> 8)};
  std::string bytes(prefix, sizeof prefix);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(m.data()), static_cast<std::size_t>(m.size()) * sizeof(S));
  detail::write_file_atomically(path, bytes);
}

}  // namespace protoot::io
