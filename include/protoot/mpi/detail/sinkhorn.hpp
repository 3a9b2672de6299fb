// protoot/mpi/detail/sinkhorn.hpp — the row-sharded Sinkhorn solve behind protoot/mpi/sinkhorn.hpp:
// the CPU kernel (protoot/detail/sinkhorn_kernel.hpp) on this rank's rows, with its column sums,
// column maxima and row-side scalars combined over the communicator (detail::RowShards).
#pragma once

#include <mpi.h>

#include <limits>
#include <vector>

#include "protoot/mpi/detail/comm.hpp"
#include "protoot/sinkhorn.hpp"

namespace protoot::mpi::detail {

/// Collective checks of a row-sharded problem: every rank throws the same error, or none does.
template <class S>
void validate_sharded_sinkhorn(MPI_Comm comm, const char* where, const Eigen::Ref<const Matrix<S>>& C,
                               const Vector<S>& a, const Vector<S>& b, S rho_a, S rho_b,
                               const SinkhornOptions<S>& o) {
  namespace pd = protoot::detail;
  CollectiveCheck check(comm, where);
  const Index m = agreed_width(comm, check, where, C.rows(), C.cols(), "cost C");
  check.local([&] {
    pd::require_size(a.size(), C.rows(), where, "a must have one entry per local row of C");
    pd::require_finite(a, where, "a");
    pd::require(!(a.array() < S(0)).any(), where, "a has negative entries");
    if (o.f_init.size()) {
      pd::require_size(o.f_init.size(), C.rows(), where, "f_init must have one entry per local row of C");
      pd::require_warm_start(o.f_init, a, where, "f_init", "a");
    }
    pd::require_positive(o.epsilon, where, "epsilon");
    pd::validate_sinkhorn_cost(where, C, o);
  });
  double mass_a = a.size() == C.rows() ? a.template cast<double>().sum() : 0.0;
  allreduce_identical(comm, &mass_a, 1, MPI_SUM);
  check.local([&] {  // the replicated rest, with a's rows standing as one entry of the total mass
    SinkhornOptions<S> shared = o;
    shared.f_init.resize(0);
    pd::validate_sinkhorn_problem(where, 1, m, Vector<double>::Constant(1, mass_a), b, rho_a, rho_b, shared);
  });
  check.same("b", b.data(), b.size());
  check.same("rho_a", rho_a);
  check.same("rho_b", rho_b);
  check.same("epsilon", o.epsilon);
  check.same("max_iterations", o.max_iterations);
  check.same("tolerance", o.tolerance);
  check.same("log_domain", o.log_domain);
  check.same("log_domain_fallback", o.log_domain_fallback);
  check.same("check_every", o.check_every);
  check.same("epsilon_start", o.epsilon_start);
  check.same("epsilon_decay", o.epsilon_decay);
  check.same("g_init", o.g_init.data(), o.g_init.size());
  check.finish();
}

/// The kernel on this rank's rows; sums and maxima reduced at rank 0 and broadcast, so every
/// rank sees the same column sums and takes the same decisions (iteration count, status).
template <class DC, class DA, class DB>
SinkhornResult<typename DC::Scalar> solve_sharded(MPI_Comm comm, const char* where, const Eigen::MatrixBase<DC>& C,
                                                  const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b,
                                                  typename DC::Scalar rho_a, typename DC::Scalar rho_b,
                                                  const SinkhornOptions<typename DC::Scalar>& options) {
  using S = typename DC::Scalar;
  const Vector<S> a_vec = a.template cast<S>();
  const Vector<S> b_vec = b.template cast<S>();
  const Eigen::Ref<const Matrix<S>> cost(C);
  validate_sharded_sinkhorn<S>(comm, where, cost, a_vec, b_vec, rho_a, rho_b, options);
  const protoot::detail::RowShards<S> shards{
      [comm](S* values, Index count) { allreduce_identical(comm, values, count, MPI_SUM); },
      [comm](S* values, Index count) { allreduce_identical(comm, values, count, MPI_MAX); }};
  SinkhornOptions<S> collective = options;
  collective.callback = collective_callback(comm, options.callback);
  return protoot::detail::SinkhornKernel<S>(cost, a_vec, b_vec, rho_a, rho_b, collective, true, &shards).solve();
}

/// The squared Euclidean cost of this rank's points X (n_r x d) against Y (m x d), checked
/// collectively (agreed d, Y the same everywhere, finite), as one n_r x m GEMM block.
template <class S>
Matrix<S> sharded_squared_distances(MPI_Comm comm, const char* where, const Eigen::Ref<const Matrix<S>>& X,
                                    const Matrix<S>& Y) {
  namespace pd = protoot::detail;
  CollectiveCheck check(comm, where);
  const Index d = agreed_width(comm, check, where, X.rows(), X.cols(), "points X");
  Matrix<S> C;
  check.local([&] {
    pd::require_nonempty(Y, where, "points Y");
    pd::require_size(Y.cols(), d, where, "points Y must have the feature dimension d of X");
    pd::require_finite(X, where, "points X");
    pd::require_finite(Y, where, "points Y");
    C.noalias() = S(-2) * X * Y.transpose();
    C.colwise() += X.rowwise().squaredNorm();
    C.rowwise() += Y.rowwise().squaredNorm().transpose();
    C = C.cwiseMax(S(0));  // rounding may leave -0.0-ish negatives for coincident points
  });
  check.same("points Y", Y.data(), Y.size());
  check.finish();
  return C;
}

}  // namespace protoot::mpi::detail
