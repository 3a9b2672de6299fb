// examples/head/mlp.hpp — the projection head ProtoOT trains on precomputed features:
// Linear -> ReLU or GELU -> Linear -> row L2 normalisation, with a hand-written backward pass.
//
// All weights live in one flat vector so the optimiser, the momentum (EMA) copy and the
// gradient buffers are plain vector arithmetic over a single layout.
#pragma once

#include <cmath>
#include <random>
#include <stdexcept>

#include <Eigen/Core>

#include "protoot/l2_normalise.hpp"
#include "protoot/types.hpp"
#include "protoot/detail/validation.hpp"

namespace protoot::examples {

enum class Activation { relu, gelu };

/// What forward() keeps for backward(): the input, the pre-activations, the activations, the
/// output norms and the normalised output.
template <class S>
struct MlpCache {
  Matrix<S> input, pre, hidden, output;
  Vector<S> norms;
};

/// y = normalise(act(x W1 + b1) W2 + b2), W1: in x hidden, W2: hidden x out.
/// Parameters, flat and in this order: W1 (row-major), b1, W2 (row-major), b2.
template <class S>
class MlpHead {
 public:
  /// He-normal W1 (suits ReLU/GELU), Xavier-normal W2, zero biases, drawn from `seed`.
  MlpHead(Index in, Index hidden, Index out, Activation activation, unsigned seed)
      : in_(in), hidden_(hidden), out_(out), activation_(activation) {
    detail::require(in >= 1 && hidden >= 1 && out >= 1, "MlpHead", "layer sizes must be >= 1");
    params_.setZero(in * hidden + hidden + hidden * out + out);
    std::mt19937 rng(seed);
    const auto fill = [&rng](auto&& block, double stddev) {
      std::normal_distribution<double> normal(0.0, stddev);
      for (Index i = 0; i < block.rows(); ++i)
        for (Index j = 0; j < block.cols(); ++j) block(i, j) = S(normal(rng));
    };
    fill(w1(), std::sqrt(2.0 / double(in)));
    fill(w2(), std::sqrt(2.0 / double(hidden + out)));
  }

  Index input_dim() const { return in_; }
  Index output_dim() const { return out_; }
  Vector<S>& parameters() { return params_; }
  const Vector<S>& parameters() const { return params_; }

  /// Rows of x (n x in) -> unit rows (n x out). Fills `cache` for backward() when given. O(n in hidden + n hidden out).
  Matrix<S> forward(const Matrix<S>& x, MlpCache<S>* cache = nullptr) const {
    detail::require_size(x.cols(), in_, "MlpHead::forward", "input columns");
    Matrix<S> pre = x * cw1();
    pre.rowwise() += cb1().transpose();
    Matrix<S> hidden = pre.unaryExpr([this](S v) { return activate(v); });
    Matrix<S> raw = hidden * cw2();
    raw.rowwise() += cb2().transpose();
    Vector<S> norms;
    Matrix<S> y = l2_normalise_rows(raw, &norms);
    if (cache) {
      cache->input = x;
      cache->pre = std::move(pre);
      cache->hidden = std::move(hidden);
      cache->norms = std::move(norms);
      cache->output = y;
    }
    return y;
  }

  /// Given dL/dy (n x out) for the forward pass recorded in `cache`: adds dL/dparameters into
  /// `grad` (resized to parameters().size() and zeroed when empty) and returns dL/dx (n x in).
  Matrix<S> backward(const MlpCache<S>& cache, const Matrix<S>& grad_y, Vector<S>& grad) const {
    if (grad.size() == 0) grad.setZero(params_.size());
    detail::require_size(grad.size(), params_.size(), "MlpHead::backward", "gradient size");
    const Matrix<S> d_raw = l2_normalise_rows_backward(cache.output, cache.norms, grad_y);
    Slices g = slices(grad.data());
    g.w2 += cache.hidden.transpose() * d_raw;
    g.b2 += d_raw.colwise().sum().transpose();
    const Matrix<S> d_pre =
        (d_raw * cw2().transpose()).cwiseProduct(cache.pre.unaryExpr([this](S v) { return activate_derivative(v); }));
    g.w1 += cache.input.transpose() * d_pre;
    g.b1 += d_pre.colwise().sum().transpose();
    return d_pre * cw1().transpose();
  }

 private:
  using MatrixMap = Eigen::Map<Matrix<S>>;
  using VectorMap = Eigen::Map<Vector<S>>;
  struct Slices {
    MatrixMap w1;
    VectorMap b1;
    MatrixMap w2;
    VectorMap b2;
  };
  Slices slices(S* base) const {
    S* b1 = base + in_ * hidden_;
    S* w2 = b1 + hidden_;
    S* b2 = w2 + hidden_ * out_;
    return {MatrixMap(base, in_, hidden_), VectorMap(b1, hidden_), MatrixMap(w2, hidden_, out_), VectorMap(b2, out_)};
  }
  MatrixMap w1() { return slices(params_.data()).w1; }
  MatrixMap w2() { return slices(params_.data()).w2; }
  // Read-only views (the maps alias params_, which forward/backward never modify).
  MatrixMap cw1() const { return slices(const_cast<S*>(params_.data())).w1; }
  VectorMap cb1() const { return slices(const_cast<S*>(params_.data())).b1; }
  MatrixMap cw2() const { return slices(const_cast<S*>(params_.data())).w2; }
  VectorMap cb2() const { return slices(const_cast<S*>(params_.data())).b2; }

  S activate(S v) const {
    if (activation_ == Activation::relu) return v > S(0) ? v : S(0);
    return S(0.5) * v * (S(1) + std::erf(v / std::sqrt(S(2))));  // exact GELU
  }
  S activate_derivative(S v) const {
    if (activation_ == Activation::relu) return v > S(0) ? S(1) : S(0);
    const S inv_sqrt_2pi = S(0.3989422804014327);
    return S(0.5) * (S(1) + std::erf(v / std::sqrt(S(2)))) + v * inv_sqrt_2pi * std::exp(S(-0.5) * v * v);
  }

  Index in_, hidden_, out_;
  Activation activation_;
  Vector<S> params_;
};

}  // namespace protoot::examples
