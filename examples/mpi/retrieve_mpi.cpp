// protoot-retrieve-mpi — raw-feature cross-domain retrieval scores (P@K, mAP) with both banks
// sharded by rows over MPI ranks; writes the same results.csv 'raw' rows as protoot-retrieve.
//
//   mpiexec -n P protoot-retrieve-mpi [--domain-a A.npy --domain-b B.npy --labels-a LA.npy
//                                      --labels-b LB.npy] [--out DIR] [--seed N]
//
// Rank r memory-maps the .npy files and converts only its rows [n r / P, n (r + 1) / P) (the
// pages of other rows are never read), so no rank loads a whole bank. Scores come from
// protoot::mpi::evaluate_retrieval in both directions. Without files it scores the generated
// pair that protoot-retrieve uses by default (protoot/synthetic.hpp, same seed), each rank
// keeping only its rows.
#include <mpi.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cli.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/mpi/retrieval.hpp"
#include "protoot/synthetic.hpp"

using namespace protoot;

namespace {

const char* const usage =
    "usage: mpiexec -n P protoot-retrieve-mpi [--domain-a A.npy --domain-b B.npy --labels-a LA.npy --labels-b LB.npy]\n"
    "                                         [--out DIR] [--seed N]\n"
    "  A, B: float32/float64 n x d features; LA, LB: integer labels. Without files: the generated pair of\n"
    "  protoot-retrieve (seed N, default 0). Writes DIR/results.csv (default out/retrieve-mpi), rows 'raw'.\n";

struct Arguments {
  std::string domain_a, domain_b, labels_a, labels_b, out = "out/retrieve-mpi";
  unsigned seed = 0;
  bool help = false;
};

Arguments parse_arguments(int argc, char** argv) {
  Arguments a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      a.help = true;
      return a;
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value\n" + usage);
    const std::string value = argv[++i];
    if (flag == "--domain-a") a.domain_a = value;
    else if (flag == "--domain-b") a.domain_b = value;
    else if (flag == "--labels-a") a.labels_a = value;
    else if (flag == "--labels-b") a.labels_b = value;
    else if (flag == "--out") a.out = value;
    else if (flag == "--seed") a.seed = unsigned(std::stoul(value));
    else throw std::invalid_argument("unknown option '" + flag + "'\n" + usage);
  }
  const bool files = !a.domain_a.empty();
  if (a.domain_b.empty() == files || a.labels_a.empty() == files || a.labels_b.empty() == files)
    throw std::invalid_argument("give all of --domain-a, --domain-b, --labels-a, --labels-b, or none\n" + std::string(usage));
  return a;
}

/// A read-only memory map of a whole file (pages are read only when touched).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw std::invalid_argument("cannot open '" + path + "'");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_size == 0) {
      ::close(fd);
      throw std::invalid_argument("'" + path + "' is empty or unreadable");
    }
    size_ = std::size_t(st.st_size);
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (data_ == MAP_FAILED) throw std::invalid_argument("cannot map '" + path + "'");
  }
  ~MappedFile() { ::munmap(data_, size_); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return static_cast<const char*>(data_); }
  std::size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Rows [n r / P, n (r + 1) / P) of a .npy matrix (validated header; any supported dtype/order).
template <class S>
Matrix<S> read_my_rows(const std::string& path, int rank, int ranks, bool labels) {
  const MappedFile file(path);
  const io::NpyHeader h = io::parse_npy_header(file.data(), file.size(), path);
  if (labels && (!io::detail::is_integer(h.dtype) || h.ndim == 0 || h.cols != 1))
    throw std::invalid_argument(path + ": labels must be int32 or int64 of shape (n,) or (n, 1)");
  const Index first = h.rows * rank / ranks, last = h.rows * (rank + 1) / ranks;
  const std::size_t item = io::detail::itemsize(h.dtype);
  Matrix<S> rows(last - first, h.cols);
  for (Index i = first; i < last; ++i)
    for (Index j = 0; j < h.cols; ++j) {
      const std::size_t t = h.fortran_order ? std::size_t(j * h.rows + i) : std::size_t(i * h.cols + j);
      rows(i - first, j) = io::detail::load_as<S>(h.dtype, file.data() + h.data_offset + t * item, path);
    }
  return rows;
}

