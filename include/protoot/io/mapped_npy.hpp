// protoot/io/mapped_npy.hpp — a read-only memory map of a 2-d .npy file, for data larger than
// memory (out_of_core.hpp streams top-k and K-means over it).
//
// The file is mapped, not read: pages come in from the page cache as rows are touched, and
// release() hands them back, so a pass over a 4 GiB file can keep only a window of it resident.
// POSIX (mmap/madvise); Linux and the BSDs.
#pragma once

#include <cstddef>
#include <string>

#include "protoot/io/npy.hpp"
#include "protoot/types.hpp"

namespace protoot::io {

/// Read-only view of a C-ordered 2-d .npy file of scalar S ('<f4' for float, '<f8' for double),
/// rows x cols, without loading it. Move-only; unmaps on destruction. The header is validated as
/// read_npy does (untrusted file; the data size must match the shape exactly).
/// Throws std::invalid_argument naming the file when it is missing, not a regular file,
/// malformed, of another dtype than S (convert it with numpy's astype), Fortran-ordered, not 2-d,
/// or empty; std::runtime_error when mmap itself fails.
template <class S>
class MappedNpy {
 public:
  using RowsMap = Eigen::Map<const Matrix<S>>;

  explicit MappedNpy(const std::string& path);
  MappedNpy(MappedNpy&& other) noexcept;
  MappedNpy& operator=(MappedNpy&& other) noexcept;
  MappedNpy(const MappedNpy&) = delete;
  MappedNpy& operator=(const MappedNpy&) = delete;
  ~MappedNpy();

  Index rows() const { return header_.rows; }
  Index cols() const { return header_.cols; }
  const std::string& path() const { return path_; }

  /// All rows as a row-major Eigen map (touching an entry pages it in).
  RowsMap matrix() const;

  /// Drops rows [first, first + count) from this process's memory (madvise MADV_DONTNEED over
  /// the pages they span, rounded out to whole pages): a later read pages them in again from
  /// the page cache or the disk, unchanged. Safe while other threads read the same pages.
  void release(Index first, Index count) const;

 private:
  std::string path_;
  NpyHeader header_{};
  const char* base_ = nullptr;  // the whole file, mapped
  std::size_t size_ = 0;
};

}  // namespace protoot::io

#include "protoot/io/detail/mapped_npy_impl.hpp"
