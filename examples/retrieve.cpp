// protoot-retrieve — unsupervised cross-domain retrieval with ProtoOT on precomputed features.
//
// Trains the ProtoOT head (examples/head/protoot_trainer.hpp) on two domains for N seeds,
// retrieves across them in both directions and, given labels (used for scoring only), scores it
// with P@K and mAP (docs/method.md section 5) as mean and standard deviation over the seeds,
// next to the baselines a user would try first and, on request, the ablations. Writes
// DIR/results.csv, DIR/pk.svg (P@K against K) and DIR/features_a.npy, DIR/features_b.npy (the
// ProtoOT features of the first seed), all together at the end: a failed or interrupted run
// leaves the previous results as they were.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "baselines.hpp"
#include "cli.hpp"
#include "head/protoot_trainer.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/synthetic.hpp"
#include "svg_plot.hpp"

using namespace protoot;
using namespace protoot::examples;

namespace {

const char* const usage = R"(usage: protoot-retrieve [--domain-a A.npy --domain-b B.npy] [--labels-a LA.npy --labels-b LB.npy] [options]

  A, B       float32/float64 n x d features of the two domains; without them, a generated
             imbalanced two-domain pair with labels (protoot/synthetic.hpp)
  LA, LB     integer labels, used only to score (never to train; they do not set K)
  --out DIR            output folder, created if needed (default out/retrieve)
  --seed N             first seed of data generation and training (default 0)
  --seeds N            train N seeds (seed, seed+1, ...) and report mean and sd (default 1)
  --epochs N           training epochs (default 80)
  --prototypes K       prototypes per domain, normally the number of categories (default 10)
  --methods LIST       comma-separated, what to run (default protoot,baselines):
                         protoot      ProtoOT with its defaults
                         baselines    raw,standardise,coral,ot_da,cluster_match
                         ablations    uniform_marginals,intra_only,cross_only,coarse_cross_prototypes,
                                      unsmoothed_cross_targets,unweighted_cross_targets,
                                      released_recipe
                         all          all of the above; or any single name
  --prototype-update kmeans|ot   kmeans (default): K-means once per epoch; ot: the released
                       code's per-batch OT and prototype step as well
  --image-shape HxW    the features are images of H x W pixels (per channel, row-major): the
                       trained methods add random affine warps to their views (default: not images)
  --image-warp S,H,T   with --image-shape: the warps' limits, per-axis scale in [1/S, S], shear
                       in +-H, shift in +-T pixels (default 1.15,0.1,0.5; the best strength
                       depends on the data, docs/results.md ninth round)
  --threads N          OpenMP threads for training and scoring (default 1)
  --help               this text
)";

const std::vector<std::string> baseline_names = {"raw", "standardise", "coral", "ot_da", "cluster_match"};
const std::vector<std::string> ablation_names = {"uniform_marginals",        "intra_only",
                                                 "cross_only",               "coarse_cross_prototypes",
                                                 "unsmoothed_cross_targets", "unweighted_cross_targets",
                                                 "released_recipe"};

struct Arguments {
  std::string domain_a, domain_b, labels_a, labels_b, out = "out/retrieve";
  unsigned seed = 0;
  int seeds = 1;
  int epochs = default_epochs;
  int prototypes = 10;
  int threads = 1;
  AugmentationConfig views;  // --image-shape (0 x 0: the features are not images) and --image-warp
  std::vector<std::string> methods;  // in run order, protoot first
  PrototypeUpdate prototype_update = PrototypeUpdate::kmeans_per_epoch;
};

std::vector<std::string> expand_methods(const std::string& list) {
  std::set<std::string> wanted;
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ',');) {
    if (name == "baselines" || name == "all") wanted.insert(baseline_names.begin(), baseline_names.end());
    if (name == "ablations" || name == "all") wanted.insert(ablation_names.begin(), ablation_names.end());
    if (name == "protoot" || name == "all") wanted.insert("protoot");
    const bool known = name == "baselines" || name == "ablations" || name == "all" || name == "protoot" ||
                       std::count(baseline_names.begin(), baseline_names.end(), name) ||
                       std::count(ablation_names.begin(), ablation_names.end(), name);
    if (!known) throw UsageError("--methods: unknown method '" + name + "'");
    if (name != "baselines" && name != "ablations" && name != "all") wanted.insert(name);
  }
  std::vector<std::string> ordered;
  for (const auto& group : {std::vector<std::string>{"protoot"}, baseline_names, ablation_names})
    for (const auto& name : group)
      if (wanted.count(name)) ordered.push_back(name);
  if (ordered.empty()) throw UsageError("--methods names nothing to run");
  return ordered;
}

