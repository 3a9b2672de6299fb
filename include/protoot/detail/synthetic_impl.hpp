// protoot/detail/synthetic_impl.hpp — definitions of protoot/synthetic.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "protoot/detail/eigen_push.hpp"
#include <Eigen/QR>
#include "protoot/detail/eigen_pop.hpp"

#include "protoot/detail/validation.hpp"
#include "protoot/synthetic.hpp"
#include "protoot/types.hpp"

namespace protoot {
namespace detail {

/// Per-class sample counts summing to n (largest remainder), every class at least 1.
inline std::vector<Index> long_tailed_counts(Index n, Index classes, double imbalance, std::mt19937_64& rng) {
  std::vector<Index> rank(static_cast<std::size_t>(classes));
  std::iota(rank.begin(), rank.end(), Index(0));
  std::shuffle(rank.begin(), rank.end(), rng);
  std::vector<double> share(rank.size());
  for (std::size_t c = 0; c < rank.size(); ++c)
    share[c] = std::pow(imbalance, -double(rank[c]) / double(std::max<Index>(classes - 1, 1)));
  const double total = std::accumulate(share.begin(), share.end(), 0.0);
  std::vector<Index> counts(rank.size(), 1);  // one each, the rest proportionally
  const double rest = double(n - classes);
  Index assigned = classes;
  for (std::size_t c = 0; c < rank.size(); ++c) {
    counts[c] += Index(std::floor(rest * share[c] / total));
    assigned += counts[c] - 1;
  }
  for (std::size_t c = 0; assigned < n; c = (c + 1) % counts.size(), ++assigned) ++counts[c];
  return counts;
}

}  // namespace detail

template <class Scalar>
TwoDomainData<Scalar> make_two_domain(const TwoDomainOptions& o) {
  constexpr const char* where = "make_two_domain";
  detail::require(o.classes >= 1 && o.dim >= 1, where, "classes and dim must be >= 1");
  detail::require(o.samples_a >= o.classes && o.samples_b >= o.classes, where,
                  "each domain needs at least one sample per class");
  detail::require(o.imbalance >= 1 && std::isfinite(o.imbalance), where, "imbalance must be finite and >= 1");
  detail::require(std::isfinite(o.rotation), where, "rotation must be finite");
  for (const auto& [name, value] : {std::pair<const char*, double>{"spread", o.spread}, {"scale_jitter", o.scale_jitter},
                                    {"offset", o.offset}, {"noise", o.noise}})
    detail::require(std::isfinite(value) && value >= 0, where, std::string(name) + " must be finite and >= 0");
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> normal;
  const auto gaussian = [&](Index rows, Index cols) {
    Matrix<double> x(rows, cols);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    return x;
  };
  const Index d = o.dim;
  Matrix<double> means = gaussian(o.classes, d);
  means.rowwise().normalize();

  // The domain map: R = Q blockdiag(rotation by angle) Q^T, then scale, then offset.
  const Matrix<double> basis = Eigen::HouseholderQR<Matrix<double>>(gaussian(d, d)).householderQ();
  Matrix<double> planes = Matrix<double>::Identity(d, d);
  for (Index p = 0; p + 1 < d; p += 2) {
    planes(p, p) = planes(p + 1, p + 1) = std::cos(o.rotation);
    planes(p + 1, p) = std::sin(o.rotation);
    planes(p, p + 1) = -std::sin(o.rotation);
  }
  const Vector<double> scale = (gaussian(d, 1) * o.scale_jitter).array().exp();
  const Matrix<double> map = scale.asDiagonal() * basis * planes * basis.transpose();  // x_B = map x + t
  const Vector<double> offset = gaussian(d, 1).normalized() * o.offset;

  const auto sample = [&](Index n, IndexVector& labels) {
    const std::vector<Index> counts = detail::long_tailed_counts(n, o.classes, o.imbalance, rng);
    labels.resize(n);
    for (Index c = 0, i = 0; c < o.classes; ++c)
      for (Index t = 0; t < counts[static_cast<std::size_t>(c)]; ++t) labels(i++) = c;
    std::shuffle(labels.data(), labels.data() + n, rng);
    Matrix<double> x = gaussian(n, d) * (o.spread / std::sqrt(double(d)));
    for (Index i = 0; i < n; ++i) x.row(i) += means.row(labels(i));
    return x;
  };
  TwoDomainData<Scalar> data;
  data.a = sample(o.samples_a, data.labels_a).template cast<Scalar>();
  Matrix<double> b = sample(o.samples_b, data.labels_b) * map.transpose();
  b.rowwise() += offset.transpose();
  b += gaussian(o.samples_b, d) * (o.noise / std::sqrt(double(d)));
  data.b = b.template cast<Scalar>();
  detail::require_finite(data.a, where, "domain A features (spread too large for this scalar type)");
  detail::require_finite(data.b, where, "domain B features (spread, offset or noise too large for this scalar type)");
  return data;
}

}  // namespace protoot
