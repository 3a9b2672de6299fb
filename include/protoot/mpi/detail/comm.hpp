// protoot/mpi/detail/comm.hpp — the MPI plumbing shared by protoot/mpi: row layouts of sharded
// matrices, collective argument checks (every rank throws the same error, none hangs), row
// redistribution and sums whose rounding does not depend on the number of processes.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "protoot/types.hpp"
#include "protoot/detail/validation.hpp"

namespace protoot::mpi::detail {

template <class T>
MPI_Datatype datatype() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, int>) return MPI_INT;
  else {
    static_assert(std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 8, "unsupported MPI element type");
    return MPI_INT64_T;
  }
}

/// Throws (locally, no communication) when `comm` is MPI_COMM_NULL: there is nothing to agree with.
inline void require_communicator(MPI_Comm comm, const char* where) {
  if (comm == MPI_COMM_NULL) protoot::detail::fail(where, "the communicator is MPI_COMM_NULL (empty)");
}

/// Rows of a matrix sharded over the ranks of a communicator in rank order: rank r holds the
/// global rows [offsets[r], offsets[r + 1]).
struct RowLayout {
  int rank = 0, size = 1;
  std::vector<Index> offsets;  // size + 1 entries
  Index rows() const { return offsets.back(); }
  Index first() const { return offsets[std::size_t(rank)]; }
  Index local_rows() const { return offsets[std::size_t(rank) + 1] - first(); }
  /// The rank holding global row i (the last one if several hold nothing before it).
  int owner(Index i) const {
    return int(std::upper_bound(offsets.begin(), offsets.end(), i) - offsets.begin()) - 1;
  }
};

/// Collective: the layout of a matrix of which this rank holds `local_rows` rows.
inline RowLayout row_layout(MPI_Comm comm, Index local_rows) {
  RowLayout layout;
  MPI_Comm_rank(comm, &layout.rank);
  MPI_Comm_size(comm, &layout.size);
  std::vector<std::int64_t> counts(std::size_t(layout.size));
  const std::int64_t mine = local_rows;
  MPI_Allgather(&mine, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, comm);
  layout.offsets.assign(std::size_t(layout.size) + 1, 0);
  for (int r = 0; r < layout.size; ++r) layout.offsets[std::size_t(r) + 1] = layout.offsets[std::size_t(r)] + counts[std::size_t(r)];
  return layout;
}

/// A collective argument check. Each rank runs its local checks (`local`) and declares values
/// that must agree across ranks (`same`); `finish` then throws std::invalid_argument on EVERY
/// rank if any rank failed, with the first failing rank's message, so no rank goes on into a
/// collective that the others left. Every rank must make the same sequence of `same` calls.
class CollectiveCheck {
 public:
  CollectiveCheck(MPI_Comm comm, const char* where) : comm_(comm), where_(where) {
    require_communicator(comm, where);
    MPI_Comm_rank(comm, &rank_);
    MPI_Comm_size(comm, &size_);
  }

  /// Runs `checks`, recording the std::invalid_argument it throws (the first one only).
  template <class Checks>
  void local(Checks&& checks) {
    if (!error_.empty()) return;
    try {
      checks();
    } catch (const std::invalid_argument& e) {
      error_ = e.what();
    }
  }

  /// Records an error unless the `count` values (bitwise) are the same on every rank.
  template <class T>
  void same(const std::string& name, const T* values, Index count) {
    std::int64_t bytes[2] = {std::int64_t(count * Index(sizeof(T))), -std::int64_t(count * Index(sizeof(T)))};
    MPI_Allreduce(MPI_IN_PLACE, bytes, 2, MPI_INT64_T, MPI_MIN, comm_);
    std::string mismatch;
    if (bytes[0] != -bytes[1]) {
      mismatch = name + " has different sizes on different ranks";
    } else {
      std::vector<char> root(static_cast<std::size_t>(bytes[0]));
      if (rank_ == 0 && bytes[0] > 0) std::memcpy(root.data(), values, root.size());
      MPI_Bcast(root.data(), int(root.size()), MPI_BYTE, 0, comm_);
      int differs = bytes[0] > 0 && std::memcmp(root.data(), values, root.size()) != 0;
      MPI_Allreduce(MPI_IN_PLACE, &differs, 1, MPI_INT, MPI_LOR, comm_);
      if (differs) mismatch = name + " differs across ranks (it must be the same on every rank)";
    }
    if (!mismatch.empty() && error_.empty()) error_ = std::string("protoot::") + where_ + ": " + mismatch;
  }
  template <class T>
  void same(const std::string& name, const T& value) {
    same(name, &value, 1);
  }

