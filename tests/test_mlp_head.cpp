// The example MLP head: backward against central finite differences (weights and inputs, ReLU
// and GELU), float against double, the optimisers on a closed-form problem, and ProtoOT
// training on a small synthetic two-domain problem.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "../examples/head/mlp.hpp"
#include "../examples/head/optimizer.hpp"
#include "../examples/head/protoot_trainer.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/synthetic.hpp"
#include "support/gradient_check.hpp"

using namespace protoot;
using namespace protoot::examples;
using test::gradient_error;
using test::MatrixD;
using test::random_normal;
using VectorD = Vector<double>;

TEST_CASE("MLP head backward matches finite differences for weights and inputs", "[mlp]") {
  const Activation activation = GENERATE(Activation::relu, Activation::gelu);
  std::mt19937 rng(2);
  const MatrixD x = random_normal(7, 5, rng), weights = random_normal(7, 3, rng);
  MlpHead<double> head(5, 6, 3, activation, 42);
  head.parameters() += 0.1 * random_normal(head.parameters().size(), 1, rng);  // non-zero biases too
  MlpCache<double> cache;
  const MatrixD y = head.forward(x, &cache);
  CHECK((y.rowwise().norm().array() - 1).abs().maxCoeff() < 1e-12);
  Vector<double> grad;
  const MatrixD dx = head.backward(cache, weights, grad);

  const auto loss_of_input = [&](const MatrixD& input) { return head.forward(input).cwiseProduct(weights).sum(); };
  CHECK(gradient_error(loss_of_input, x, dx) <= 1e-6);
  const MatrixD params = head.parameters();
  const auto loss_of_params = [&](const MatrixD& p) {
    MlpHead<double> probe = head;
    probe.parameters() = p.col(0);
    return probe.forward(x).cwiseProduct(weights).sum();
  };
  CHECK(gradient_error(loss_of_params, params, grad) <= 1e-6);

  // backward accumulates: a second call adds the same gradient again
  Vector<double> twice = grad;
  head.backward(cache, weights, twice);
  CHECK((twice - 2 * grad).norm() <= 1e-12 * grad.norm());
}

TEST_CASE("MLP head: same seed, same weights; float forward within 1e-5 of double", "[mlp]") {
  std::mt19937 rng(4);
  const MatrixD x = random_normal(16, 8, rng);
  MlpHead<double> hd(8, 32, 4, Activation::gelu, 9);
  MlpHead<float> hf(8, 32, 4, Activation::gelu, 9);
  CHECK((hd.parameters().cast<float>() - hf.parameters()).cwiseAbs().maxCoeff() < 1e-6f);
  CHECK(MlpHead<double>(8, 32, 4, Activation::gelu, 10).parameters() != hd.parameters());
  const Matrix<float> yf = hf.forward(x.cast<float>());
  CHECK((yf.cast<double>() - hd.forward(x)).cwiseAbs().maxCoeff() < 1e-5);
  CHECK_THROWS_WITH(hd.forward(MatrixD::Ones(2, 7)), Catch::Contains("input columns"));
}

TEST_CASE("optimisers minimise a quadratic; cosine schedule end points", "[mlp]") {
  // f(w) = 0.5 ||w - t||^2: gradient w - t, minimum t (weight decay off for an exact target).
  Vector<double> target(3);
  target << 1.0, -2.0, 0.5;
  for (const auto kind : {OptimizerConfig::Kind::sgd, OptimizerConfig::Kind::adam}) {
    for (const bool amsgrad : {false, true}) {
      OptimizerConfig config;
      config.kind = kind;
      config.amsgrad = amsgrad;
      config.weight_decay = 0;
      Optimizer<double> optimizer(config);
      Vector<double> w = Vector<double>::Zero(3);
      for (int step = 0; step < 2000; ++step) optimizer.step(w, w - target, kind == OptimizerConfig::Kind::sgd ? 0.05 : 0.01);
      CHECK((w - target).norm() < 1e-3);
    }
  }
  // Weight decay shrinks the optimum to t / (1 + decay).
  OptimizerConfig decayed;
  decayed.kind = OptimizerConfig::Kind::sgd;
  decayed.weight_decay = 0.25;
  Optimizer<double> sgd(decayed);
  Vector<double> w = Vector<double>::Zero(3);
  for (int step = 0; step < 2000; ++step) sgd.step(w, w - target, 0.05);
  CHECK((w - target / 1.25).norm() < 1e-6);
  CHECK(cosine_learning_rate(0.1, 0, 10) == Approx(0.1));
  CHECK(cosine_learning_rate(0.1, 5, 10) == Approx(0.05));
  CHECK(cosine_learning_rate(0.1, 10, 10) == Approx(0.0).margin(1e-15));
}

