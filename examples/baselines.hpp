// examples/baselines.hpp — the cross-domain retrieval baselines a user tries before ProtoOT,
// as protoot-retrieve scores them: each gives the features that queries of one domain and the
// gallery of the other are compared with (cosine), for both directions.
#pragma once

#include <string>

#include "protoot/domain_adaptation.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/types.hpp"

namespace protoot::examples {

/// Features for both retrieval directions: A->B compares a_queries with b_gallery, B->A
/// b_queries with a_gallery.
template <class S>
struct DirectionalFeatures {
  Matrix<S> a_queries, b_gallery, b_queries, a_gallery;
};

/// The same features in both roles (raw, standardised, a trained head).
template <class S>
DirectionalFeatures<S> symmetric(const Matrix<S>& a, const Matrix<S>& b) {
  return {a, b, b, a};
}

/// Per-domain standardisation: each feature centred and divided by its standard deviation
/// within its domain (a constant feature is only centred).
template <class S>
Matrix<S> standardise(const Matrix<S>& x) {
  const Matrix<S> centred = x.rowwise() - x.colwise().mean();
  Vector<S> std = (centred.colwise().squaredNorm() / S(x.rows())).cwiseSqrt().transpose();
  for (Index j = 0; j < std.size(); ++j)
    if (!(std(j) > S(0))) std(j) = S(1);
  return centred * std.cwiseInverse().asDiagonal();
}

/// CORAL (Sun et al. 2016): A's covariance and mean mapped onto B's (protoot::coral, regularisation 1);
/// both directions compare mapped A with B.
template <class S>
DirectionalFeatures<S> coral_features(const Matrix<S>& a, const Matrix<S>& b) {
  const Matrix<S> mapped = apply_affine(coral(a, b), a);
  return {mapped, b, b, mapped};
}

/// Entropic-OT domain adaptation (POT's ot.da.SinkhornTransport): A mapped onto B by the
/// barycentric map of the plan for A->B, B mapped onto A for B->A. epsilon in units of the
/// largest squared distance.
template <class S>
DirectionalFeatures<S> ot_da_features(const Matrix<S>& a, const Matrix<S>& b, S epsilon) {
  SinkhornTransportOptions<S> o;
  o.sinkhorn.epsilon = epsilon;
  o.sinkhorn.tolerance = S(1e-6);
  o.normalise_cost_by_max = true;
  SinkhornTransportResult<S> r = sinkhorn_transport(a, b, o);
  return {std::move(r.source_mapped), b, std::move(r.target_mapped), a};
}

/// Cluster-and-match: K-means (spherical, K clusters, 10 restarts) in each domain, the two
/// prototype sets matched by OT with their proportions, and for a query of cluster c the
/// gallery items of the matched cluster ranked first, cosine inside. Encoded as features:
/// [3 e_cluster, x / |x|] / 2, so that a shared cluster adds 9/4 to a cosine whose range is 2/4.
template <class S>
DirectionalFeatures<S> cluster_match_features(const Matrix<S>& a, const Matrix<S>& b, Index k, std::uint64_t seed) {
  KMeansOptions<S> o;
  o.spherical = true;
  o.n_init = 10;
  o.seed = seed;
  const KMeansResult<S> ka = kmeans(a, k, o);
  o.seed = seed + 1;
  const KMeansResult<S> kb = kmeans(b, k, o);
  const PrototypeMatching<S> m = match_prototypes(ka.centroids, ka.proportions, kb.centroids, kb.proportions);
  const auto encode = [k](const Matrix<S>& x, const IndexVector& cluster) {
    Matrix<S> e = Matrix<S>::Zero(x.rows(), k + x.cols());
    e.rightCols(x.cols()) = l2_normalise_rows(x);
    for (Index i = 0; i < x.rows(); ++i) e(i, cluster(i)) = S(3);
    return Matrix<S>(e / S(2));
  };
  return {encode(a, m.a_to_b(ka.labels)), encode(b, kb.labels), encode(b, m.b_to_a(kb.labels)), encode(a, ka.labels)};
}

}  // namespace protoot::examples
