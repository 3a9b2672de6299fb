// tests/support/sinkhorn_problems.hpp — seeded entropic-OT problems shared by the Sinkhorn tests.
#pragma once

#include <cstdint>
#include <random>

#include "protoot/types.hpp"

namespace protoot::test {

/// Squared distances between random 2-D points (in [0, 2]) and positive marginals of mass 1.
struct OtProblem {
  Matrix<double> C;
  Vector<double> a, b;
};

inline OtProblem random_ot_problem(Index n, Index m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Matrix<double> x(n, 2), y(m, 2);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = uniform(rng);
  for (Index i = 0; i < y.size(); ++i) y.data()[i] = uniform(rng);
  OtProblem p;
  p.C.resize(n, m);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < m; ++j) p.C(i, j) = (x.row(i) - y.row(j)).squaredNorm();
  p.a = Vector<double>::NullaryExpr(n, [&] { return 0.2 + uniform(rng); });
  p.b = Vector<double>::NullaryExpr(m, [&] { return 0.2 + uniform(rng); });
  p.a /= p.a.sum();
  p.b /= p.b.sum();
  return p;
}

/// Largest entrywise relative difference |P - R| / R (R > 0 everywhere in these problems).
template <class DP, class DR>
double max_relative_error(const Eigen::MatrixBase<DP>& P, const Eigen::MatrixBase<DR>& R) {
  return ((P.template cast<double>() - R.template cast<double>()).array().abs() / R.template cast<double>().array())
      .maxCoeff();
}

}  // namespace protoot::test