namespace {

/// Mean over both directions of cross-domain P@1, P@5, P@15 (percent).
double mean_precision(const MatrixD& a, const IndexVector& la, const MatrixD& b, const IndexVector& lb) {
  double total = 0;
  for (const auto& direction : cross_domain_scores(a, la, b, lb, {1, 5, 15}))
    for (const double p : direction.scores.precision) total += p;
  return total / 6;
}

/// Every option spelled out, so the test does not move with the generator's defaults.
TwoDomainData<double> small_two_domain() {
  TwoDomainOptions o;
  o.spread = 1.0;
  o.rotation = 0.6;
  o.scale_jitter = 0.2;
  o.offset = 0.5;
  o.noise = 0.3;
  o.classes = 5;
  o.dim = 16;
  o.samples_a = o.samples_b = 300;
  o.imbalance = 3;
  o.seed = 1;
  return make_two_domain<double>(o);
}

TrainConfig small_config() {
  TrainConfig config;
  config.epochs = 25;
  config.seed = 3;
  config.num_prototypes = 5;
  config.head.hidden_dim = 128;
  config.head.output_dim = 64;
  config.kmeans.restarts = 5;  // of 20: two K-means (K and 3K) per domain, and -O0 sanitizer builds run this file
  return config;
}

double mean_intra(const std::vector<EpochLog>& log, std::size_t first, std::size_t last) {
  double total = 0;
  for (std::size_t e = first; e < last; ++e) total += log[e].intra_a + log[e].intra_b;
  return total / double(last - first);
}

}  // namespace

TEST_CASE("ProtoOT training lowers the loss and raises cross-domain P@K over the untrained head", "[mlp][train]") {
  const TwoDomainData<double> data = small_two_domain();
  const TrainConfig config = small_config();
  // The trainer initialises its head exactly so (same sizes, activation and seed).
  const MlpHead<double> untrained(16, config.head.hidden_dim, config.head.output_dim, config.head.activation, config.seed);
  const double before = mean_precision(untrained.forward(data.a), data.labels_a, untrained.forward(data.b), data.labels_b);
  int calls = 0;
  const TrainResult<double> trained = train_protoot_head(data.a, data.b, config, [&](const EpochLog&) { ++calls; });
  const double after = mean_precision(trained.features_a, data.labels_a, trained.features_b, data.labels_b);
  INFO("mean cross-domain P@{1,5,15}: untrained " << before << ", trained " << after);
  CHECK(calls == config.epochs);
  REQUIRE(trained.log.size() == std::size_t(config.epochs));
  CHECK(trained.features_a.rows() == data.a.rows());
  CHECK(trained.features_b.cols() == config.head.output_dim);
  CHECK((trained.features_a.rowwise().norm().array() - 1).abs().maxCoeff() < 1e-12);
  CHECK(after > before + 5);
  // in-domain loss: the last five epochs average well below the first five
  CHECK(mean_intra(trained.log, 20, 25) < 0.6 * mean_intra(trained.log, 0, 5));
  const int cross_epoch = int(std::ceil(config.losses.cross_start * config.epochs));
  CHECK(cross_epoch > 0);
  CHECK(cross_epoch < config.epochs);
  for (const EpochLog& e : trained.log) {
    CHECK(e.cross_weight == (e.epoch >= cross_epoch ? config.losses.cross_weight : 0.0));
    CHECK(e.marginal_error >= 0);
    CHECK(e.marginal_error < 0.5);
    CHECK((e.cross_a > 0) == (e.epoch >= cross_epoch));
  }
}

