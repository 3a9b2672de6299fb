// examples/head/optimizer.hpp — first-order optimisers over a flat parameter vector:
// SGD with momentum and Adam (optionally AMSGrad, as ProtoOT's released scripts use),
// coupled L2 weight decay, and a cosine learning-rate schedule.
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "protoot/types.hpp"
#include "protoot/detail/validation.hpp"

namespace protoot::examples {

struct OptimizerConfig {
  enum class Kind { sgd, adam } kind = Kind::adam;
  double momentum = 0.9;      ///< SGD only
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  ///< Adam only
  bool amsgrad = true;        ///< Adam: divide by the running maximum of the second moment
  double weight_decay = 5e-4; ///< added to the gradient as weight_decay * w (PyTorch's coupled form)
};

/// Learning rate at `step` of `total` steps: base * (1 + cos(pi step / total)) / 2, from base to 0.
inline double cosine_learning_rate(double base, long step, long total) {
  detail::require(total >= 1 && step >= 0, "cosine_learning_rate", "need total >= 1 and step >= 0");
  const double progress = std::min(1.0, double(step) / double(total));
  return base * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
}

template <class S>
class Optimizer {
 public:
  /// Throws std::invalid_argument unless momentum, beta1 and beta2 are in [0, 1), epsilon is
  /// finite and > 0 and weight_decay finite and >= 0: any other value makes NaN weights later.
  explicit Optimizer(OptimizerConfig config) : config_(config) {
    const auto unit = [](double v) { return v >= 0 && v < 1; };
    detail::require(unit(config.momentum) && unit(config.beta1) && unit(config.beta2) && std::isfinite(config.epsilon) &&
                        config.epsilon > 0 && std::isfinite(config.weight_decay) && config.weight_decay >= 0,
                    "Optimizer", "need momentum, beta1, beta2 in [0, 1), epsilon > 0 and weight_decay >= 0, all finite");
  }

  /// One update of `params` with gradient `grad` (same size) at learning rate `lr`. O(size).
  void step(Vector<S>& params, const Vector<S>& grad, double lr) {
    detail::require_size(grad.size(), params.size(), "Optimizer::step", "gradient size");
    if (first_.size() != params.size()) {
      first_.setZero(params.size());
      second_.setZero(params.size());
      second_max_.setZero(params.size());
      steps_ = 0;
    }
    ++steps_;
    const Vector<S> g = grad + S(config_.weight_decay) * params;
    if (config_.kind == OptimizerConfig::Kind::sgd) {
      first_ = S(config_.momentum) * first_ + g;
      params -= S(lr) * first_;
      return;
    }
    first_ = S(config_.beta1) * first_ + S(1 - config_.beta1) * g;
    second_ = S(config_.beta2) * second_ + S(1 - config_.beta2) * g.cwiseProduct(g);
    second_max_ = config_.amsgrad ? second_max_.cwiseMax(second_) : second_;
    const S bias1 = S(1 - std::pow(config_.beta1, double(steps_)));
    const S bias2 = S(1 - std::pow(config_.beta2, double(steps_)));
    params.array() -= S(lr) * (first_.array() / bias1) / ((second_max_.array() / bias2).sqrt() + S(config_.epsilon));
  }

 private:
  OptimizerConfig config_;
  Vector<S> first_, second_, second_max_;
  long steps_ = 0;
};

}  // namespace protoot::examples