/// Parses the command line; false when the help text was asked for.
bool parse_arguments(int argc, char** argv, Arguments& a) {
  std::string methods = "protoot,baselines";
  ArgumentParser p;
  p.option("--domain-a", [&](const std::string& v) { a.domain_a = v; });
  p.option("--domain-b", [&](const std::string& v) { a.domain_b = v; });
  p.option("--labels-a", [&](const std::string& v) { a.labels_a = v; });
  p.option("--labels-b", [&](const std::string& v) { a.labels_b = v; });
  p.option("--out", [&](const std::string& v) { a.out = v; });
  p.option("--seed", [&](const std::string& v) { a.seed = parse_integer<unsigned>("--seed", v, 0, 4294967295u); });
  p.option("--seeds", [&](const std::string& v) { a.seeds = parse_integer<int>("--seeds", v, 1, 1000); });
  p.option("--epochs", [&](const std::string& v) { a.epochs = parse_integer<int>("--epochs", v, 1, 100000); });
  p.option("--prototypes", [&](const std::string& v) { a.prototypes = parse_integer<int>("--prototypes", v, 2, 100000); });
  p.option("--threads", [&](const std::string& v) { a.threads = parse_integer<int>("--threads", v, 1, 1024); });
  p.option("--methods", [&](const std::string& v) { methods = v; });
  add_image_view_options(p, a.views);
  p.option("--prototype-update", [&](const std::string& v) {
    if (v != "kmeans" && v != "ot") throw UsageError("--prototype-update needs kmeans or ot, got '" + v + "'");
    a.prototype_update = v == "ot" ? PrototypeUpdate::ot_per_batch : PrototypeUpdate::kmeans_per_epoch;
  });
  if (!p.parse(argc, argv)) return false;
  if (a.domain_a.empty() != a.domain_b.empty()) throw UsageError("give both --domain-a and --domain-b");
  if (a.labels_a.empty() != a.labels_b.empty()) throw UsageError("give both --labels-a and --labels-b");
  if (a.domain_a.empty() && !a.labels_a.empty()) throw UsageError("labels need --domain-a and --domain-b");
  if (a.seed > 4294967295u - unsigned(a.seeds - 1)) throw UsageError("--seed + --seeds - 1 must fit in 32 bits");
  a.methods = expand_methods(methods);
  return true;
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

/// Features must be finite and have a direction; checked in double, where the file may be
/// float64 beyond float's range (read_npy<float> reports that itself).
void check_features(const Matrix<float>& x, const std::string& path) {
  if (x.rows() < 2 || x.cols() < 1) throw std::invalid_argument(path + ": need at least 2 rows of features");
  if (!x.allFinite()) throw std::invalid_argument(path + ": features contain NaN or Inf");
  for (Index i = 0; i < x.rows(); ++i)
    if (x.row(i).cwiseAbs().maxCoeff() == 0.0f)
      throw std::invalid_argument(path + ": row " + std::to_string(i) +
                                  " is all zeros (cosine similarity needs a direction)");
}

Problem load_problem(const Arguments& args) {
  Problem p{io::read_npy<float>(args.domain_a), io::read_npy<float>(args.domain_b), {}, {},
            args.domain_a + " <-> " + args.domain_b};
  if (p.a.cols() != p.b.cols())
    throw std::invalid_argument("feature dimensions differ: " + args.domain_a + " has " + std::to_string(p.a.cols()) +
                                " columns, " + args.domain_b + " has " + std::to_string(p.b.cols()));
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

/// The training configuration of a trained method; protoot's defaults otherwise.
TrainConfig method_config(const std::string& method, const Arguments& args, unsigned seed) {
  TrainConfig c;
  c.epochs = args.epochs;
  c.seed = seed;
  c.num_prototypes = args.prototypes;
  c.threads = args.threads;
  c.ot.prototype_update = args.prototype_update;
  c.augmentation = args.views;
  if (method == "uniform_marginals") c.ot.kmeans_marginals = false;
  if (method == "intra_only") c.ot.cross_domain = false;
  if (method == "cross_only") c.ot.intra_domain = false;
  if (method == "coarse_cross_prototypes") c.ot.cross_refinement = 1;
  if (method == "unsmoothed_cross_targets") c.losses.cross_target_neighbours = 0;
  if (method == "unweighted_cross_targets") c.losses.cycle_weighted_cross = false;
  if (method == "released_recipe") {  // docs/method.md sections 2-4, as the authors' code trains
    c.input_normalisation = InputNormalisation::none;
    c.losses.cross_target = CrossTarget::plan_argmax;
    c.losses.cross_weight = 0.01;
    c.losses.cross_start = 0.5;
    c.ot.cross_rho = std::numeric_limits<double>::infinity();
    c.ot.cross_refinement = 1;
  }
  return c;
}

/// One scored run of a method: both directions.
using Run = std::vector<DirectionScores>;

Run score(const DirectionalFeatures<float>& f, const Problem& p, const std::vector<Index>& ks) {
  return {{"A->B", evaluate_retrieval(f.a_queries, p.labels_a, f.b_gallery, p.labels_b, ks)},
          {"B->A", evaluate_retrieval(f.b_queries, p.labels_b, f.a_gallery, p.labels_a, ks)}};
}

struct MeanSd {
  double mean = 0, sd = 0;
};

MeanSd mean_sd(const std::vector<double>& v) {
  MeanSd r;
  for (double x : v) r.mean += x / double(v.size());
  for (double x : v) r.sd += (x - r.mean) * (x - r.mean);
  r.sd = v.size() > 1 ? std::sqrt(r.sd / double(v.size() - 1)) : 0.0;  // sample sd over seeds
  return r;
}

/// The four reported metrics of one direction of one run, in column order.
std::vector<double> metrics(const RetrievalScores& s) {
  return {s.precision[0], s.precision[4], s.precision[14], s.mean_average_precision};
}

std::string format_mean_sd(const MeanSd& m, bool with_sd) {
  char text[48];
  if (with_sd) std::snprintf(text, sizeof text, "%6.2f +- %5.2f", m.mean, m.sd);
  else std::snprintf(text, sizeof text, "%6.2f", m.mean);
  return text;
}

/// results.csv, the printed tables and the P@K plot of all methods' runs.
void report(const std::vector<std::pair<std::string, std::vector<Run>>>& results, const std::vector<Index>& ks,
            OutputSet& out) {
  const char* names[] = {"P@1", "P@5", "P@15", "mAP"};
  std::ostringstream csv;
  csv << "method,direction,metric,mean,sd,runs\n";
  csv.precision(10);
  bool any_sd = false;
  for (const auto& [method, runs] : results) any_sd |= runs.size() > 1;
  std::printf("\n%-19s %-9s", "method", "direction");
  for (const char* n : names) std::printf(" %*s", any_sd ? 15 : 7, n);
  std::printf("\n");
  std::vector<PlotPanel> panels(2);
  std::vector<std::pair<std::string, std::pair<MeanSd, MeanSd>>> summary;
  for (const auto& [method, runs] : results) {
    std::vector<double> mean_pk(runs.size(), 0.0), mean_ap(runs.size(), 0.0);
    for (std::size_t d = 0; d < 2; ++d) {
      std::printf("%-19s %-9s", method.c_str(), runs[0][d].direction.c_str());
      for (int t = 0; t < 4; ++t) {
        std::vector<double> values;
        for (std::size_t r = 0; r < runs.size(); ++r) {
          values.push_back(metrics(runs[r][d].scores)[t]);
          (t < 3 ? mean_pk[r] : mean_ap[r]) += values.back() / (t < 3 ? 6.0 : 2.0);
        }
        const MeanSd m = mean_sd(values);
        csv << method << ',' << runs[0][d].direction << ',' << names[t] << ',' << m.mean << ',' << m.sd << ','
            << runs.size() << '\n';
        std::printf(" %s", format_mean_sd(m, any_sd).c_str());
      }
      std::printf("\n");
      std::vector<double> curve(ks.size(), 0.0);
      for (const Run& run : runs)
        for (std::size_t i = 0; i < ks.size(); ++i) curve[i] += run[d].scores.precision[i] / double(runs.size());
      panels[d].title = "retrieval " + runs[0][d].direction;
      const bool ablation = std::count(ablation_names.begin(), ablation_names.end(), method) > 0;
      panels[d].series.push_back({method, std::vector<double>(ks.begin(), ks.end()), curve, ablation});
    }
    const MeanSd pk = mean_sd(mean_pk), ap = mean_sd(mean_ap);
    summary.push_back({method, {pk, ap}});
    for (const auto& [metric, m] : {std::pair{"mean_P@K", pk}, std::pair{"mean_mAP", ap}})
      csv << method << ",both," << metric << ',' << m.mean << ',' << m.sd << ',' << runs.size() << '\n';
  }
  std::printf("\n%-19s %*s %*s\n", "method", any_sd ? 15 : 7, "mean P@K", any_sd ? 15 : 7, "mean mAP");
  for (const auto& [method, m] : summary)
    std::printf("%-19s %s %s\n", method.c_str(), format_mean_sd(m.first, any_sd).c_str(),
                format_mean_sd(m.second, any_sd).c_str());
  std::printf("(mean P@K: P@1, P@5, P@15 over both directions%s)\n", any_sd ? "; mean +- sd over seeds" : "");
  out.stage_text("results.csv", csv.str());
  out.stage("pk.svg", [&](const std::string& path) { write_line_plots(path, panels, "K", "P@K (%)"); });
}

int run(const Arguments& args) {
  const auto start = std::chrono::steady_clock::now();
  OutputSet out(args.out);  // fails now, not after training, when the folder is unwritable
  const Problem problem = args.domain_a.empty() ? default_problem(args.seed) : load_problem(args);
  const bool scoring = problem.labels_a.size() > 0;
  std::printf("protoot-retrieve: %s\n  A %ld x %ld, B %ld x %ld, K = %d prototypes, %d epochs, seeds %u..%u\n",
              problem.description.c_str(), long(problem.a.rows()), long(problem.a.cols()), long(problem.b.rows()),
              long(problem.b.cols()), args.prototypes, args.epochs, args.seed, args.seed + unsigned(args.seeds - 1));
  std::fflush(stdout);

  std::vector<Index> ks;  // P@K curve for the plot; includes 1, 5 and 15
  for (Index k = 1; k <= 50; ++k) ks.push_back(k);
  std::vector<std::pair<std::string, std::vector<Run>>> results;
  const double ot_da_budget = 4e7;  // plan entries: the entropic map needs the full n_a x n_b plan
  for (const std::string& method : args.methods) {
    const bool trained = method == "protoot" || std::count(ablation_names.begin(), ablation_names.end(), method);
    if (!trained) {
      if (!scoring) continue;  // a baseline is only its score
      DirectionalFeatures<float> f;
      if (method == "raw") f = symmetric(problem.a, problem.b);
      else if (method == "standardise") f = symmetric(standardise(problem.a), standardise(problem.b));
      else if (method == "coral") f = coral_features(problem.a, problem.b);
      else if (method == "cluster_match") f = cluster_match_features(problem.a, problem.b, args.prototypes, args.seed);
      else if (double(problem.a.rows()) * double(problem.b.rows()) > ot_da_budget) {
        std::printf("ot_da skipped: its %ld x %ld plan exceeds %.0e entries\n", long(problem.a.rows()),
                    long(problem.b.rows()), ot_da_budget);
        continue;
      } else f = ot_da_features(problem.a, problem.b, 0.01f);
      results.push_back({method, {score(f, problem, ks)}});
      continue;
    }
    if (!scoring && method != "protoot") continue;
    std::vector<Run> runs;
    for (int s = 0; s < (scoring ? args.seeds : 1); ++s) {
      const TrainConfig c = method_config(method, args, args.seed + unsigned(s));
      std::printf("training %s, seed %u\n", method.c_str(), c.seed);
      const auto trained_head = train_protoot_head<float>(problem.a, problem.b, c, [&](const EpochLog& l) {
        std::printf("  [%s] %s\n", method.c_str(), format_epoch(l, c.epochs).c_str());
        std::fflush(stdout);
      });
      if (method == "protoot" && s == 0) {
        out.stage("features_a.npy", [&](const std::string& p) { io::write_npy(p, trained_head.features_a); });
        out.stage("features_b.npy", [&](const std::string& p) { io::write_npy(p, trained_head.features_b); });
      }
      if (scoring) runs.push_back(score(symmetric(trained_head.features_a, trained_head.features_b), problem, ks));
    }
    if (scoring) results.push_back({method, std::move(runs)});
  }
  if (scoring) report(results, ks, out);
  out.commit();
  std::printf("\nwrote %s/{%s} in %.1f s\n", args.out.c_str(),
              std::string(scoring ? "results.csv,pk.svg" : "").append(
                  std::count(args.methods.begin(), args.methods.end(), "protoot")
                      ? std::string(scoring ? "," : "") + "features_a.npy,features_b.npy" : "").c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!scoring) std::printf("no labels given: no scores\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  try {
    if (!parse_arguments(argc, argv, args)) {
      std::cout << usage;
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-retrieve: %s\n\n%s", e.what(), usage);
    return 2;
  }
  try {
    return run(args);
  } catch (const std::exception& e) {  // a runtime error: its message, not the usage text
    std::fprintf(stderr, "protoot-retrieve: %s\n", e.what());
    return 1;
  }
}
