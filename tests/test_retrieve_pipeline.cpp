// protoot-retrieve and protoot-train-head end to end: the scored pipeline with its baselines
// and seeds, the command-line contract (range-checked numbers, usage text only for usage
// errors), all-or-nothing outputs, and a run at 50,000 rows per domain.
// Needs the example programs (tests/extra.cmake passes their paths); skipped (77) without them.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "protoot/io/npy.hpp"
#include "protoot/synthetic.hpp"

#if defined(PROTOOT_RETRIEVE_PROGRAM) && defined(PROTOOT_TRAIN_HEAD_PROGRAM)

using namespace protoot;

namespace {

const std::string dir = "retrieve_pipeline";

/// Runs `program` with `args`; returns its exit status, stderr in `errors`.
int run_program(const std::string& program, const std::string& args, std::string* errors = nullptr) {
  const std::string command = program + " " + args + " > " + dir + "/stdout.txt 2> " + dir + "/stderr.txt";
  const int status = std::system(command.c_str());
  if (errors) {
    std::ifstream in(dir + "/stderr.txt");
    *errors = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return status;
}

int retrieve(const std::string& args, std::string* errors = nullptr) {
  return run_program(PROTOOT_RETRIEVE_PROGRAM, args, errors);
}

/// The small fixed case; every generator option pinned so that new defaults cannot move it.
TwoDomainData<float> fixed_pair() {
  TwoDomainOptions o;
  o.classes = 10;
  o.dim = 32;
  o.samples_a = o.samples_b = 600;
  o.spread = 1.5;
  o.imbalance = 10;
  o.rotation = 0.8;
  o.scale_jitter = 0.2;
  o.offset = 0.5;
  o.noise = 0.3;
  o.seed = 1;
  return make_two_domain<float>(o);
}

void write_pair() {
  std::filesystem::create_directories(dir);
  const TwoDomainData<float> pair = fixed_pair();
  io::write_npy(dir + "/a.npy", pair.a);
  io::write_npy(dir + "/b.npy", pair.b);
  io::write_npy(dir + "/la.npy", pair.labels_a);
  io::write_npy(dir + "/lb.npy", pair.labels_b);
}

const std::string inputs() {
  return "--domain-a " + dir + "/a.npy --domain-b " + dir + "/b.npy --labels-a " + dir + "/la.npy --labels-b " + dir +
         "/lb.npy";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Row {
  double mean, sd;
  int runs;
};

/// results.csv as (method, direction, metric) -> row; checks the header.
std::map<std::string, Row> read_results(const std::string& path) {
  std::ifstream csv(path);
  std::string line;
  std::getline(csv, line);
  REQUIRE(line == "method,direction,metric,mean,sd,runs");
  std::map<std::string, Row> rows;
  while (std::getline(csv, line)) {
    std::istringstream fields(line);
    std::string method, direction, metric, mean, sd, runs;
    for (std::string* f : {&method, &direction, &metric, &mean, &sd}) std::getline(fields, *f, ',');
    std::getline(fields, runs);
    rows[method + "," + direction + "," + metric] = {std::stod(mean), std::stod(sd), std::stoi(runs)};
  }
  return rows;
}

bool leftover_temporaries(const std::string& folder) {
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("protoot-retrieve scores ProtoOT and the baselines over seeds", "[pipeline]") {
  write_pair();
  REQUIRE(retrieve(inputs() + " --out " + dir + "/out --epochs 10 --seed 0 --seeds 2") == 0);
  const auto rows = read_results(dir + "/out/results.csv");
  // protoot and the five baselines, each with 2 directions x 4 metrics + 2 summary rows.
  CHECK(rows.size() == 6 * 10);
  for (const char* method : {"protoot", "raw", "standardise", "coral", "ot_da", "cluster_match"}) {
    INFO(method);
    const Row& pk = rows.at(std::string(method) + ",both,mean_P@K");
    WARN(method << ": mean P@K " << pk.mean << " +- " << pk.sd);
    CHECK(pk.runs == (std::string(method) == "protoot" ? 2 : 1));
    CHECK(pk.mean > 0);
  }
  CHECK(rows.at("protoot,both,mean_P@K").sd > 0);  // two different training seeds
  CHECK(rows.at("raw,both,mean_P@K").sd == 0);
  const auto mean_pk = [&](const char* method) { return rows.at(std::string(method) + ",both,mean_P@K").mean; };
  CHECK(mean_pk("protoot") >= mean_pk("raw") + 2);
  CHECK(mean_pk("protoot") >= mean_pk("standardise") + 2);
  CHECK(mean_pk("protoot") >= mean_pk("coral") + 2);

  const Matrix<float> features = io::read_npy<float>(dir + "/out/features_a.npy");
  CHECK(features.rows() == 600);
  CHECK(features.rowwise().norm().minCoeff() == Approx(1).epsilon(1e-4));
  CHECK(read_text(dir + "/out/pk.svg").rfind("<svg", 0) == 0);
  CHECK_FALSE(leftover_temporaries(dir + "/out"));
}

TEST_CASE("protoot-retrieve trains only the methods asked for", "[pipeline]") {
  write_pair();
  REQUIRE(retrieve(inputs() + " --out " + dir + "/only --epochs 2 --methods raw,intra_only,coral") == 0);
  const auto rows = read_results(dir + "/only/results.csv");
  CHECK(rows.size() == 3 * 10);
  CHECK(rows.count("intra_only,both,mean_P@K") == 1);
  CHECK(rows.count("protoot,both,mean_P@K") == 0);
  CHECK_FALSE(std::filesystem::exists(dir + "/only/features_a.npy"));  // protoot was not asked for
  const std::string log = read_text(dir + "/stdout.txt");
  CHECK(log.find("training intra_only") != std::string::npos);
  CHECK(log.find("training protoot") == std::string::npos);
}

TEST_CASE("a failed run leaves the previous results as they were", "[pipeline]") {
  write_pair();
  const std::string out = dir + "/kept";
  REQUIRE(retrieve(inputs() + " --out " + out + " --methods raw") == 0);
  const std::string before = read_text(out + "/results.csv");
  REQUIRE(!before.empty());
  Matrix<float> a = fixed_pair().a;
  a(3, 0) = std::numeric_limits<float>::quiet_NaN();
  io::write_npy(dir + "/nan_a.npy", a);
  std::string errors;
  CHECK(retrieve("--domain-a " + dir + "/nan_a.npy --domain-b " + dir + "/b.npy --labels-a " + dir +
                     "/la.npy --labels-b " + dir + "/lb.npy --out " + out + " --methods raw",
                 &errors) != 0);
  CHECK(read_text(out + "/results.csv") == before);
  CHECK_FALSE(leftover_temporaries(out));
  // A runtime error prints its message, not the usage text.
  CHECK_THAT(errors, Catch::Contains("features contain NaN or Inf"));
  CHECK_THAT(errors, !Catch::Contains("usage:"));
  // An output folder that cannot be created fails before any work, with the folder's name.
  CHECK(retrieve(inputs() + " --out " + dir + "/a.npy/sub --methods raw", &errors) != 0);
  CHECK_THAT(errors, Catch::Contains("cannot create the output folder"));
}

TEST_CASE("protoot-retrieve rejects bad command lines with a message and a non-zero exit", "[pipeline]") {
  write_pair();
  io::write_npy(dir + "/wide.npy", Matrix<float>::Ones(5, 33).eval());
  io::write_npy(dir + "/short_labels.npy", IndexVector::Zero(7).eval());
  Matrix<float> a = fixed_pair().a;
  a.row(3).setZero();
  io::write_npy(dir + "/zero_row.npy", a);
  a.row(3).setConstant(1e-30f);  // tiny but valid: not "all zeros"
  io::write_npy(dir + "/tiny_row.npy", a);
  const std::string with_b = " --domain-b " + dir + "/b.npy --out " + dir + "/bad";
  const std::string pair = "--domain-a " + dir + "/a.npy --domain-b " + dir + "/b.npy --out " + dir + "/bad";
  const std::pair<std::string, std::string> cases[] = {
      {"--frobnicate 1", "unknown argument '--frobnicate'"},
      {"--domain-a " + dir + "/missing.npy --domain-b " + dir + "/b.npy", "cannot open"},
      {"--domain-a " + dir + "/a.npy --domain-b " + dir + "/wide.npy", "feature dimensions differ"},
      {pair + " --labels-a " + dir + "/la.npy --labels-b " + dir + "/short_labels.npy", "has 7 labels but"},
      {pair + " --labels-a " + dir + "/la.npy", "give both --labels-a and --labels-b"},
      {pair + " --epochs zero", "--epochs needs an integer in [1, 100000], got 'zero'"},
      {pair + " --epochs 4294967297", "--epochs needs an integer in [1, 100000], got '4294967297'"},
      {pair + " --seed -1", "--seed needs an integer in [0, 4294967295], got '-1'"},
      {pair + " --prototypes 4294967298", "--prototypes needs an integer"},
      {pair + " --seeds 0", "--seeds needs an integer"},
      {pair + " --methods protoot,bogus", "unknown method 'bogus'"},
      {pair + " --image-shape 8", "--image-shape needs HEIGHTxWIDTH"},
      {pair + " --image-shape 0x8", "--image-shape height needs an integer"},
      {pair + " --image-shape 5x5", "not whole images of 5 x 5"},
      {pair + " --image-shape 4x8 --image-warp 1.2,0.1", "--image-warp needs SCALE,SHEAR,SHIFT"},
      {pair + " --image-shape 4x8 --image-warp 1.2,0.1,0.5,1", "--image-warp needs SCALE,SHEAR,SHIFT"},
      {pair + " --image-shape 4x8 --image-warp 0.5,0.1,0.5", "--image-warp scale needs a finite number in [1, 10]"},
      {pair + " --image-shape 4x8 --image-warp 1.2,,0.5", "--image-warp shear needs a finite number"},
      {pair + " --image-shape 4x8 --image-warp 1.2,0.1,inf", "--image-warp shift needs a finite number"},
      {pair + " --image-warp 1.2,0.1,0.5", "--image-warp needs --image-shape"},
      {"--domain-a " + dir + "/a.npy --domain-b " + dir + "/la.npy", "feature dimensions differ"},
      {"--domain-a " + dir + "/zero_row.npy" + with_b, "zero_row.npy: row 3 is all zeros"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args);
    std::string errors;
    CHECK(retrieve(args, &errors) != 0);
    CHECK_THAT(errors, Catch::Contains(message));
  }
  CHECK(retrieve("--domain-a " + dir + "/tiny_row.npy" + with_b + " --methods raw") == 0);
  // --image-warp reaches the trained methods' views (32 features = one 4 x 8 image).
  const std::string warped = "--domain-a " + dir + "/a.npy --domain-b " + dir +
                             "/b.npy --methods protoot --epochs 1 --image-shape 4x8 --out " + dir + "/warp";
  REQUIRE(retrieve(warped) == 0);
  const Matrix<float> default_warp = io::read_npy<float>(dir + "/warp/features_a.npy");
  REQUIRE(retrieve(warped + " --image-warp 1.3,0.3,1") == 0);
  CHECK_FALSE(io::read_npy<float>(dir + "/warp/features_a.npy").isApprox(default_warp));
}

TEST_CASE("protoot-train-head: range-checked flags, its own output folder, atomic outputs", "[pipeline]") {
  write_pair();
  const std::string pair = "--domain-a " + dir + "/a.npy --domain-b " + dir + "/b.npy --quiet";
  const std::pair<std::string, std::string> cases[] = {
      {pair + " --epochs 4294967297", "--epochs needs an integer"},
      {pair + " --seed -1", "--seed needs an integer"},
      {pair + " --prototypes 4294967298", "--prototypes needs an integer"},
      {pair + " --lr 0", "--lr needs a finite number"},
      {pair + " --lr -1", "--lr needs a finite number"},
      {pair + " --lr nan", "--lr needs a finite number"},
      {pair + " --lr inf", "--lr needs a finite number"},
      {pair + " --temperature 1e-300", "--temperature needs a finite number"},
      {pair + " --image-shape 4x", "--image-shape width needs an integer"},
      {pair + " --image-shape 4x8 --image-warp 1,-0.1,0", "--image-warp shear needs a finite number in [0, 10]"},
      {pair + " --image-warp 1,0,0", "--image-warp needs --image-shape"},
      {"--domain-a " + dir + "/a.npy", "--domain-a and --domain-b are required"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args);
    std::string errors;
    CHECK(run_program(PROTOOT_TRAIN_HEAD_PROGRAM, args, &errors) == 2 * 256);
    CHECK_THAT(errors, Catch::Contains(message));
  }
  const std::string out = dir + "/head";
  REQUIRE(run_program(PROTOOT_TRAIN_HEAD_PROGRAM, pair + " --epochs 1 --out " + out) == 0);
  CHECK(io::read_npy<float>(out + "/features_b.npy").rows() == 600);
  CHECK_FALSE(leftover_temporaries(out));
  // 32 features as one 4 x 8 image: warped views, finite features.
  REQUIRE(run_program(PROTOOT_TRAIN_HEAD_PROGRAM, pair + " --epochs 1 --image-shape 4x8 --out " + out) == 0);
  const Matrix<float> default_warp = io::read_npy<float>(out + "/features_a.npy");
  CHECK(default_warp.allFinite());
  // --image-warp reaches the views: other limits train other features, the defaults' the same.
  REQUIRE(run_program(PROTOOT_TRAIN_HEAD_PROGRAM, pair + " --epochs 1 --image-shape 4x8 --image-warp 1.3,0.3,1 --out " +
                                                      out) == 0);
  CHECK_FALSE(io::read_npy<float>(out + "/features_a.npy").isApprox(default_warp));
  REQUIRE(run_program(PROTOOT_TRAIN_HEAD_PROGRAM, pair + " --epochs 1 --image-shape 4x8 --image-warp 1.15,0.1,0.5 --out " +
                                                      out) == 0);
  CHECK(io::read_npy<float>(out + "/features_a.npy") == default_warp);
  std::string errors;  // a runtime error: message only
  CHECK(run_program(PROTOOT_TRAIN_HEAD_PROGRAM, "--domain-a " + dir + "/a.npy --domain-b " + dir + "/wide.npy --out " +
                                                     out, &errors) == 1 * 256);
  CHECK_THAT(errors, !Catch::Contains("usage:"));
}

TEST_CASE("protoot-retrieve runs at 50,000 rows per domain", "[pipeline][large]") {
  // Banks of real size: float marginals of 50,000 samples, K-means and the OT step at full
  // size, one epoch (4 prototypes: the size under test is the rows). Random 16-d data; the
  // result is only required to exist and be finite.
  std::filesystem::create_directories(dir);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  const auto random = [&](Index n) { return Matrix<float>(Matrix<float>::NullaryExpr(n, 16, [&] { return normal(rng); })); };
  io::write_npy(dir + "/large_a.npy", random(50000));
  io::write_npy(dir + "/large_b.npy", random(50001));
  REQUIRE(retrieve("--domain-a " + dir + "/large_a.npy --domain-b " + dir + "/large_b.npy --epochs 1 --prototypes 4 --out " + dir +
                   "/large") == 0);
  const Matrix<float> features = io::read_npy<float>(dir + "/large/features_b.npy");
  CHECK(features.rows() == 50001);
  CHECK(features.allFinite());
}

#else

TEST_CASE("protoot-retrieve pipeline (skipped: examples not built)", "[pipeline]") { std::exit(77); }

#endif