  /// Throws on every rank when any rank recorded an error (collective).
  void finish() {
    int first_failing = error_.empty() ? size_ : rank_;
    MPI_Allreduce(MPI_IN_PLACE, &first_failing, 1, MPI_INT, MPI_MIN, comm_);
    if (first_failing == size_) return;
    int length = int(error_.size());
    MPI_Bcast(&length, 1, MPI_INT, first_failing, comm_);
    std::string message(std::size_t(length), '\0');
    if (rank_ == first_failing) message = error_;
    MPI_Bcast(message.data(), length, MPI_CHAR, first_failing, comm_);
    throw std::invalid_argument(message + " [reported by rank " + std::to_string(first_failing) + " of " +
                                std::to_string(size_) + "]");
  }

 private:
  MPI_Comm comm_;
  const char* where_;
  int rank_ = 0, size_ = 1;
  std::string error_;
};

/// Collective: the feature dimension d shared by every non-empty shard (`cols` here); an empty
/// shard may have any number of columns. Records an error in `check` when they differ or all
/// shards are empty; returns d (0 when all are empty).
inline Index agreed_width(MPI_Comm comm, CollectiveCheck& check, const char* where, Index rows, Index cols,
                          const char* name) {
  std::int64_t range[2] = {rows > 0 ? std::int64_t(cols) : INT64_MAX, rows > 0 ? -std::int64_t(cols) : INT64_MAX};
  MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT64_T, MPI_MIN, comm);
  check.local([&] {
    protoot::detail::require(range[0] != INT64_MAX, where, std::string(name) + " is empty on every rank");
    protoot::detail::require(range[0] == -range[1], where,
                             std::string(name) + " shards have different feature dimensions (between " +
                                 std::to_string(range[0]) + " and " + std::to_string(-range[1]) + " columns)");
  });
  return range[0] == INT64_MAX ? 0 : Index(range[0]);
}

