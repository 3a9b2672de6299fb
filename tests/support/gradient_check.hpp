// tests/support/gradient_check.hpp — central finite differences for checking hand-written
// gradients in double precision, on random inputs.
#pragma once

#include <algorithm>
#include <functional>
#include <random>

#include <Eigen/Core>

namespace protoot::test {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// rows x cols standard normal entries drawn from `rng`.
inline MatrixD random_normal(Eigen::Index rows, Eigen::Index cols, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  MatrixD m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

/// Central-difference gradient of f at x: (f(x + h e) - f(x - h e)) / 2h for every entry.
inline MatrixD numerical_gradient(const std::function<double(const MatrixD&)>& f, const MatrixD& x,
                                  double h = 1e-5) {
  MatrixD g(x.rows(), x.cols());
  MatrixD probe = x;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double saved = probe.data()[i];
    probe.data()[i] = saved + h;
    const double up = f(probe);
    probe.data()[i] = saved - h;
    const double down = f(probe);
    probe.data()[i] = saved;
    g.data()[i] = (up - down) / (2 * h);
  }
  return g;
}

/// ||analytic - numerical|| / max(||numerical||, 1e-12): the figure tests bound by 1e-6.
inline double gradient_error(const std::function<double(const MatrixD&)>& f, const MatrixD& x,
                             const MatrixD& analytic) {
  const MatrixD numeric = numerical_gradient(f, x);
  return (analytic - numeric).norm() / std::max(numeric.norm(), 1e-12);
}

}  // namespace protoot::test
