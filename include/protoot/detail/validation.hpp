// protoot/detail/validation.hpp — argument checks shared by every public entry point.
//
// Bad input must produce a std::invalid_argument whose message names the function and the
// problem ("protoot::sinkhorn: a has 3 entries but the cost has 4 rows"), never a crash,
// an assertion or a silent NaN. These helpers keep those messages uniform.
#pragma once

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "protoot/types.hpp"

namespace protoot::detail {

/// Throws std::invalid_argument("protoot::<where>: <what>").
[[noreturn]] inline void fail(const char* where, const std::string& what) {
  throw std::invalid_argument(std::string("protoot::") + where + ": " + what);
}

inline void require(bool condition, const char* where, const std::string& what) {
  if (!condition) fail(where, what);
}

template <class Derived>
void require_nonempty(const Eigen::DenseBase<Derived>& x, const char* where, const char* name) {
  if (x.size() == 0) fail(where, std::string(name) + " is empty");
}

template <class Derived>
void require_finite(const Eigen::DenseBase<Derived>& x, const char* where, const char* name) {
  // x * 0 is 0 for finite entries and NaN for NaN/Inf, so one vectorised sum checks them all
  // (isFinite().all() is a scalar loop: 30% of an InfoNCE forward pass on a 4096-row bank).
  using Scalar = typename Derived::Scalar;
  if (!std::isfinite(static_cast<double>((x.derived().array() * Scalar(0)).sum())))
    fail(where, std::string(name) + " contains NaN or Inf");
}

template <class Scalar>
void require_positive(Scalar value, const char* where, const char* name) {
  if (!(value > Scalar(0)) || !std::isfinite(static_cast<double>(value))) {
    std::ostringstream os;
    os << name << " must be finite and > 0 (got " << value << ")";
    fail(where, os.str());
  }
}

/// The total of w, summed in double: a float sum of many small weights drifts by up to n
/// roundings, far past the 1e-6 mass checks.
template <class Derived>
double total_mass(const Eigen::MatrixBase<Derived>& w) {
  return w.template cast<double>().sum();
}

/// Scales x to unit length as (x / max|x_j|) / ||x / max|x_j|||, so no square overflows or
/// underflows (hypot's scaling): rows near 1e200 or 1e-200 keep their direction. Returns
/// ||x|| = max|x_j| ||x / max|x_j||| (Inf when the norm itself overflows), 0 for a zero or
/// non-finite x, which is then left unchanged.
template <class Derived>
typename Derived::Scalar normalise_direction(Eigen::MatrixBase<Derived>& x) {
  using S = typename Derived::Scalar;
  const S top = x.cwiseAbs().maxCoeff();
  if (!(top > S(0)) || !std::isfinite(static_cast<double>(top))) return S(0);
  x /= top;
  const S r = x.norm();
  x /= r;
  return top * r;
}

/// A weight vector: non-empty, finite, non-negative, with a positive total.
template <class Derived>
void require_weights(const Eigen::MatrixBase<Derived>& w, const char* where, const char* name) {
  require_nonempty(w, where, name);
  require_finite(w, where, name);
  if ((w.array() < 0).any()) fail(where, std::string(name) + " has negative entries");
  const auto total = w.sum();
  if (!(total > 0)) fail(where, std::string(name) + " has zero total mass");
  if (!std::isfinite(static_cast<double>(total)))  // finite entries whose sum overflows
    fail(where, std::string(name) + " has a total mass that overflows: rescale it");
}

/// A probability vector: weights that sum to 1 within `relative_tolerance`.
template <class Derived>
void require_distribution(const Eigen::MatrixBase<Derived>& w, const char* where, const char* name,
                          double relative_tolerance = 1e-6) {
  require_weights(w, where, name);
  const double total = total_mass(w);
  if (std::abs(total - 1.0) > relative_tolerance) {
    std::ostringstream os;
    os.precision(std::numeric_limits<double>::max_digits10);
    os << name << " must sum to 1 (got " << total << ")";
    fail(where, os.str());
  }
}

inline void require_size(Eigen::Index actual, Eigen::Index expected, const char* where,
                         const std::string& what) {
  if (actual != expected) {
    std::ostringstream os;
    os << what << ": got " << actual << ", expected " << expected;
    fail(where, os.str());
  }
}

/// Rows a (samples) and b (what they are compared with) of one feature space: both non-empty,
/// b as wide as a (`width` names that rule in the message), both finite — checked in this order.
template <class DA, class DB>
void require_feature_pair(const Eigen::DenseBase<DA>& a, const Eigen::DenseBase<DB>& b, const char* where,
                          const char* a_name, const char* b_name, const std::string& width) {
  require_nonempty(a, where, a_name);
  require_nonempty(b, where, b_name);
  require_size(b.cols(), a.cols(), where, width);
  require_finite(a, where, a_name);
  require_finite(b, where, b_name);
}

}  // namespace protoot::detail
