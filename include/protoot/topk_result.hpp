// protoot/topk_result.hpp — what a top-k search returns (retrieval.hpp, cuda/topk.cuh).
#pragma once

#include "protoot/types.hpp"

namespace protoot {

/// Row-major matrix of gallery indices (one row per query).
using IndexMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The k best gallery items of every query, best first.
template <class Scalar>
struct TopK {
  IndexMatrix indices;    ///< n x k gallery row indices
  Matrix<Scalar> scores;  ///< n x k similarities, non-increasing along each row
};

}  // namespace protoot
