// protoot/detail/neighbour_contrast_impl.hpp — definitions of protoot/losses/neighbour_contrast.hpp.
#pragma once

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "protoot/detail/openmp.hpp"
#include "protoot/detail/validation.hpp"
#include "protoot/l2_normalize.hpp"
#include "protoot/losses/neighbour_contrast.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/types.hpp"

namespace protoot {
template <class DQ, class DB>
NeighbourMatrix cosine_neighbours(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank, Index k,
                                  const IndexVector* excluded) {
  using S = typename DQ::Scalar;
  constexpr const char* where = "cosine_neighbours";
  detail::require_nonempty(queries, where, "queries");
  detail::require_nonempty(bank, where, "bank");
  detail::require_size(bank.cols(), queries.cols(), where, "bank dimension");
  const Index n = queries.rows(), m = bank.rows();
  detail::require_exclusions(excluded, n, m, where);
  const Index available = excluded ? m - 1 : m;
  if (k < 1 || k > available)
    detail::fail(where, "k = " + std::to_string(k) + " must be in [1, " + std::to_string(available) + "]");
  const Matrix<S> similarity = l2_normalize_rows(queries) * l2_normalize_rows(bank).transpose();
  NeighbourMatrix neighbours(n, k);
PROTOOT_OMP(parallel for if (n * m > 32768))
  for (Index i = 0; i < n; ++i) {
    std::vector<Index> order(static_cast<size_t>(m));
    std::iota(order.begin(), order.end(), Index(0));
    if (excluded && (*excluded)(i) >= 0) order.erase(order.begin() + (*excluded)(i));
    const auto more_similar = [&](Index a, Index b) {
      return similarity(i, a) > similarity(i, b) || (similarity(i, a) == similarity(i, b) && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), more_similar);
    for (Index r = 0; r < k; ++r) neighbours(i, r) = order[static_cast<size_t>(r)];
  }
  return neighbours;
}

template <class DQ, class DB>
typename DQ::Scalar neighbour_contrast(const Eigen::MatrixBase<DQ>& queries, const Eigen::MatrixBase<DB>& bank,
                                       Index k, typename DQ::Scalar tau, const IndexVector* excluded,
                                       PrototypeGradients<typename DQ::Scalar>* grad) {
  using S = typename DQ::Scalar;
  detail::require_positive(tau, "neighbour_contrast", "tau");
  detail::require_finite(queries, "neighbour_contrast", "queries");
  detail::require_finite(bank, "neighbour_contrast", "bank");
  const NeighbourMatrix neighbours = cosine_neighbours(queries, bank, k, excluded);
  Matrix<S> targets = Matrix<S>::Zero(queries.rows(), bank.rows());
  for (Index i = 0; i < neighbours.rows(); ++i)
    for (Index r = 0; r < k; ++r) targets(i, neighbours(i, r)) = S(1) / S(k);
  return prototype_contrast_soft(queries, bank, targets, tau, grad);
}

}  // namespace protoot