TEST_CASE("each ablation switch changes only its own part of the objective", "[mlp][train]") {
  const TwoDomainData<double> data = small_two_domain();
  TrainConfig config = small_config();
  config.epochs = 2;
  const TrainResult<double> full = train_protoot_head(data.a, data.b, config);
  const TrainResult<double> again = train_protoot_head(data.a, data.b, config);
  CHECK(full.features_a == again.features_a);  // deterministic for a seed
  CHECK(full.log[0].intra_a == again.log[0].intra_a);

  TrainConfig uniform = config;
  uniform.ot.kmeans_marginals = false;
  TrainConfig intra_only = config;
  intra_only.ot.cross_domain = false;
  TrainConfig cross_only = config;
  cross_only.ot.intra_domain = false;
  TrainConfig folded = config;
  folded.losses.form = LossForm::folded_positive;
  TrainConfig argmax = config;
  argmax.losses.cross_target = CrossTarget::plan_argmax;
  TrainConfig matched = config;
  matched.losses.cross_target = CrossTarget::matched_prototype;
  TrainConfig uncentred = config;
  uncentred.input_normalisation = InputNormalisation::none;
  TrainConfig coarse = config;
  coarse.ot.cross_refinement = 1;
  TrainConfig unsmoothed = config;
  unsmoothed.losses.cross_target_neighbours = 0;
  TrainConfig fully_centred = config;
  fully_centred.centring_share = 1;
  TrainConfig unweighted = config;
  unweighted.losses.cycle_weighted_cross = false;
  std::vector<TrainResult<double>> results;
  for (const TrainConfig* variant : {&intra_only, &uniform, &cross_only, &folded, &argmax, &matched, &uncentred,
                                     &coarse, &unsmoothed, &fully_centred, &unweighted}) {
    results.push_back(train_protoot_head(data.a, data.b, *variant));
    CHECK(results.back().features_a != full.features_a);
    CHECK(results.back().features_a.allFinite());
  }
  REQUIRE(int(std::ceil(config.losses.cross_start * config.epochs)) == 1);
  // Before the cross-domain term switches on (epoch 0 of 2), dropping cross-domain OT changes
  // nothing: the same data, views and in-domain targets.
  const TrainResult<double>& without_cross = results.front();
  CHECK(without_cross.log[0].intra_a == full.log[0].intra_a);
  CHECK(without_cross.log[0].intra_b == full.log[0].intra_b);
  CHECK(without_cross.log[1].cross_a == 0);
  CHECK(full.log[1].cross_a > 0);
}

