// protoot/detail/domain_adaptation_impl.hpp — definitions of protoot/domain_adaptation.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "protoot/detail/eigen_push.hpp"
#include <Eigen/Eigenvalues>
#include "protoot/detail/eigen_pop.hpp"

#include "protoot/costs.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/detail/validation.hpp"

namespace protoot {
namespace detail {

/// Unbiased covariance (np.cov(X, rowvar=False)) plus `ridge` on the diagonal, d x d, accumulated
/// and returned in double (throws if it overflows): coral() decomposes it in double for every input type,
/// so float and double share one eigen-solver instantiation (GCC spends about 10 s of a translation
/// unit's compile time on each) and float inputs get double-precision matrix square roots.
template <class D>
Eigen::MatrixXd regularised_covariance(const Eigen::MatrixBase<D>& X, double ridge, const char* where,
                                       const char* name) {
  // In double from the start: a float sum or square overflows from about 1e19 (squares) or
  // 3e38 / n (sums), a double one only past 1e154.
  Eigen::MatrixXd centred = X.template cast<double>();
  centred.rowwise() -= centred.colwise().mean();
  Eigen::MatrixXd cov = (centred.transpose() * centred) / double(X.rows() - 1);
  if (!cov.allFinite())
    fail(where, std::string("the covariance of ") + name + " overflows double: rescale the features");
  cov.diagonal().array() += ridge;
  return cov;
}

/// Index of the largest entry of a row or column (first on ties, like numpy.argmax).
template <class D>
Index argmax(const Eigen::DenseBase<D>& x) {
  Index best;
  x.maxCoeff(&best);
  return best;
}

}  // namespace detail

template <class D>
Matrix<typename D::Scalar> apply_affine(const AffineMap<typename D::Scalar>& map, const Eigen::MatrixBase<D>& X) {
  constexpr const char* where = "apply_affine";
  detail::require_size(map.linear.rows(), X.cols(), where, "map.linear rows (X columns)");
  detail::require_size(map.linear.cols(), X.cols(), where, "map.linear columns (X columns)");
  detail::require_size(map.offset.size(), X.cols(), where, "map.offset size (X columns)");
  Matrix<typename D::Scalar> mapped = (X * map.linear).rowwise() + map.offset.transpose();
  detail::require_finite(mapped, where, "the mapped rows (overflow: rescale the features)");
  return mapped;
}

template <class DS, class DT>
AffineMap<typename DS::Scalar> coral(const Eigen::MatrixBase<DS>& Xs, const Eigen::MatrixBase<DT>& Xt,
                                     typename DS::Scalar regularisation) {
  using S = typename DS::Scalar;
  constexpr const char* where = "coral";
  detail::require_feature_pair(Xs, Xt, where, "Xs", "Xt", "Xt columns (feature dimension)");
  detail::require(Xs.rows() >= 2 && Xt.rows() >= 2, where,
                  "a covariance needs at least 2 rows in Xs and in Xt (got " + std::to_string(Xs.rows()) +
                      " and " + std::to_string(Xt.rows()) + ")");
  detail::require(regularisation >= S(0) && std::isfinite(static_cast<double>(regularisation)), where,
                  "regularisation must be finite and >= 0");
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> source(
      detail::regularised_covariance(Xs, double(regularisation), where, "Xs"));
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> target(
      detail::regularised_covariance(Xt.template cast<S>(), double(regularisation), where, "Xt"));
  detail::require(source.eigenvalues().minCoeff() > 0.0, where,
                  "cov(Xs) + regularisation I is singular (fewer independent rows than features?): "
                  "increase regularisation");
  // Ct is PSD in exact arithmetic; clamp the roundoff-negative eigenvalues of a singular one.
  const auto& Vs = source.eigenvectors();
  const auto& Vt = target.eigenvectors();
  const Eigen::MatrixXd source_inverse_sqrt =
      Vs * source.eigenvalues().cwiseSqrt().cwiseInverse().asDiagonal() * Vs.transpose();
  const Eigen::MatrixXd target_sqrt =
      Vt * target.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() * Vt.transpose();
  const Eigen::MatrixXd linear = source_inverse_sqrt * target_sqrt;
  const Eigen::RowVectorXd offset =
      Xt.template cast<double>().colwise().mean() - Xs.template cast<double>().colwise().mean() * linear;
  AffineMap<S> map;
  map.linear = linear.cast<S>();
  map.offset = offset.transpose().cast<S>();
  detail::require_finite(map.linear, where, "the map (linear part; its scale is sd(Xt) / sd(Xs): rescale the features)");
  detail::require_finite(map.offset, where, "the map (offset; rescale the features)");
  return map;
}

template <class DS, class DT>
SinkhornTransportResult<typename DS::Scalar> sinkhorn_transport(
    const Eigen::MatrixBase<DS>& Xs, const Eigen::MatrixBase<DT>& Xt,
    const SinkhornTransportOptions<typename DS::Scalar>& options) {
  using S = typename DS::Scalar;
  constexpr const char* where = "sinkhorn_transport";
  detail::require_feature_pair(Xs, Xt, where, "Xs", "Xt", "Xt columns (feature dimension)");
  const Matrix<S> xs = Xs;
  const Matrix<S> xt = Xt.template cast<S>();
  Matrix<S> M = detail::squared_distances<S>(xs, xt);  // as POT's ot.dist
  const S max_cost = M.maxCoeff();
  if (options.normalise_cost_by_max && max_cost > S(0)) M /= max_cost;  // identical points: nothing to scale
  const Index ns = xs.rows(), nt = xt.rows();
  SinkhornResult<S> solved =
      sinkhorn(M, Vector<S>::Constant(ns, S(1) / S(ns)), Vector<S>::Constant(nt, S(1) / S(nt)), options.sinkhorn);

  SinkhornTransportResult<S> result;
  // 1 / mass, and 0 for a row or column without mass (POT zeroes the non-finite quotients).
  const auto inverse_or_zero = [](const Vector<S>& mass) {
    return mass.unaryExpr([](S m) { return m > S(0) ? S(1) / m : S(0); }).eval();
  };
  result.source_mapped = inverse_or_zero(solved.plan.rowwise().sum()).asDiagonal() * (solved.plan * xt);
  result.target_mapped =
      inverse_or_zero(solved.plan.colwise().sum().transpose()).asDiagonal() * (solved.plan.transpose() * xs);
  result.plan = std::move(solved.plan);
  result.status = solved.status;
  result.iterations = solved.iterations;
  result.marginal_error = solved.marginal_error;
  result.transport_cost = solved.transport_cost;
  return result;
}

template <class DX, class DP>
IndexVector assign_to_nearest_prototype(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DP>& prototypes) {
  using S = typename DX::Scalar;
  const SearchBlocks blocks;
  detail::require_topk_arguments(X, prototypes, 1, blocks, "assign_to_nearest_prototype");
  return detail::search_topk<S>(l2_normalise_rows(X), l2_normalise_rows(prototypes), 1, blocks).indices.col(0);
}

template <class DA, class DB>
PrototypeMatching<typename DA::Scalar> match_prototypes(const Eigen::MatrixBase<DA>& Ca,
                                                        const Vector<typename DA::Scalar>& pa,
                                                        const Eigen::MatrixBase<DB>& Cb,
                                                        const Vector<typename DA::Scalar>& pb,
                                                        typename DA::Scalar epsilon) {
  using S = typename DA::Scalar;
  constexpr const char* where = "match_prototypes";
  detail::require_feature_pair(Ca, Cb, where, "Ca", "Cb", "Cb columns (feature dimension)");
  detail::require_size(pa.size(), Ca.rows(), where, "pa must have one entry per row of Ca");
  detail::require_size(pb.size(), Cb.rows(), where, "pb must have one entry per row of Cb");
  detail::require_distribution(pa, where, "pa");
  detail::require_distribution(pb, where, "pb");
  detail::require_positive(epsilon, where, "epsilon");

  const Matrix<S> C = detail::cosine_distances(Ca, Cb.template cast<S>(), where, "Ca", "Cb");
  SinkhornOptions<S> options;
  options.epsilon = epsilon;
  options.log_domain = true;
  options.max_iterations = 10000;
  options.epsilon_start = C.maxCoeff();  // anneal from the cost scale: few iterations at small epsilon
  // Float potentials stall near u max C / epsilon (see SinkhornOptions::tolerance); ask no less.
  options.tolerance = std::max(S(1e-9), S(4) * std::numeric_limits<S>::epsilon() * C.maxCoeff() / epsilon);
  SinkhornResult<S> solved = sinkhorn(C, pa, pb, options);

  PrototypeMatching<S> matching;
  matching.a_to_b.resize(C.rows());
  matching.b_to_a.resize(C.cols());
  for (Index i = 0; i < C.rows(); ++i) matching.a_to_b(i) = detail::argmax(solved.plan.row(i));
  for (Index j = 0; j < C.cols(); ++j) matching.b_to_a(j) = detail::argmax(solved.plan.col(j));
  matching.plan = std::move(solved.plan);
  matching.cost = solved.transport_cost;
  matching.status = solved.status;
  return matching;
}

}  // namespace protoot