/// An MPI datatype of `bytes` contiguous bytes (counts then fit in an int up to 2^31 items);
/// freed when the object goes.
class ContiguousType {
 public:
  explicit ContiguousType(Index bytes) {
    MPI_Type_contiguous(int(bytes), MPI_BYTE, &type_);
    MPI_Type_commit(&type_);
  }
  ~ContiguousType() { MPI_Type_free(&type_); }
  ContiguousType(const ContiguousType&) = delete;
  ContiguousType& operator=(const ContiguousType&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_;
};

/// Collective: moves rows of `width` T values (row-major) from layout `from` to layout `to` of
/// the same global rows; returns this rank's rows under `to`.
template <class T>
std::vector<T> move_rows(MPI_Comm comm, const T* data, Index width, const RowLayout& from,
                         const std::vector<Index>& to) {
  const int P = from.size, me = from.rank;
  std::vector<int> send_counts(P), send_displs(P), recv_counts(P), recv_displs(P);
  auto overlap = [](Index a0, Index a1, Index b0, Index b1) { return std::max<Index>(0, std::min(a1, b1) - std::max(a0, b0)); };
  for (int q = 0; q < P; ++q) {  // in rows; rows leave and arrive in global order, contiguously
    send_counts[q] = int(overlap(from.offsets[me], from.offsets[me + 1], to[q], to[q + 1]));
    recv_counts[q] = int(overlap(from.offsets[q], from.offsets[q + 1], to[me], to[me + 1]));
    send_displs[q] = int(std::max(from.offsets[me], to[q]) - from.offsets[me]);
    recv_displs[q] = int(std::max(from.offsets[q], to[me]) - to[me]);
  }
  std::vector<T> received(static_cast<std::size_t>((to[me + 1] - to[me]) * width));
  const ContiguousType row(std::max<Index>(width, 1) * Index(sizeof(T)));
  MPI_Alltoallv(data, send_counts.data(), send_displs.data(), row.get(), received.data(), recv_counts.data(),
                recv_displs.data(), row.get(), comm);
  return received;
}

/// Collective: the sum of `length`-long partial vectors, one per chunk of a global sequence of
/// chunks that ranks own in rank order (this rank: `mine` chunks, row-major in `partials`),
/// added left to right in global chunk order. The rounding is therefore that of one process
/// adding the chunks in order, whatever the number of ranks. Each rank sums a 1/P slice of the
/// vector (Alltoallv) and the slices are then shared (Allgatherv): per rank about
/// (mine + total_chunks / P + 1) * length values travel.
inline std::vector<double> ordered_chunk_sum(MPI_Comm comm, const std::vector<double>& partials, Index mine,
                                             Index length) {
  int P, me;
  MPI_Comm_size(comm, &P);
  MPI_Comm_rank(comm, &me);
  std::vector<std::int64_t> chunks(P);
  const std::int64_t my_chunks = mine;
  MPI_Allgather(&my_chunks, 1, MPI_INT64_T, chunks.data(), 1, MPI_INT64_T, comm);
  auto slice = [&](int q) { return length * q / P; };
  std::vector<int> send_counts(P), send_displs(P), recv_counts(P), recv_displs(P);
  std::vector<double> send(std::size_t(mine * length));
  int at = 0;
  for (int q = 0; q < P; ++q) {
    const Index width = slice(q + 1) - slice(q);
    send_displs[q] = at;
    for (Index c = 0; c < mine; ++c)
      for (Index t = slice(q); t < slice(q + 1); ++t) send[std::size_t(at++)] = partials[std::size_t(c * length + t)];
    send_counts[q] = int(mine * width);
  }
  const Index my_width = slice(me + 1) - slice(me);
  int total = 0;
  Index all_chunks = 0;
  for (int r = 0; r < P; ++r) {
    recv_displs[r] = total;
    recv_counts[r] = int(chunks[r] * my_width);
    total += recv_counts[r];
    all_chunks += chunks[r];
  }
  std::vector<double> received(static_cast<std::size_t>(total));
  MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_DOUBLE, received.data(), recv_counts.data(),
                recv_displs.data(), MPI_DOUBLE, comm);
  std::vector<double> my_slice(std::size_t(my_width), 0.0);
  for (Index c = 0; c < all_chunks; ++c)  // chunks arrive in global order
    for (Index t = 0; t < my_width; ++t) my_slice[std::size_t(t)] += received[std::size_t(c * my_width + t)];
  std::vector<int> counts(P), displs(P);
  for (int q = 0; q < P; ++q) counts[q] = int(slice(q + 1) - slice(q)), displs[q] = int(slice(q));
  std::vector<double> sum(static_cast<std::size_t>(length));
  MPI_Allgatherv(my_slice.data(), int(my_width), MPI_DOUBLE, sum.data(), counts.data(), displs.data(), MPI_DOUBLE, comm);
  return sum;
}

/// A progress callback made collective: every rank calls `user` and all go on only if all
/// returned true, so a callback that stops on one rank stops every rank (none waits alone).
template <class Progress>
std::function<bool(const Progress&)> collective_callback(MPI_Comm comm, const std::function<bool(const Progress&)>& user) {
  if (!user) return nullptr;
  return [comm, user](const Progress& progress) {
    int go_on = user(progress);
    MPI_Allreduce(MPI_IN_PLACE, &go_on, 1, MPI_INT, MPI_LAND, comm);
    return go_on != 0;
  };
}

/// Collective: element-wise sum (or max) of `count` values, the same bits on every rank
/// (reduced at rank 0, then broadcast).
template <class T>
void allreduce_identical(MPI_Comm comm, T* values, Index count, MPI_Op op) {
  int me;
  MPI_Comm_rank(comm, &me);
  MPI_Reduce(me == 0 ? MPI_IN_PLACE : values, values, int(count), datatype<T>(), op, 0, comm);
  MPI_Bcast(values, int(count), datatype<T>(), 0, comm);
}

}  // namespace protoot::mpi::detail