TEST_CASE("float training runs and bad configurations are rejected", "[mlp][train]") {
  const TwoDomainData<float> data = [] {
    TwoDomainOptions o;
    o.classes = 3;
    o.dim = 8;
    o.samples_a = 60;
    o.samples_b = 50;
    return make_two_domain<float>(o);
  }();
  TrainConfig config;
  config.epochs = 2;
  config.num_prototypes = 3;
  config.head.hidden_dim = 16;
  config.head.output_dim = 8;
  const TrainResult<float> r = train_protoot_head(data.a, data.b, config);
  CHECK(r.features_b.rows() == 50);
  CHECK(r.features_b.allFinite());

  TrainConfig bad = config;
  bad.losses.temperature = 1e-300;  // positive, but 0 once it is a float
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("temperature"));
  bad = config;
  bad.num_prototypes = 51;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("num_prototypes"));
  bad = config;
  bad.augmentation.input_dropout = 1;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("input_dropout"));
  bad = config;
  bad.losses.cross_weight = -1;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("cross_weight"));
  for (const double start : {std::numeric_limits<double>::quiet_NaN(), -0.1, 1e300}) {
    bad = config;
    bad.losses.cross_start = start;
    CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("cross_start"));
  }
  // Values that would train without complaint into NaN features.
  bad = config;
  bad.losses.weight_neighbour = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("loss weights"));
  bad = config;
  bad.losses.weight_prototype = -1;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("loss weights"));
  bad = config;
  bad.optimisation.optimizer.beta2 = 1;  // Adam's bias correction divides by 1 - beta2^t = 0
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("beta2"));
  bad = config;
  bad.optimisation.optimizer.weight_decay = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("weight_decay"));
  for (const double share : {-0.1, 1.5, std::nan("")}) {
    bad = config;
    bad.centring_share = share;
    CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("centring_share"));
  }
  bad = config;
  bad.ot.cross_refinement = 0;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("cross_refinement"));
  for (const int neighbours : {-1, 50}) {  // B has 50 samples: at most 49 other rows
    bad = config;
    bad.losses.cross_target_neighbours = neighbours;
    CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("cross_target_neighbours"));
  }
  bad.losses.cross_target_neighbours = 49;
  CHECK(train_protoot_head(data.a, data.b, bad).features_a.allFinite());
  bad = config;
  bad.optimisation.learning_rate = std::nan("");
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("learning_rate"));
  bad.optimisation.learning_rate = 0;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("learning_rate"));
  bad = config;
  bad.threads = 0;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("threads"));
  bad = config;
  bad.augmentation.image_height = 3;  // 8 features are not whole 3 x 3 images
  bad.augmentation.image_width = 3;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("not whole images of 3 x 3"));
  bad.augmentation.image_width = 0;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("both be 0"));
  bad = config;
  bad.augmentation.max_scale = 0.5;
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("max_scale"));
  bad.augmentation.max_scale = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(train_protoot_head(data.a, data.b, bad), Catch::Contains("max_scale"));
  TrainConfig images = config;  // 8 features = two channels of 2 x 2 images
  images.augmentation.image_height = 2;
  images.augmentation.image_width = 2;
  CHECK(train_protoot_head(data.a, data.b, images).features_a.allFinite());
  CHECK_THROWS_WITH(train_protoot_head(data.a, Matrix<float>(data.b.leftCols(4)), config), Catch::Contains("same number of columns"));
  Matrix<float> nan_a = data.a;
  nan_a(3, 3) = std::nanf("");
  CHECK_THROWS_WITH(train_protoot_head(nan_a, data.b, config), Catch::Contains("NaN"));
  // Uncentred, an all-zero row has no direction; centred, a row equal to the domain's mean has none.
  TrainConfig raw = config;
  raw.input_normalisation = InputNormalisation::none;
  Matrix<float> zero_b = data.b;
  zero_b.row(5).setZero();
  CHECK_THROWS_WITH(train_protoot_head(data.a, zero_b, raw), Catch::Contains("B row 5 is all zeros"));
  // Pairs of rows u_i, -u_i with integer entries, pair 2 (rows 4, 5) zero: the mean is exactly 0.
  Matrix<float> mean_row_b(50, data.b.cols());
  for (Index i = 0; i < 25; ++i) {
    mean_row_b.row(2 * i) = data.b.row(i).array().round().matrix();
    mean_row_b(2 * i, 0) = float(i + 1);
    mean_row_b.row(2 * i + 1) = -mean_row_b.row(2 * i);
  }
  mean_row_b.middleRows(4, 2).setZero();
  CHECK_THROWS_WITH(train_protoot_head(data.a, mean_row_b, config), Catch::Contains("B row 4 equals the subtracted share of the domain's mean"));
  // Rows with tiny but valid entries (their squared norm underflows in float) are accepted.
  CHECK(train_protoot_head(Matrix<float>(data.a * 1e-30f), data.b, raw).features_a.allFinite());
}

TEST_CASE("image views: the identity warp keeps the image, a shift moves it by whole pixels", "[mlp]") {
  // 2 channels of 3 x 4 images; the offset is added before the warp and removed after it.
  Eigen::Matrix<double, 1, Eigen::Dynamic> image(24), offset(24);
  for (Index j = 0; j < 24; ++j) {
    image(j) = double(j % 7) - 2.5;
    offset(j) = 0.25 * double(j % 3);
  }
  AugmentationConfig c;
  c.image_height = 3;
  c.image_width = 4;
  c.max_scale = 1;
  c.max_shear = 0;
  c.max_shift = 0;
  std::mt19937 rng(1);
  Eigen::Matrix<double, 1, Eigen::Dynamic> warped = image;
  trainer::warp_image_row<double>(warped, offset, c, rng);
  CHECK((warped - image).cwiseAbs().maxCoeff() < 1e-12);

  // max_shift 1 draws shifts in (-1, 1): every output pixel is a convex mix of at most four
  // neighbouring source pixels (zero outside), so its magnitude is bounded by theirs.
  c.max_shift = 1;
  c.max_scale = 1.5;
  c.max_shear = 0.5;
  for (int trial = 0; trial < 20; ++trial) {
    warped = image;
    trainer::warp_image_row<double>(warped, offset, c, rng);
    REQUIRE(warped.allFinite());
    const Eigen::Matrix<double, 1, Eigen::Dynamic> shifted = warped + offset;
    CHECK(shifted.cwiseAbs().maxCoeff() <= (image + offset).cwiseAbs().maxCoeff() + 1e-12);
  }
}