struct Shards {
  Matrix<float> a, b;
  IndexVector labels_a, labels_b;
};

Shards load(const Arguments& args, int rank, int ranks) {
  if (args.domain_a.empty()) {
    TwoDomainOptions o;
    o.seed = args.seed;
    const TwoDomainData<float> d = make_two_domain<float>(o);
    const auto slice = [&](Index n) { return std::pair<Index, Index>{n * rank / ranks, n * (rank + 1) / ranks - n * rank / ranks}; };
    const auto [a0, na] = slice(d.a.rows());
    const auto [b0, nb] = slice(d.b.rows());
    return {d.a.middleRows(a0, na), d.b.middleRows(b0, nb), d.labels_a.segment(a0, na), d.labels_b.segment(b0, nb)};
  }
  return {read_my_rows<float>(args.domain_a, rank, ranks, false), read_my_rows<float>(args.domain_b, rank, ranks, false),
          read_my_rows<Index>(args.labels_a, rank, ranks, true).col(0),
          read_my_rows<Index>(args.labels_b, rank, ranks, true).col(0)};
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int status = 0;
  try {
    const Arguments args = parse_arguments(argc, argv);
    if (args.help) {
      if (rank == 0) std::fputs(usage, stdout);
      MPI_Finalize();
      return 0;
    }
    const double start = MPI_Wtime();
    // A file problem seen by some ranks only stops every rank (no rank waits in a collective).
    Shards s;
    std::string load_error;
    try {
      s = load(args, rank, ranks);
    } catch (const std::exception& e) {
      load_error = e.what();
    }
    int failed = !load_error.empty();
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    if (failed) throw std::runtime_error(load_error.empty() ? "another rank could not read its rows" : load_error);
    std::vector<Index> ks;  // as protoot-retrieve: P@1..50, of which P@1, P@5, P@15 are written
    for (Index k = 1; k <= 50; ++k) ks.push_back(k);
    const RetrievalScores ab = mpi::evaluate_retrieval(MPI_COMM_WORLD, s.a, s.labels_a, s.b, s.labels_b, ks);
    const RetrievalScores ba = mpi::evaluate_retrieval(MPI_COMM_WORLD, s.b, s.labels_b, s.a, s.labels_a, ks);
    if (rank == 0) {
      examples::OutputSet out(args.out);  // written whole at the end, as protoot-retrieve
      std::ostringstream csv;
      csv.precision(10);
      csv << "method,direction,metric,mean,sd,runs\n";
      std::printf("%-18s %-9s %7s %7s %7s %7s\n", "method", "direction", "P@1", "P@5", "P@15", "mAP");
      const std::pair<const char*, const RetrievalScores*> directions[] = {{"A->B", &ab}, {"B->A", &ba}};
      double mean_pk = 0, mean_ap = 0;
      for (const auto& [direction, scores] : directions) {
        const double values[] = {scores->precision[0], scores->precision[4], scores->precision[14],
                                 scores->mean_average_precision};
        const char* names[] = {"P@1", "P@5", "P@15", "mAP"};
        for (int t = 0; t < 4; ++t) csv << "raw," << direction << ',' << names[t] << ',' << values[t] << ",0,1\n";
        mean_pk += (values[0] + values[1] + values[2]) / 6;
        mean_ap += values[3] / 2;
        std::printf("%-18s %-9s %7.2f %7.2f %7.2f %7.2f\n", "raw", direction, values[0], values[1], values[2], values[3]);
      }
      csv << "raw,both,mean_P@K," << mean_pk << ",0,1\nraw,both,mean_mAP," << mean_ap << ",0,1\n";
      out.stage_text("results.csv", csv.str());
      out.commit();
      std::printf("wrote %s/results.csv with %d ranks in %.2f s\n", args.out.c_str(), ranks, MPI_Wtime() - start);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-retrieve-mpi (rank %d): %s\n", rank, e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
