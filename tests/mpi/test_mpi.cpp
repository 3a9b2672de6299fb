// protoot/mpi against the single-process library, on 1, 2 or 4 ranks (tests/mpi/CMakeLists.txt):
// every rank builds the same full problem, passes its shard, and compares its part of the
// result with the single-process call. Shards are split evenly and unevenly with an empty rank.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <random>
#include <string>

#include "protoot/kmeans.hpp"
#include "protoot/mpi/kmeans.hpp"
#include "protoot/mpi/prototype_targets.hpp"
#include "protoot/mpi/retrieval.hpp"
#include "protoot/mpi/sinkhorn.hpp"
#include "protoot/prototype_targets.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/synthetic.hpp"

using namespace protoot;

namespace {

int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}
int size_of(MPI_Comm comm) {
  int p = 1;
  MPI_Comm_size(comm, &p);
  return p;
}

/// This rank's rows [first, first + count) of n under a split: even, or skewed (rank 0 empty,
/// the others growing quadratically) so that shards are uneven and one is empty.
struct Shard {
  Index first, count;
};
enum class Split { even, skewed };
Shard shard_of(Index n, Split split, MPI_Comm comm = MPI_COMM_WORLD) {
  const Index r = rank_of(comm), P = size_of(comm);
  if (split == Split::even) return {n * r / P, n * (r + 1) / P - n * r / P};
  auto start = [&](Index q) { return q == 0 ? Index(0) : n * q * q / (P * P); };  // rank 0 empty when P > 1
  const Index lo = P == 1 ? 0 : start(r), hi = P == 1 ? n : (r + 1 == P ? n : start(r + 1));
  return {lo, hi - lo};
}

/// Clustered points, the same on every rank.
Matrix<double> clusters(Index n, Index d, Index k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  Matrix<double> centres(k, d), X(n, d);
  for (Index j = 0; j < k; ++j)
    for (Index c = 0; c < d; ++c) centres(j, c) = 4.0 * noise(rng);
  for (Index i = 0; i < n; ++i)
    for (Index c = 0; c < d; ++c) X(i, c) = centres(i % k, c) + noise(rng);
  return X;
}

bool bitwise_equal(const KMeansResult<double>& a, const KMeansResult<double>& b) {
  return a.centroids == b.centroids && a.inertia == b.inertia && a.sizes == b.sizes && a.proportions == b.proportions &&
         a.iterations == b.iterations && a.inertia_history == b.inertia_history;
}