TEST_CASE("released-code options: per-batch OT prototype step and normalised cross negatives", "[mlp][train]") {
  std::mt19937 rng(5);
  const Index o = 6;
  // The normalised cross-domain loss's gradient w.r.t. the queries against finite differences.
  const MatrixD prototypes = random_normal(4, o, rng).rowwise().normalized();
  const MatrixD q = random_normal(5, o, rng).rowwise().normalized();
  IndexVector match(5);
  match << 0, 3, 1, 1, 2;
  MatrixD grad = MatrixD::Zero(5, o);
  trainer::add_normalised_cross_info_nce(q, prototypes, match, 0.2, grad);
  const auto loss_of = [&](const MatrixD& x) {
    MatrixD unused = MatrixD::Zero(5, o);
    return trainer::add_normalised_cross_info_nce(x, prototypes, match, 0.2, unused);
  };
  CHECK(gradient_error(loss_of, q, grad) <= 1e-6);

  // Training with both options (and argmax targets, as the released code) runs and lowers the loss.
  const TwoDomainData<double> data = small_two_domain();
  TrainConfig released = small_config();
  released.epochs = 12;
  released.losses.cross_start = 0;
  released.losses.cross_target = CrossTarget::plan_argmax;
  released.ot.prototype_update = PrototypeUpdate::ot_per_batch;
  released.losses.normalise_cross_similarities = true;
  const TrainResult<double> r = train_protoot_head(data.a, data.b, released);
  CHECK(r.features_a.allFinite());
  CHECK(r.features_b.allFinite());
  CHECK(mean_intra(r.log, 9, 12) < 0.8 * mean_intra(r.log, 0, 3));
  for (const EpochLog& e : r.log) {
    CHECK(std::isfinite(e.loss));
    CHECK(e.marginal_error < 0.5);
  }
  // The per-batch step is what changes the result (two epochs suffice to show it).
  TrainConfig short_run = released;
  short_run.epochs = 2;
  TrainConfig default_update = short_run;
  default_update.ot.prototype_update = PrototypeUpdate::kmeans_per_epoch;
  CHECK(train_protoot_head(data.a, data.b, default_update).features_a !=
        train_protoot_head(data.a, data.b, short_run).features_a);
}

TEST_CASE("training results do not depend on the caller's thread setting", "[mlp][train]") {
  const TwoDomainData<double> data = small_two_domain();
  TrainConfig config = small_config();
  config.epochs = 2;
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  const TrainResult<double> two = train_protoot_head(data.a, data.b, config);
  CHECK(omp_get_max_threads() == 2);  // the call's own setting is restored
  omp_set_num_threads(1);
  const TrainResult<double> one = train_protoot_head(data.a, data.b, config);
  omp_set_num_threads(saved);
  CHECK(one.features_a == two.features_a);
#endif
}

TEST_CASE("cross-domain targets averaged over in-domain neighbours", "[mlp]") {
  // Four points on a circle: each one's nearest other point is its neighbour on the circle.
  MatrixD bank(4, 2);
  bank << 1, 0, 0.9, 0.1, -1, 0, -0.9, -0.1;
  bank.rowwise().normalize();
  const IndexMatrix neighbours = trainer::bank_neighbours(bank, 1);
  CHECK(neighbours.col(0) == (IndexVector(4) << 1, 0, 3, 2).finished());
  MatrixD assignments(4, 3);
  assignments << 1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0;
  const MatrixD mean = trainer::mean_over_neighbours(assignments, neighbours);
  MatrixD expected(4, 3);
  expected << 0.5, 0.5, 0, 0.5, 0.5, 0, 0.25, 0.25, 0.5, 0.25, 0.25, 0.5;
  CHECK((mean - expected).cwiseAbs().maxCoeff() <= 1e-15);
  CHECK((mean.rowwise().sum().array() - 1).abs().maxCoeff() <= 1e-15);
  // Three neighbours: every row of a 4-row bank, so every row becomes the column mean.
  const MatrixD all = trainer::mean_over_neighbours(assignments, trainer::bank_neighbours(bank, 3));
  for (Index i = 0; i < 4; ++i) CHECK((all.row(i) - assignments.colwise().mean()).cwiseAbs().maxCoeff() <= 1e-15);
}

