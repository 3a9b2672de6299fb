// protoot-train-head — trains the ProtoOT projection head on the features of two domains and
// writes the projected, L2-normalised features.
//
//   protoot-train-head --domain-a A.npy --domain-b B.npy [--out DIR] [options]
//
// A and B are n x d float32/float64 .npy files. Prints one line per epoch (loss terms, OT
// marginal error, time) and writes DIR/features_a.npy and DIR/features_b.npy (float32)
// together at the end, so a failed run leaves earlier files as they were.
#include <cstdio>
#include <exception>
#include <string>

#include "cli.hpp"
#include "head/protoot_trainer.hpp"
#include "protoot/io/npy.hpp"

namespace {

using namespace protoot::examples;

const char* const kUsage = R"(usage: protoot-train-head --domain-a A.npy --domain-b B.npy [options]

  --domain-a FILE      features of domain A (.npy, n_a x d, float32 or float64)
  --domain-b FILE      features of domain B (.npy, n_b x d)
  --out DIR            output folder for features_a.npy / features_b.npy, created if needed
                       (default out/train-head)
  --epochs N           training epochs (default 80)
  --seed N             seed of initialisation, views, batches and K-means (default 0)
  --prototypes K       prototypes per domain, normally the number of categories (default 10)
  --hidden N           hidden width of the head (default 512)
  --output-dim N       output dimension of the head (default 128)
  --batch N            mini-batch size per domain (default 64)
  --lr X               Adam learning rate, in (0, 1] (default 1e-3, cosine schedule)
  --temperature X      InfoNCE temperature, in [1e-6, 100] (default 0.2)
  --image-shape HxW    the features are images of H x W pixels (per channel, row-major): views
                       get random affine warps as well (default: not images)
  --image-warp S,H,T   with --image-shape: the warps' limits, per-axis scale in [1/S, S], shear
                       in +-H, shift in +-T pixels (default 1.15,0.1,0.5)
  --threads N          OpenMP threads (default 1)
  --uniform-marginals  equipartition prototype marginals instead of K-means proportions
  --no-intra           ablation: no in-domain OT
  --no-cross           ablation: no cross-domain OT
  --folded-loss        the older single-InfoNCE loss form (positives folded 1 / 0.5 / 0.05)
  --quiet              no per-epoch lines
  --help               this text
)";

struct Arguments {
  std::string a, b, out = "out/train-head";
  TrainConfig config;
};

/// Parses the command line; false when the help text was asked for.
bool parse(int argc, char** argv, Arguments& args) {
  TrainConfig& c = args.config;
  c.epochs = default_epochs;
  c.verbose = true;
  ArgumentParser p;
  p.flag("--uniform-marginals", [&] { c.ot.kmeans_marginals = false; });
  p.flag("--no-intra", [&] { c.ot.intra_domain = false; });
  p.flag("--no-cross", [&] { c.ot.cross_domain = false; });
  p.flag("--folded-loss", [&] { c.losses.form = LossForm::folded_positive; });
  p.flag("--quiet", [&] { c.verbose = false; });
  p.option("--domain-a", [&](const std::string& v) { args.a = v; });
  p.option("--domain-b", [&](const std::string& v) { args.b = v; });
  p.option("--out", [&](const std::string& v) { args.out = v; });
  p.option("--epochs", [&](const std::string& v) { c.epochs = parse_integer<int>("--epochs", v, 1, 100000); });
  p.option("--seed", [&](const std::string& v) { c.seed = parse_integer<unsigned>("--seed", v, 0, 4294967295u); });
  p.option("--prototypes", [&](const std::string& v) { c.num_prototypes = parse_integer<int>("--prototypes", v, 2, 100000); });
  p.option("--hidden", [&](const std::string& v) { c.head.hidden_dim = parse_integer<int>("--hidden", v, 1, 65536); });
  p.option("--output-dim", [&](const std::string& v) { c.head.output_dim = parse_integer<int>("--output-dim", v, 1, 65536); });
  p.option("--batch", [&](const std::string& v) { c.optimisation.batch_size = parse_integer<int>("--batch", v, 1, 1 << 20); });
  add_image_view_options(p, c.augmentation);
  p.option("--threads", [&](const std::string& v) { c.threads = parse_integer<int>("--threads", v, 1, 1024); });
  p.option("--lr", [&](const std::string& v) { c.optimisation.learning_rate = parse_real("--lr", v, 1e-12, 1); });
  p.option("--temperature", [&](const std::string& v) { c.losses.temperature = parse_real("--temperature", v, 1e-6, 100); });
  if (!p.parse(argc, argv)) return false;
  if (args.a.empty() || args.b.empty()) throw UsageError("--domain-a and --domain-b are required");
  if (args.config.losses.temperature < 1e-6) throw UsageError("--temperature must be >= 1e-6");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  try {
    if (!parse(argc, argv, args)) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-train-head: %s\n\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    OutputSet out(args.out);  // fails now, not after training, when the folder is unwritable
    const protoot::Matrix<float> a = protoot::io::read_npy<float>(args.a);
    const protoot::Matrix<float> b = protoot::io::read_npy<float>(args.b);
    if (a.cols() != b.cols())
      throw std::invalid_argument("feature dimensions differ: " + args.a + " has " + std::to_string(a.cols()) +
                                  " columns, " + args.b + " has " + std::to_string(b.cols()));
    std::printf("domain A: %ld x %ld, domain B: %ld x %ld, K = %d prototypes\n", long(a.rows()), long(a.cols()),
                long(b.rows()), long(b.cols()), args.config.num_prototypes);
    std::fflush(stdout);
    const auto result = train_protoot_head(a, b, args.config);
    out.stage("features_a.npy", [&](const std::string& p) { protoot::io::write_npy(p, result.features_a); });
    out.stage("features_b.npy", [&](const std::string& p) { protoot::io::write_npy(p, result.features_b); });
    out.commit();
    std::printf("wrote %s/features_a.npy and %s/features_b.npy (%ld columns)\n", args.out.c_str(), args.out.c_str(),
                long(result.features_a.cols()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-train-head: %s\n", e.what());
    return 1;
  }
  return 0;
}
