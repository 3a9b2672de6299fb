// protoot/detail/lane_reduce.hpp — sums and maxima over a row that compilers vectorise.
//
// A plain `sum += x[j]` loop is not vectorised without -ffast-math (reassociating a float sum
// changes its rounding), and `#pragma omp simd reduction` needs OpenMP and is lowered poorly by
// GCC when the loop body is large (the fused exp loops here). Keeping one partial result per SIMD
// lane in a small array makes the vector form explicit: the inner lane loop is unrolled and
// packed into one register operation per step, with or without OpenMP, on any compiler.
#pragma once

#include <algorithm>
#include <limits>

#include "protoot/types.hpp"

namespace protoot::detail {

/// Lanes of one 512-bit register: 8 doubles, 16 floats (two 256-bit registers on AVX2).
template <class Scalar>
constexpr int kLanes = int(64 / sizeof(Scalar));

/// sum_{j < count} term(j), with term(j) evaluated exactly once per j (it may store results).
template <class Scalar, class Term>
inline Scalar lane_sum(Eigen::Index count, Term&& term) {
  constexpr int W = kLanes<Scalar>;
  Scalar partial[W] = {};
  Eigen::Index j = 0;
  for (; j + W <= count; j += W)
    for (int l = 0; l < W; ++l) partial[l] += term(j + l);
  for (; j < count; ++j) partial[0] += term(j);
  Scalar total = Scalar(0);
  for (int l = 0; l < W; ++l) total += partial[l];
  return total;
}

/// max_{j < count} term(j) (-inf when count = 0), term(j) evaluated exactly once per j.
template <class Scalar, class Term>
inline Scalar lane_max(Eigen::Index count, Term&& term) {
  constexpr int W = kLanes<Scalar>;
  Scalar partial[W];
  std::fill(partial, partial + W, -std::numeric_limits<Scalar>::infinity());
  Eigen::Index j = 0;
  for (; j + W <= count; j += W)
    for (int l = 0; l < W; ++l) {
      const Scalar x = term(j + l);
      partial[l] = partial[l] > x ? partial[l] : x;
    }
  for (; j < count; ++j) partial[0] = std::max(partial[0], term(j));
  return *std::max_element(partial, partial + W);
}

}  // namespace protoot::detail
