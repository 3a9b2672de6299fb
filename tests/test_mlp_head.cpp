// The example MLP head: backward against central finite differences (weights and inputs, ReLU
// and GELU), float against double, the optimisers on a closed-form problem, and ProtoOT
// training on a small synthetic two-domain problem.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "../examples/head/mlp.hpp"
#include "../examples/head/optimizer.hpp"
#include "support/gradient_check.hpp"

using namespace protoot;
using namespace protoot::examples;
using test::gradient_error;
using test::MatrixD;

namespace {

MatrixD gaussian(Index rows, Index cols, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  MatrixD m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

}  // namespace

TEST_CASE("MLP head backward matches finite differences for weights and inputs", "[mlp]") {
  const Activation activation = GENERATE(Activation::relu, Activation::gelu);
  std::mt19937 rng(2);
  const MatrixD x = gaussian(7, 5, rng), weights = gaussian(7, 3, rng);
  MlpHead<double> head(5, 6, 3, activation, 42);
  head.parameters() += 0.1 * gaussian(head.parameters().size(), 1, rng);  // non-zero biases too
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
  const MatrixD x = gaussian(16, 8, rng);
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