TEST_CASE("every cross-domain target's gradient matches finite differences", "[mlp][train]") {
  std::mt19937 rng(9);
  const Index n = 6, k = 4, fine = 7, o = 5;
  trainer::DomainState<double> d, other;
  other.clusters.centroids = random_normal(k, o, rng).rowwise().normalized();
  other.cross_clusters.centroids = random_normal(fine, o, rng).rowwise().normalized();
  d.cross_plan.assignments = random_normal(n, fine, rng).cwiseAbs();
  d.cross_plan.assignments = d.cross_plan.assignments.array().colwise() / d.cross_plan.assignments.rowwise().sum().array();
  d.cross_plan.labels.resize(n);
  for (Index i = 0; i < n; ++i) d.cross_plan.assignments.row(i).maxCoeff(&d.cross_plan.labels(i));
  d.to_other.resize(k);
  d.to_other << 2, 0, 3, 1;
  IndexVector idx(n), own(n);
  idx << 0, 1, 2, 3, 4, 5;
  own << 1, 1, 0, 3, 2, 0;
  const MatrixD q = random_normal(n, o, rng).rowwise().normalized();
  const VectorD weights = (random_normal(n, 1, rng).col(0).cwiseAbs().array() + 0.1).matrix();
  const std::pair<CrossTarget, bool> cases[] = {{CrossTarget::plan_soft, false},
                                                {CrossTarget::plan_soft, true},  // cycle-weighted
                                                {CrossTarget::plan_argmax, false},
                                                {CrossTarget::matched_prototype, false}};
  for (const auto& [target, weighted] : cases) {
    TrainConfig c;
    c.losses.cross_target = target;
    d.cross_weights = weighted ? weights : VectorD();
    MatrixD grad = MatrixD::Zero(n, o);
    const double loss = trainer::cross_domain_loss(d, other, q, idx, own, c, grad);
    const auto loss_of = [&](const MatrixD& x) {
      MatrixD unused = MatrixD::Zero(n, o);
      return trainer::cross_domain_loss(d, other, x, idx, own, c, unused);
    };
    INFO("target " << int(target) << (weighted ? ", cycle-weighted" : ""));
    CHECK(loss > 0);
    CHECK(gradient_error(loss_of, q, grad) <= 1e-6);
  }
}

TEST_CASE("cycle consistency of cross-domain targets, scaled to mean 1 per cluster", "[mlp]") {
  // A: 3 samples over B's 2 fine clusters; B: 4 samples over A's 2 fine clusters.
  MatrixD targets(3, 2), other_targets(4, 2);
  targets << 1, 0, 0.5, 0.5, 0, 1;
  other_targets << 1, 0, 0, 1, 0.2, 0.8, 0, 1;
  IndexVector own(3), other(4);
  own << 0, 0, 1;
  other << 0, 0, 1, 1;
  // Back from B's cluster 0 (rows 0, 1): (0.5, 0.5); from cluster 1 (rows 2, 3): (0.1, 0.9).
  const VectorD consistency = trainer::cycle_consistency(targets, own, other_targets, other);
  CHECK((consistency - (VectorD(3) << 0.5, 0.3, 0.9).finished()).cwiseAbs().maxCoeff() <= 1e-15);
  // An empty cluster of B returns nothing.
  MatrixD three(1, 3);
  three << 0, 0, 1;
  CHECK(trainer::cycle_consistency(three, IndexVector::Zero(1), other_targets, other)(0) == 0);

  IndexVector clusters(4);
  clusters << 1, 0, 1, 2;
  const VectorD scaled = trainer::mean_one_per_cluster((VectorD(4) << 0.2, 0.5, 0.6, 0).finished(), clusters, 4);
  CHECK((scaled - (VectorD(4) << 0.5, 1, 1.5, 1).finished()).cwiseAbs().maxCoeff() <= 1e-15);
}
