// protoot/prototype_sinkhorn_result.hpp — what prototype_sinkhorn() returns: a Sinkhorn
// result plus the training targets read from its plan.
#pragma once

#include "protoot/sinkhorn_result.hpp"
#include "protoot/types.hpp"

namespace protoot {

/// A Sinkhorn result plus what training uses of it.
template <class Scalar>
struct PrototypeSinkhornResult : SinkhornResult<Scalar> {
  /// n x k: each row of the plan divided by its sum — sample i's soft target over prototypes
  /// (a row with no mass stays zero).
  Matrix<Scalar> assignments;
  /// n: argmax of each plan row — sample i's matched prototype.
  IndexVector labels;
};

}  // namespace protoot
