// protoot-train-head — trains the ProtoOT projection head on the features of two domains and
// writes the projected, L2-normalised features.
//
//   protoot-train-head --domain-a A.npy --domain-b B.npy [--out DIR] [options]
//
// A and B are n x d float32/float64 .npy files. Prints one line per epoch (loss terms, OT
// marginal error, time) and writes DIR/features_a.npy and DIR/features_b.npy (float32).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "head/protoot_trainer.hpp"
#include "protoot/io/npy.hpp"

namespace {

using protoot::examples::TrainConfig;

const char* const kUsage = R"(usage: protoot-train-head --domain-a A.npy --domain-b B.npy [options]

  --domain-a FILE      features of domain A (.npy, n_a x d, float32 or float64)
  --domain-b FILE      features of domain B (.npy, n_b x d)
  --out DIR            where features_a.npy / features_b.npy go (default: .)
  --epochs N           training epochs (default 30)
  --seed N             seed of initialisation, views, batches and K-means (default 0)
  --prototypes K       prototypes per domain, normally the number of categories (default 10)
  --hidden N           hidden width of the head (default 512)
  --output-dim N       output dimension of the head (default 128)
  --batch N            mini-batch size per domain (default 64)
  --lr X               Adam learning rate (default 1e-3, cosine schedule)
  --temperature X      InfoNCE temperature (default 0.2)
  --uniform-marginals  equipartition prototype marginals instead of K-means proportions
  --no-intra           ablation: no in-domain OT
  --no-cross           ablation: no cross-domain OT
  --folded-loss        the older single-InfoNCE loss form (positives folded 1 / 0.5 / 0.05)
  --quiet              no per-epoch lines
  --help               this text
)";

struct Arguments {
  std::string a, b, out = ".";
  TrainConfig config;
};

/// Parses a whole string as a number; throws std::invalid_argument naming the flag otherwise.
template <class T>
T parse_number(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  T value{};
  try {
    if constexpr (std::is_integral_v<T>) value = static_cast<T>(std::stol(text, &used));
    else value = static_cast<T>(std::stod(text, &used));
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw std::invalid_argument(flag + " expects a number, got '" + text + "'");
  return value;
}

Arguments parse(int argc, char** argv) {
  Arguments args;
  TrainConfig& c = args.config;
  c.verbose = true;
  const std::map<std::string, std::function<void()>> switches = {
      {"--uniform-marginals", [&] { c.kmeans_marginals = false; }},
      {"--no-intra", [&] { c.intra_domain = false; }},
      {"--no-cross", [&] { c.cross_domain = false; }},
      {"--folded-loss", [&] { c.loss_form = protoot::examples::LossForm::folded_positive; }},
      {"--quiet", [&] { c.verbose = false; }},
  };
  const std::map<std::string, std::function<void(const std::string&)>> options = {
      {"--domain-a", [&](const std::string& v) { args.a = v; }},
      {"--domain-b", [&](const std::string& v) { args.b = v; }},
      {"--out", [&](const std::string& v) { args.out = v; }},
      {"--epochs", [&](const std::string& v) { c.epochs = parse_number<int>("--epochs", v); }},
      {"--seed", [&](const std::string& v) { c.seed = parse_number<unsigned>("--seed", v); }},
      {"--prototypes", [&](const std::string& v) { c.num_prototypes = parse_number<int>("--prototypes", v); }},
      {"--hidden", [&](const std::string& v) { c.hidden_dim = parse_number<int>("--hidden", v); }},
      {"--output-dim", [&](const std::string& v) { c.output_dim = parse_number<int>("--output-dim", v); }},
      {"--batch", [&](const std::string& v) { c.batch_size = parse_number<int>("--batch", v); }},
      {"--lr", [&](const std::string& v) { c.learning_rate = parse_number<double>("--lr", v); }},
      {"--temperature", [&](const std::string& v) { c.temperature = parse_number<double>("--temperature", v); }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (const auto s = switches.find(flag); s != switches.end()) {
      s->second();
    } else if (const auto o = options.find(flag); o != options.end()) {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      o->second(argv[++i]);
    } else {
      throw std::invalid_argument("unknown argument '" + flag + "'");
    }
  }
  if (args.a.empty() || args.b.empty()) throw std::invalid_argument("--domain-a and --domain-b are required");
  if (c.epochs < 1) throw std::invalid_argument("--epochs must be >= 1");
  if (!std::filesystem::is_directory(args.out)) throw std::invalid_argument("--out '" + args.out + "' is not a directory");
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  Arguments args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-train-head: %s\n\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    const protoot::Matrix<float> a = protoot::io::read_npy<float>(args.a);
    const protoot::Matrix<float> b = protoot::io::read_npy<float>(args.b);
    if (a.cols() != b.cols())
      throw std::invalid_argument("feature dimensions differ: " + args.a + " has " + std::to_string(a.cols()) +
                                  " columns, " + args.b + " has " + std::to_string(b.cols()));
    std::printf("domain A: %ld x %ld, domain B: %ld x %ld, K = %d prototypes\n", long(a.rows()), long(a.cols()),
                long(b.rows()), long(b.cols()), args.config.num_prototypes);
    std::fflush(stdout);
    const auto result = protoot::examples::train_protoot_head(a, b, args.config);
    protoot::io::write_npy(args.out + "/features_a.npy", result.features_a);
    protoot::io::write_npy(args.out + "/features_b.npy", result.features_b);
    std::printf("wrote %s/features_a.npy and %s/features_b.npy (%ld columns)\n", args.out.c_str(), args.out.c_str(),
                long(result.features_a.cols()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "protoot-train-head: %s\n", e.what());
    return 1;
  }
  return 0;
}