/// The same K-means on comm's ranks (split as given) and alone on this rank: bitwise equal.
void check_kmeans(const Matrix<double>& X, Index k, const KMeansOptions<double>& o, Split split) {
  INFO("init " << int(o.init) << ", spherical " << o.spherical << ", weighted " << (o.weights.size() != 0) << ", split " << int(split));
  const KMeansResult<double> local = kmeans(X, k, o);
  const Shard s = shard_of(X.rows(), split);
  KMeansOptions<double> mine = o;
  if (o.weights.size()) mine.weights = o.weights.segment(s.first, s.count);
  const KMeansResult<double> sharded = mpi::kmeans(MPI_COMM_WORLD, X.middleRows(s.first, s.count), k, mine, 512);
  CHECK(sharded.labels == local.labels.segment(s.first, s.count));
  CHECK((sharded.centroids - local.centroids).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(sharded.inertia == Approx(local.inertia).epsilon(1e-12));
  CHECK(sharded.iterations == local.iterations);
  CHECK(sharded.sizes == local.sizes);
  // One rank alone (MPI_COMM_SELF) with all rows: the same bits as on all ranks.
  KMeansOptions<double> whole = o;
  const KMeansResult<double> alone = mpi::kmeans(MPI_COMM_SELF, X, k, whole, 512);
  CHECK(bitwise_equal(alone, sharded));
  CHECK(alone.labels.segment(s.first, s.count) == sharded.labels);
}

template <class F>
std::string error_of(F&& call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("mpi::kmeans matches kmeans and is bitwise independent of the ranks", "[mpi][kmeans]") {
  const Matrix<double> X = clusters(2600, 6, 5, 1);  // not a multiple of 512: a partial last chunk
  KMeansOptions<double> o;
  o.seed = 3;
  o.n_init = 2;
  for (Split split : {Split::even, Split::skewed}) {
    check_kmeans(X, 5, o, split);
    KMeansOptions<double> random = o;
    random.init = KMeansInit::random;
    check_kmeans(X, 5, random, split);
    KMeansOptions<double> spherical = o;
    spherical.spherical = true;
    check_kmeans(X, 4, spherical, split);
    KMeansOptions<double> weighted = o;
    weighted.weights = Vector<double>::LinSpaced(X.rows(), 0.5, 2.0);
    weighted.n_init = 1;  // its two restarts end in the same clusters, inertias equal to rounding
    check_kmeans(X, 5, weighted, split);
  }
}

TEST_CASE("mpi::kmeans refills empty clusters as kmeans does", "[mpi][kmeans]") {
  const Matrix<double> X = clusters(1100, 6, 5, 4);
  KMeansOptions<double> warm;
  warm.initial_centroids = Matrix<double>::Constant(6, 6, 100.0);  // all but centroid 0 start empty
  warm.initial_centroids.row(0) = X.row(0);
  for (Split split : {Split::even, Split::skewed}) check_kmeans(X, 6, warm, split);
}

TEST_CASE("mpi::kmeans float agrees with the double labels", "[mpi][kmeans]") {
  const Matrix<float> X = clusters(1500, 4, 3, 2).cast<float>();
  const Shard s = shard_of(X.rows(), Split::skewed);
  const auto local = kmeans(X, 3);
  const auto sharded = mpi::kmeans(MPI_COMM_WORLD, X.middleRows(s.first, s.count), 3, {}, 512);
  CHECK(sharded.labels == local.labels.segment(s.first, s.count));
  CHECK((sharded.centroids - local.centroids).cwiseAbs().maxCoeff() <= 1e-4f);
}

TEST_CASE("mpi::cosine_topk and evaluate_retrieval match the single-process search", "[mpi][retrieval]") {
  const Matrix<double> Q = clusters(70, 16, 4, 5), G = clusters(333, 16, 4, 6);
  IndexVector labels_q(Q.rows()), labels_g(G.rows());
  for (Index i = 0; i < Q.rows(); ++i) labels_q(i) = i % 4;
  for (Index i = 0; i < G.rows(); ++i) labels_g(i) = i % 4;
  for (Split qs : {Split::even, Split::skewed})
    for (Split gs : {Split::even, Split::skewed}) {
      const Shard q = shard_of(Q.rows(), qs), g = shard_of(G.rows(), gs);
      for (Index k : {Index(1), Index(7), Index(150)}) {  // 150 > some shards' rows
        const TopK<double> local = cosine_topk(Q, G, k);
        const TopK<double> sharded = mpi::cosine_topk(MPI_COMM_WORLD, Q.middleRows(q.first, q.count),
                                                      G.middleRows(g.first, g.count), k);
        CHECK(sharded.indices == local.indices.middleRows(q.first, q.count));
        CHECK((sharded.scores - local.scores.middleRows(q.first, q.count)).cwiseAbs().maxCoeff() <= 1e-12);
      }
      const RetrievalScores local = evaluate_retrieval(Q, labels_q, G, labels_g, {1, 5, 15});
      const RetrievalScores sharded = mpi::evaluate_retrieval(
          MPI_COMM_WORLD, Q.middleRows(q.first, q.count), IndexVector(labels_q.segment(q.first, q.count)),
          G.middleRows(g.first, g.count), IndexVector(labels_g.segment(g.first, g.count)), {1, 5, 15});
      CHECK(sharded.precision == local.precision);
      CHECK(sharded.mean_average_precision == Approx(local.mean_average_precision).epsilon(1e-12));
    }
}

TEST_CASE("mpi::sinkhorn and sinkhorn_unbalanced match the single-process solves", "[mpi][sinkhorn]") {
  const Index n = 203, m = 37;
  const Matrix<double> X = clusters(n, 3, 3, 7), Y = clusters(m, 3, 3, 8);
  Matrix<double> C(n, m);
  for (Index i = 0; i < n; ++i) C.row(i) = (Y.rowwise() - X.row(i)).rowwise().squaredNorm().transpose() / 40.0;
  const Vector<double> a = Vector<double>::LinSpaced(n, 1.0, 2.0) / Vector<double>::LinSpaced(n, 1.0, 2.0).sum();
  const Vector<double> b = Vector<double>::Constant(m, 1.0 / double(m));
  for (bool log_domain : {true, false})
    for (Split split : {Split::even, Split::skewed}) {
      SinkhornOptions<double> o;
      o.epsilon = 0.05;
      o.log_domain = log_domain;
      o.tolerance = 1e-11;
      const Shard s = shard_of(n, split);
      const auto C_rows = C.middleRows(s.first, s.count);
      const Vector<double> a_rows = a.segment(s.first, s.count);
      const auto compare = [&](const SinkhornResult<double>& sharded, const SinkhornResult<double>& local) {
        CHECK(sharded.status == local.status);
        CHECK(sharded.iterations == local.iterations);
        CHECK((sharded.plan - local.plan.middleRows(s.first, s.count)).cwiseAbs().maxCoeff() <= 1e-12);
        CHECK((sharded.g - local.g).cwiseAbs().maxCoeff() <= 1e-12);
        if (s.count) CHECK((sharded.f - local.f.segment(s.first, s.count)).cwiseAbs().maxCoeff() <= 1e-12);
        CHECK(sharded.marginal_error == Approx(local.marginal_error).margin(1e-13));
        CHECK(sharded.transport_cost == Approx(local.transport_cost).epsilon(1e-12));
      };
      compare(mpi::sinkhorn(MPI_COMM_WORLD, C_rows, a_rows, b, o), sinkhorn(C, a, b, o));
      compare(mpi::sinkhorn_unbalanced(MPI_COMM_WORLD, C_rows, a_rows, b, 1.0, 0.5, o),
              sinkhorn_unbalanced(C, a, b, 1.0, 0.5, o));
      // semi-relaxed with a warm start and epsilon scaling
      SinkhornOptions<double> warm = o;
      warm.g_init = Vector<double>::LinSpaced(m, -0.1, 0.1);
      warm.epsilon_start = 0.4;
      compare(mpi::sinkhorn_unbalanced(MPI_COMM_WORLD, C_rows, a_rows, b, std::numeric_limits<double>::infinity(), 0.2, warm),
              sinkhorn_unbalanced(C, a, b, std::numeric_limits<double>::infinity(), 0.2, warm));
    }
}

TEST_CASE("mpi::sinkhorn_point_clouds forms each rank's cost block and matches sinkhorn", "[mpi][sinkhorn]") {
  const Matrix<double> X = clusters(301, 5, 3, 11), Y = clusters(23, 5, 3, 12);
  Matrix<double> C(X.rows(), Y.rows());
  for (Index i = 0; i < X.rows(); ++i) C.row(i) = (Y.rowwise() - X.row(i)).rowwise().squaredNorm().transpose();
  const Vector<double> a = Vector<double>::Constant(X.rows(), 1.0 / double(X.rows()));
  const Vector<double> b = Vector<double>::Constant(Y.rows(), 1.0 / double(Y.rows()));
  SinkhornOptions<double> o;
  o.epsilon = 2.0;  // squared distances of clusters 4 apart: tens
  o.tolerance = 1e-11;
  const SinkhornResult<double> local = sinkhorn(C, a, b, o);
  const Shard s = shard_of(X.rows(), Split::skewed);
  const SinkhornResult<double> sharded = mpi::sinkhorn_point_clouds(
      MPI_COMM_WORLD, X.middleRows(s.first, s.count), Y, a.segment(s.first, s.count), b, o);
  CHECK(sharded.iterations == local.iterations);
  CHECK((sharded.plan - local.plan.middleRows(s.first, s.count)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((sharded.g - local.g).cwiseAbs().maxCoeff() <= 1e-10);  // cost from a GEMM vs differences
  CHECK(sharded.transport_cost == Approx(local.transport_cost).epsilon(1e-10));
}

TEST_CASE("mpi::prototype_targets matches prototype_targets", "[mpi][prototype]") {
  TwoDomainOptions data_options;
  data_options.samples_a = 900;
  data_options.samples_b = 700;
  const TwoDomainData<double> data = make_two_domain<double>(data_options);
  PrototypeTargetsOptions<double> o;
  o.k = 5;
  o.sinkhorn.tolerance = 1e-10;
  o.released_recipe = GENERATE(false, true);  // the released recipe: 3 scaling iterations
  o.cross_k = GENERATE(0, 12);                 // 12: the cross-domain problems onto a finer clustering
  const PrototypeTargets<double> local = prototype_targets(data.a, data.b, o);
  const Shard sa = shard_of(data.a.rows(), Split::even), sb = shard_of(data.b.rows(), Split::skewed);
  const PrototypeTargets<double> sharded = mpi::prototype_targets(
      MPI_COMM_WORLD, data.a.middleRows(sa.first, sa.count), data.b.middleRows(sb.first, sb.count), o, 512);
  CHECK(sharded.clusters_a.labels == local.clusters_a.labels.segment(sa.first, sa.count));
  CHECK(sharded.clusters_b.labels == local.clusters_b.labels.segment(sb.first, sb.count));
  CHECK((sharded.clusters_a.centroids - local.clusters_a.centroids).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((sharded.clusters_b.centroids - local.clusters_b.centroids).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(sharded.cross_clusters_b.centroids.rows() == (o.cross_k ? 12 : 5));
  CHECK((sharded.cross_clusters_a.centroids - local.cross_clusters_a.centroids).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((sharded.cross_clusters_b.centroids - local.cross_clusters_b.centroids).cwiseAbs().maxCoeff() <= 1e-12);
  const auto rows_a = [&](const Matrix<double>& M) { return M.middleRows(sa.first, sa.count); };
  const auto rows_b = [&](const Matrix<double>& M) { return M.middleRows(sb.first, sb.count); };
  CHECK((sharded.aa.plan - rows_a(local.aa.plan)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((sharded.ab.plan - rows_a(local.ab.plan)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((sharded.ba.plan - rows_b(local.ba.plan)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((sharded.bb.plan - rows_b(local.bb.plan)).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(sharded.ab.labels == local.ab.labels.segment(sa.first, sa.count));
  CHECK((sharded.ba.g - local.ba.g).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("bad sharded input is one clear error on every rank, never a hang", "[mpi][errors]") {
  const int rank = rank_of(MPI_COMM_WORLD), P = size_of(MPI_COMM_WORLD);
  const Matrix<double> X = clusters(200, 4, 2, 9);
  const Shard s = shard_of(X.rows(), Split::even);
  const Matrix<double> mine = X.middleRows(s.first, s.count);

  SECTION("an empty communicator") {
    CHECK_THAT(error_of([&] { mpi::kmeans(MPI_COMM_NULL, mine, 2); }), Catch::Contains("MPI_COMM_NULL"));
    CHECK_THAT(error_of([&] { mpi::cosine_topk(MPI_COMM_NULL, mine, mine, 2); }), Catch::Contains("MPI_COMM_NULL"));
  }
  SECTION("a problem on one rank only is reported by every rank") {
    Matrix<double> bad = mine;
    if (rank == P - 1) bad(0, 0) = std::numeric_limits<double>::quiet_NaN();
    const std::string e = error_of([&] { mpi::kmeans(MPI_COMM_WORLD, bad, 2, {}, 512); });
    CHECK_THAT(e, Catch::Contains("protoot::mpi::kmeans: X contains NaN or Inf") &&
                      Catch::Contains("reported by rank " + std::to_string(P - 1)));
  }
  SECTION("k larger than all ranks' points together") {
    CHECK_THAT(error_of([&] { mpi::kmeans(MPI_COMM_WORLD, mine, 201, {}, 512); }), Catch::Contains("exceeds the number of points n = 200"));
  }
  SECTION("training on a sample, which only protoot::kmeans offers") {
    KMeansOptions<double> o;
    o.max_points_per_centroid = 40;
    CHECK_THAT(error_of([&] { mpi::kmeans(MPI_COMM_WORLD, mine, 2, o, 512); }),
               Catch::Contains("max_points_per_centroid") && Catch::Contains("protoot::kmeans only"));
  }
  if (P > 1) {
    SECTION("shards of different feature dimension") {
      const Matrix<double> wide = rank == 1 ? Matrix<double>(Matrix<double>::Ones(s.count, 5)) : mine;
      CHECK_THAT(error_of([&] { mpi::kmeans(MPI_COMM_WORLD, wide, 2, {}, 512); }), Catch::Contains("different feature dimensions"));
      CHECK_THAT(error_of([&] { mpi::cosine_topk(MPI_COMM_WORLD, mine, wide, 2); }), Catch::Contains("different feature dimensions"));
    }
    SECTION("k or options that differ across ranks") {
      CHECK_THAT(error_of([&] { mpi::kmeans(MPI_COMM_WORLD, mine, rank == 1 ? 3 : 2, {}, 512); }),
                 Catch::Contains("k differs across ranks"));
      KMeansOptions<double> o;
      o.seed = rank == 1 ? 1 : 0;
      CHECK_THAT(error_of([&] { mpi::kmeans(MPI_COMM_WORLD, mine, 2, o, 512); }), Catch::Contains("seed differs across ranks"));
      CHECK_THAT(error_of([&] { mpi::cosine_topk(MPI_COMM_WORLD, mine, mine, rank == 1 ? 3 : 2); }),
                 Catch::Contains("k differs across ranks"));
      SinkhornOptions<double> so;
      so.epsilon = rank == 1 ? 0.2 : 0.1;
      const Matrix<double> C = mine.cwiseAbs();
      const Vector<double> a = Vector<double>::Constant(s.count, 1.0 / 200);
      const Vector<double> b = Vector<double>::Constant(4, 0.25);
      CHECK_THAT(error_of([&] { mpi::sinkhorn(MPI_COMM_WORLD, C, a, b, so); }), Catch::Contains("epsilon differs across ranks"));
    }
    SECTION("a scaling-form overflow in one rank's rows only") {
      // -C / epsilon = 800 > log(DBL_MAX) on the last rank's rows: no finite plan exists there
      // (the single-process case is in test_hostile); every rank must throw, not only that one.
      Matrix<double> C = Matrix<double>::Constant(s.count, 4, 0.5);
      if (rank == P - 1) C.setConstant(-800);
      SinkhornOptions<double> so;
      so.epsilon = 1;
      so.log_domain = false;
      std::string e = "no error";
      try {
        mpi::sinkhorn(MPI_COMM_WORLD, C, Vector<double>::Constant(s.count, 1.0 / 200), Vector<double>::Constant(4, 0.25), so);
      } catch (const std::domain_error& error) {
        e = error.what();
      }
      CHECK_THAT(e, Catch::Contains("overflows"));
    }
  }
  // Still in step: a collective after the errors completes on every rank.
  int alive = 1;
  MPI_Allreduce(MPI_IN_PLACE, &alive, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(alive == P);
}

TEST_CASE("a callback that stops on one rank stops every rank", "[mpi][errors]") {
  const int rank = rank_of(MPI_COMM_WORLD), P = size_of(MPI_COMM_WORLD);
  const Matrix<double> X = clusters(700, 4, 3, 10);
  const Shard s = shard_of(X.rows(), Split::skewed);
  KMeansOptions<double> o;
  o.tolerance = 0;
  o.callback = [&](const KMeansProgress<double>& p) { return !(rank == P - 1 && p.iteration == 2); };
  const KMeansResult<double> clustered = mpi::kmeans(MPI_COMM_WORLD, X.middleRows(s.first, s.count), 3, o, 512);
  CHECK(clustered.iterations == 2);

  Matrix<double> C(s.count, 5);
  for (Index i = 0; i < s.count; ++i)
    for (Index j = 0; j < 5; ++j) C(i, j) = X(s.first + i, j % 4) * X(s.first + i, j % 4) / 10;
  SinkhornOptions<double> so;
  so.epsilon = 0.01;
  so.tolerance = 0;
  so.callback = [&](const SinkhornProgress<double>& p) { return !(rank == P - 1 && p.iteration == 3); };
  const auto solved = mpi::sinkhorn(MPI_COMM_WORLD, C, Vector<double>::Constant(s.count, 1.0 / 700),
                                    Vector<double>::Constant(5, 0.2), so);
  CHECK(solved.status == SolverStatus::interrupted);
  CHECK(solved.iterations == 3);
}
