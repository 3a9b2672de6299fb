// protoot/io/detail/mapped_npy_impl.hpp — definitions of protoot/io/mapped_npy.hpp.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>
#include <utility>

#include "protoot/detail/validation.hpp"
#include "protoot/io/mapped_npy.hpp"

namespace protoot::io {

template <class S>
MappedNpy<S>::MappedNpy(const std::string& path) : path_(path) {
  static_assert(std::is_same<S, float>::value || std::is_same<S, double>::value,
                "protoot::io::MappedNpy: S must be float or double");
  constexpr const char* where = "MappedNpy";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) protoot::detail::fail(where, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat info {};
  const bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  if (!regular || info.st_size <= 0) {
    ::close(fd);
    protoot::detail::fail(where, "'" + path + "' is not a regular, non-empty file");
  }
  size_ = static_cast<std::size_t>(info.st_size);
  void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_error = errno;
  ::close(fd);  // the mapping keeps the file open
  if (mapped == MAP_FAILED)
    throw std::runtime_error("protoot::MappedNpy: cannot map '" + path + "': " + std::strerror(map_error));
  base_ = static_cast<const char*>(mapped);
  ::madvise(mapped, size_, MADV_SEQUENTIAL);  // a hint only: passes read the rows in order
  try {
    header_ = parse_npy_header(base_, size_, path);
    const NpyDtype wanted = std::is_same<S, float>::value ? NpyDtype::float32 : NpyDtype::float64;
    const auto need = [&](bool ok, const std::string& what) { protoot::detail::require(ok, where, "'" + path + "': " + what); };
    need(header_.dtype == wanted, std::string("dtype must be ") + (std::is_same<S, float>::value ? "'<f4' (float32)" : "'<f8' (float64)") +
                                      " to be mapped as this scalar (convert the file with numpy's astype)");
    need(!header_.fortran_order, "Fortran-ordered data cannot be mapped row by row (save it C-ordered)");
    need(header_.ndim == 2, "a mapped file must be 2-d (rows x features)");
    need(header_.rows > 0 && header_.cols > 0, "the array is empty");
    need(header_.data_offset % alignof(S) == 0, "the data is not aligned to its scalar size");
  } catch (...) {
    ::munmap(mapped, size_);
    throw;
  }
}

template <class S>
MappedNpy<S>::MappedNpy(MappedNpy&& other) noexcept
    : path_(std::move(other.path_)), header_(other.header_), base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

template <class S>
MappedNpy<S>& MappedNpy<S>::operator=(MappedNpy&& other) noexcept {
  if (this != &other) {
    if (base_) ::munmap(const_cast<char*>(base_), size_);
    path_ = std::move(other.path_);
    header_ = other.header_;
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

template <class S>
MappedNpy<S>::~MappedNpy() {
  if (base_) ::munmap(const_cast<char*>(base_), size_);
}

template <class S>
typename MappedNpy<S>::RowsMap MappedNpy<S>::matrix() const {
  return RowsMap(reinterpret_cast<const S*>(base_ + header_.data_offset), rows(), cols());
}

template <class S>
void MappedNpy<S>::release(Index first, Index count) const {
  if (count <= 0 || first < 0 || first >= rows()) return;
  count = std::min(count, rows() - first);
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t row_bytes = static_cast<std::size_t>(cols()) * sizeof(S);
  const std::size_t begin = header_.data_offset + static_cast<std::size_t>(first) * row_bytes;
  const std::size_t end = begin + static_cast<std::size_t>(count) * row_bytes;
  const std::size_t page_begin = begin / page * page, page_end = std::min(size_, (end + page - 1) / page * page);
  // Clean private pages of a file: dropping them loses nothing (they are read again on use).
  ::madvise(const_cast<char*>(base_) + page_begin, page_end - page_begin, MADV_DONTNEED);
}

}  // namespace protoot::io
