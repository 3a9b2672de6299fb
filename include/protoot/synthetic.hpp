// protoot/synthetic.hpp — a seeded two-domain data set with a controlled domain shift and
// class imbalance, the test bed of the retrieval pipeline (examples, tests, benchmarks).
//
// Domain A: x = mu_c + spread * e, e ~ N(0, I / dim), for class means mu_c drawn uniformly on
// the unit sphere. Domain B sees the same classes through an affine map: x = s * R (mu_c +
// spread * e) + t + noise * e', where R rotates every plane of a random orthonormal basis by
// `rotation` radians, s is a per-coordinate scale exp(N(0, scale_jitter^2)) and t a random
// offset of norm `offset`. Class frequencies are long-tailed, p_c ~ imbalance^(-rank_c / (C-1))
// (largest / smallest = imbalance), with a different, random class order in each domain.
// Labels are returned for evaluation only.
#pragma once

#include <random>

#include "protoot/types.hpp"

namespace protoot {

struct TwoDomainOptions {
  Index classes = 10;
  Index dim = 32;
  Index samples_a = 1000;
  Index samples_b = 1000;
  double spread = 1.5;        ///< within-class standard deviation (norm) relative to unit class means
  double imbalance = 10.0;    ///< largest / smallest class frequency in each domain (>= 1)
  double rotation = 0.8;      ///< domain shift: rotation angle (radians) in every plane
  double scale_jitter = 0.2;  ///< domain shift: log-std of the per-coordinate scale
  double offset = 0.5;        ///< domain shift: norm of the offset t
  double noise = 0.3;         ///< extra noise (norm) in domain B
  unsigned seed = 0;
};

template <class Scalar>
struct TwoDomainData {
  Matrix<Scalar> a, b;              ///< samples_a x dim and samples_b x dim features
  IndexVector labels_a, labels_b;   ///< class of each row, in [0, classes)
};

/// Draws a two-domain data set (see the header comment). Deterministic for a given seed.
/// Requires classes >= 1, dim >= 1, samples >= classes in each domain, finite imbalance >= 1,
/// finite rotation, finite non-negative spread, scale_jitter, offset and noise, and features
/// that stay finite in Scalar (else std::invalid_argument).
/// O((samples_a + samples_b) dim^2).
template <class Scalar = double>
TwoDomainData<Scalar> make_two_domain(const TwoDomainOptions& o);

}  // namespace protoot

#include "protoot/detail/synthetic_impl.hpp"
