// protoot-retrieve — unsupervised cross-domain retrieval with ProtoOT on precomputed features.
//
//   protoot-retrieve --domain-a A.npy --domain-b B.npy [--labels-a LA.npy --labels-b LB.npy]
//                    [--out DIR] [--seed N] [--epochs N] [--prototypes K]
//
// Trains the ProtoOT head (examples/head/protoot_trainer.hpp) on the two domains, retrieves
// across them in both directions and, given labels (used for scoring only), scores raw features,
// full ProtoOT and its ablations (uniform prototype marginals, intra-domain OT only,
// cross-domain OT only) with P@K and mAP (METHOD.md section 5). Writes DIR/results.csv,
// DIR/pk.svg (P@K against K) and the ProtoOT features DIR/features_a.npy, DIR/features_b.npy.
// Without arguments it runs on a generated imbalanced two-domain pair (protoot/synthetic.hpp).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "head/protoot_trainer.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/synthetic.hpp"
#include "svg_plot.hpp"

using namespace protoot;
using protoot::examples::TrainConfig;

namespace {

const char* const usage =
    "usage: protoot-retrieve [--domain-a A.npy --domain-b B.npy] [--labels-a LA.npy --labels-b LB.npy]\n"
    "                        [--out DIR] [--seed N] [--epochs N] [--prototypes K] [--prototype-update kmeans|ot]\n"
    "  A, B: float32/float64 n x d features of two domains; LA, LB: integer labels (scoring only).\n"
    "  Without --domain-a/--domain-b: a generated imbalanced two-domain pair with labels.\n"
    "  --out DIR (default out/retrieve), --seed N (default 0), --epochs N (default 20),\n"
    "  --prototypes K (default: number of classes in LA, else 10),\n"
    "  --prototype-update kmeans (default: K-means once per epoch) or ot (the released code's extra\n"
    "    per-batch step, prototypes = normalise(plan^T bank)).\n";

struct Arguments {
  std::string domain_a, domain_b, labels_a, labels_b, out = "out/retrieve";
  unsigned seed = 0;
  int epochs = 20;
  int prototypes = 0;  // 0: from the labels
  examples::PrototypeUpdate prototype_update = examples::PrototypeUpdate::kmeans_per_epoch;
};

long parse_integer(const std::string& flag, const std::string& text, long lo, long hi) {
  std::size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < lo || value > hi)
    throw std::invalid_argument(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                "], got '" + text + "'");
  return value;
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unexpected argument '" + flag + "'");
    const std::string value = argv[++i];
    if (flag == "--domain-a") a.domain_a = value;
    else if (flag == "--domain-b") a.domain_b = value;
    else if (flag == "--labels-a") a.labels_a = value;
    else if (flag == "--labels-b") a.labels_b = value;
    else if (flag == "--out") a.out = value;
    else if (flag == "--seed") a.seed = unsigned(parse_integer(flag, value, 0, 4294967295L));
    else if (flag == "--epochs") a.epochs = int(parse_integer(flag, value, 1, 100000));
    else if (flag == "--prototypes") a.prototypes = int(parse_integer(flag, value, 2, 100000));
    else if (flag == "--prototype-update" && (value == "kmeans" || value == "ot"))
      a.prototype_update = value == "ot" ? examples::PrototypeUpdate::ot_per_batch : examples::PrototypeUpdate::kmeans_per_epoch;
    else if (flag == "--prototype-update") throw std::invalid_argument("--prototype-update needs kmeans or ot, got '" + value + "'");
    else throw std::invalid_argument("unknown option '" + flag + "'");
  }
  if (a.domain_a.empty() != a.domain_b.empty()) throw std::invalid_argument("give both --domain-a and --domain-b");
  if (a.labels_a.empty() != a.labels_b.empty()) throw std::invalid_argument("give both --labels-a and --labels-b");
  if (a.domain_a.empty() && !a.labels_a.empty()) throw std::invalid_argument("labels need --domain-a and --domain-b");
  return a;
}

struct Problem {
  Matrix<float> a, b;
  IndexVector labels_a, labels_b;  // empty: no scoring
  std::string description;
};

/// The bundled default: imbalanced classes whose long tails differ between the domains, domain
/// B rotated, rescaled, offset and noisier.
Problem default_problem(unsigned seed) {
  TwoDomainOptions o;
  o.seed = seed;
  TwoDomainData<float> d = make_two_domain<float>(o);
  return {d.a, d.b, d.labels_a, d.labels_b,
          "generated pair (protoot/synthetic.hpp defaults, seed " + std::to_string(seed) + ")"};
}

Problem load_problem(const Arguments& args) {
  Problem p{io::read_npy<float>(args.domain_a), io::read_npy<float>(args.domain_b), {}, {},
            args.domain_a + " <-> " + args.domain_b};
  if (p.a.cols() != p.b.cols())
    throw std::invalid_argument("feature dimensions differ: " + args.domain_a + " has " + std::to_string(p.a.cols()) +
                                " columns, " + args.domain_b + " has " + std::to_string(p.b.cols()));
  const auto check_features = [](const Matrix<float>& x, const std::string& path) {
    if (x.rows() < 2 || x.cols() < 1) throw std::invalid_argument(path + ": need at least 2 rows of features");
    if (!x.allFinite()) throw std::invalid_argument(path + ": features contain NaN or Inf");
    Index zero_row;
    if (x.rowwise().squaredNorm().minCoeff(&zero_row) == 0.0f)
      throw std::invalid_argument(path + ": row " + std::to_string(zero_row) +
                                  " is all zeros (cosine similarity needs a direction)");
  };
  check_features(p.a, args.domain_a);
  check_features(p.b, args.domain_b);
  if (!args.labels_a.empty()) {
    p.labels_a = io::read_npy_labels(args.labels_a);
    p.labels_b = io::read_npy_labels(args.labels_b);
    const auto check_count = [](const IndexVector& l, const Matrix<float>& x, const std::string& lp, const std::string& xp) {
      if (l.size() != x.rows())
        throw std::invalid_argument(lp + " has " + std::to_string(l.size()) + " labels but " + xp + " has " +
                                    std::to_string(x.rows()) + " rows");
    };
    check_count(p.labels_a, p.a, args.labels_a, args.domain_a);
    check_count(p.labels_b, p.b, args.labels_b, args.domain_b);
  }
  return p;
}

/// A trained variant: which OT components are on (METHOD.md "Ablations").
struct Method {
  const char* name;
  bool kmeans_marginals, intra_domain, cross_domain;
};
const Method methods[] = {{"protoot", true, true, true},
                          {"uniform_marginals", false, true, true},
                          {"intra_only", true, true, false},
                          {"cross_only", true, false, true}};

struct Scored {
  std::string method;
  std::vector<DirectionScores> directions;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Arguments args = parse_arguments(argc, argv);
    const auto start = std::chrono::steady_clock::now();
    const Problem problem = args.domain_a.empty() ? default_problem(args.seed) : load_problem(args);
    const bool scoring = problem.labels_a.size() > 0;
    const Index classes = scoring ? Index(std::set<Index>(problem.labels_a.data(),
                                                          problem.labels_a.data() + problem.labels_a.size()).size())
                                  : 10;
    TrainConfig config;
    config.epochs = args.epochs;
    config.seed = args.seed;
    config.num_prototypes = args.prototypes ? args.prototypes : int(std::max<Index>(classes, 2));
    config.prototype_update = args.prototype_update;
    std::printf("protoot-retrieve: %s\n  A %ld x %ld, B %ld x %ld, K = %d prototypes, %d epochs, seed %u\n",
                problem.description.c_str(), long(problem.a.rows()), long(problem.a.cols()), long(problem.b.rows()),
                long(problem.b.cols()), config.num_prototypes, config.epochs, config.seed);
    std::filesystem::create_directories(args.out);

    std::vector<Index> ks;  // P@K curve for the plot; includes 1, 5 and 15
    for (Index k = 1; k <= 50; ++k) ks.push_back(k);
    std::vector<Scored> results;
    const auto score = [&](const std::string& name, const Matrix<float>& a, const Matrix<float>& b) {
      if (scoring) results.push_back({name, cross_domain_scores(a, problem.labels_a, b, problem.labels_b, ks)});
    };
    score("raw", problem.a, problem.b);
    for (const Method& m : methods) {
      const bool full = &m == &methods[0];
      if (!scoring && !full) break;  // ablations only mean something when scored
      TrainConfig c = config;
      c.kmeans_marginals = m.kmeans_marginals;
      c.intra_domain = m.intra_domain;
      c.cross_domain = m.cross_domain;
      std::printf("training %s\n", m.name);
      const auto trained = examples::train_protoot_head<float>(problem.a, problem.b, c, [&](const examples::EpochLog& l) {
        std::printf("  [%s] %s\n", m.name, examples::format_epoch(l, c.epochs).c_str());
        std::fflush(stdout);
      });
      if (full) {
        io::write_npy(args.out + "/features_a.npy", trained.features_a);
        io::write_npy(args.out + "/features_b.npy", trained.features_b);
      }
      score(m.name, trained.features_a, trained.features_b);
    }
    if (!scoring) {
      std::printf("no labels given: wrote %s/features_{a,b}.npy, no scores\n", args.out.c_str());
      return 0;
    }

    std::ofstream csv(args.out + "/results.csv");
    csv << "method,direction,metric,value\n";
    std::printf("\n%-18s %-9s %7s %7s %7s %7s\n", "method", "direction", "P@1", "P@5", "P@15", "mAP");
    std::vector<examples::PlotPanel> panels(2);
    for (const Scored& r : results)
      for (std::size_t d = 0; d < r.directions.size(); ++d) {
        const RetrievalScores& s = r.directions[d].scores;
        const double values[] = {s.precision[0], s.precision[4], s.precision[14], s.mean_average_precision};
        const char* names[] = {"P@1", "P@5", "P@15", "mAP"};
        for (int t = 0; t < 4; ++t) csv << r.method << ',' << r.directions[d].direction << ',' << names[t] << ',' << values[t] << '\n';
        std::printf("%-18s %-9s %7.2f %7.2f %7.2f %7.2f\n", r.method.c_str(), r.directions[d].direction.c_str(), values[0],
                    values[1], values[2], values[3]);
        panels[d].title = "retrieval " + r.directions[d].direction;
        const bool ablation = r.method != "raw" && r.method != methods[0].name;
        panels[d].series.push_back({r.method, std::vector<double>(ks.begin(), ks.end()), s.precision, ablation});
      }
    if (!csv) throw std::runtime_error("cannot write " + args.out + "/results.csv");
    examples::write_line_plots(args.out + "/pk.svg", panels, "K", "P@K (%)");
    std::printf("\nwrote %s/{results.csv,pk.svg,features_a.npy,features_b.npy} in %.1f s\n", args.out.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-retrieve: %s\n%s", e.what(), usage);
    return 2;
  }
}
