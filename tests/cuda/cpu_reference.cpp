// The CPU computations the CUDA tests compare against (see cpu_reference.hpp).
#include "cpu_reference.hpp"

#include <random>

#include "protoot/kmeans.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/losses/info_nce.hpp"
#include "protoot/losses/neighbour_contrast.hpp"
#include "protoot/losses/ot_target_loss.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/sinkhorn.hpp"

namespace protoot::test {

template <class S>
Matrix<S> random_points(Index n, Index d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Matrix<S> x(n, d);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = S(uniform(rng));
  return x;
}

template <class S>
Matrix<S> point_cost(const Matrix<S>& x, const Matrix<S>& y, bool cosine) {
  Matrix<S> C(x.rows(), y.rows());
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < y.rows(); ++j)
      C(i, j) = cosine ? S(1) - x.row(i).dot(y.row(j)) / (x.row(i).norm() * y.row(j).norm())
                       : (x.row(i) - y.row(j)).squaredNorm();
  return C;
}

template <class S>
SinkhornResult<S> cpu_sinkhorn(const Matrix<S>& C, const Vector<S>& a, const Vector<S>& b, S rho_a, S rho_b,
                               const SinkhornOptions<S>& options) {
  if (std::isinf(rho_a) && std::isinf(rho_b)) return sinkhorn(C, a, b, options);
  return sinkhorn_unbalanced(C, a, b, rho_a, rho_b, options);
}

template <class S>
PrototypeSinkhornResult<S> cpu_prototype_sinkhorn(const Matrix<S>& Z, const Matrix<S>& P, const Vector<S>& w,
                                                  const SinkhornOptions<S>& options, S rho) {
  return prototype_sinkhorn(Z, P, w, options, rho);
}

template <class S>
S cpu_info_nce(const Matrix<S>& q, const Matrix<S>& k, const Matrix<S>& v, S tau, const IndexVector* excluded,
               InfoNceGradients<S>* grad) {
  return info_nce(q, k, v, tau, excluded, grad);
}

template <class S>
PrototypeSinkhornResult<S> cpu_prototype_sinkhorn_released(const Matrix<S>& Z, const Matrix<S>& P, const Vector<S>& w,
                                                           S rho) {
  return prototype_sinkhorn_released(Z, P, w, rho);
}

template <class S>
Matrix<S> cpu_prototype_cost(const Matrix<S>& Z, const Matrix<S>& P, bool normalise_similarity_rows) {
  return prototype_cost(Z, P, normalise_similarity_rows);
}

template <class S>
Matrix<S> cpu_l2_normalise_rows(const Matrix<S>& x, Vector<S>* norms) {
  return l2_normalise_rows(x, norms);
}

template <class S>
Matrix<S> cpu_l2_normalise_rows_backward(const Matrix<S>& y, const Vector<S>& norms, const Matrix<S>& grad_y) {
  return l2_normalise_rows_backward(y, norms, grad_y);
}

template <class S>
S cpu_info_nce_two_views(const Matrix<S>& a, const Matrix<S>& b, S tau, TwoViewGradients<S>* grad) {
  return info_nce_two_views(a, b, tau, grad);
}

template <class S>
S cpu_prototype_contrast(const Matrix<S>& z, const Matrix<S>& c, const IndexVector& match, S tau,
                         PrototypeGradients<S>* grad) {
  return prototype_contrast(z, c, match, tau, grad);
}

template <class S>
S cpu_prototype_contrast_soft(const Matrix<S>& z, const Matrix<S>& c, const Matrix<S>& assignment, S tau,
                              PrototypeGradients<S>* grad) {
  return prototype_contrast_soft(z, c, assignment, tau, grad);
}

template <class S>
S cpu_ot_target_loss(const Matrix<S>& z, const Matrix<S>& c, const Matrix<S>& plan, S tau, PrototypeGradients<S>* grad) {
  return ot_target_loss(z, c, plan, tau, grad);
}

template <class S>
IndexMatrix cpu_cosine_neighbours(const Matrix<S>& queries, const Matrix<S>& bank, Index k,
                                      const IndexVector* excluded) {
  return cosine_neighbours(queries, bank, k, excluded);
}

template <class S>
S cpu_neighbour_contrast(const Matrix<S>& queries, const Matrix<S>& bank, Index k, S tau, const IndexVector* excluded,
                         PrototypeGradients<S>* grad) {
  return neighbour_contrast(queries, bank, k, tau, excluded, grad);
}

template <class S>
TopK<S> cpu_cosine_topk(const Matrix<S>& queries, const Matrix<S>& gallery, Index k) {
  return cosine_topk(queries, gallery, k);
}

template <class S>
KMeansResult<S> cpu_kmeans(const Matrix<S>& X, Index k, const KMeansOptions<S>& options) {
  return kmeans(X, k, options);
}

template <class S>
Matrix<S> blobs(Index n, Index d, Index clusters, std::uint64_t seed) {
  const Matrix<S> centres = S(10) * random_points<S>(clusters, d, seed);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> noise(0.0, 0.5);
  Matrix<S> x(n, d);
  for (Index i = 0; i < n; ++i) {
    const Index c = (i * i) % clusters;  // uneven cluster sizes
    for (Index t = 0; t < d; ++t) x(i, t) = centres(c, t) + S(noise(rng));
  }
  return x;
}

#define PROTOOT_INSTANTIATE(S)                                                                                  \
  template Matrix<S> random_points<S>(Index, Index, std::uint64_t);                                             \
  template Matrix<S> point_cost<S>(const Matrix<S>&, const Matrix<S>&, bool);                                   \
  template SinkhornResult<S> cpu_sinkhorn<S>(const Matrix<S>&, const Vector<S>&, const Vector<S>&, S, S,        \
                                             const SinkhornOptions<S>&);                                        \
  template TopK<S> cpu_cosine_topk<S>(const Matrix<S>&, const Matrix<S>&, Index);                              \
  template S cpu_info_nce<S>(const Matrix<S>&, const Matrix<S>&, const Matrix<S>&, S, const IndexVector*,       \
                             InfoNceGradients<S>*);                                                             \
  template PrototypeSinkhornResult<S> cpu_prototype_sinkhorn<S>(const Matrix<S>&, const Matrix<S>&,             \
                                                                const Vector<S>&, const SinkhornOptions<S>&, S); \
  template PrototypeSinkhornResult<S> cpu_prototype_sinkhorn_released<S>(const Matrix<S>&, const Matrix<S>&,      \
                                                                         const Vector<S>&, S);                 \
  template Matrix<S> cpu_prototype_cost<S>(const Matrix<S>&, const Matrix<S>&, bool);                          \
  template Matrix<S> cpu_l2_normalise_rows<S>(const Matrix<S>&, Vector<S>*);                                    \
  template Matrix<S> cpu_l2_normalise_rows_backward<S>(const Matrix<S>&, const Vector<S>&, const Matrix<S>&);   \
  template S cpu_info_nce_two_views<S>(const Matrix<S>&, const Matrix<S>&, S, TwoViewGradients<S>*);            \
  template S cpu_prototype_contrast<S>(const Matrix<S>&, const Matrix<S>&, const IndexVector&, S,               \
                                       PrototypeGradients<S>*);                                                 \
  template S cpu_prototype_contrast_soft<S>(const Matrix<S>&, const Matrix<S>&, const Matrix<S>&, S,            \
                                            PrototypeGradients<S>*);                                            \
  template S cpu_ot_target_loss<S>(const Matrix<S>&, const Matrix<S>&, const Matrix<S>&, S,                     \
                                   PrototypeGradients<S>*);                                                     \
  template IndexMatrix cpu_cosine_neighbours<S>(const Matrix<S>&, const Matrix<S>&, Index,                  \
                                                    const IndexVector*);                                        \
  template S cpu_neighbour_contrast<S>(const Matrix<S>&, const Matrix<S>&, Index, S, const IndexVector*,        \
                                       PrototypeGradients<S>*);                                                 \
  template KMeansResult<S> cpu_kmeans<S>(const Matrix<S>&, Index, const KMeansOptions<S>&);                     \
  template Matrix<S> blobs<S>(Index, Index, Index, std::uint64_t);
PROTOOT_INSTANTIATE(float)
PROTOOT_INSTANTIATE(double)
#undef PROTOOT_INSTANTIATE

}  // namespace protoot::test
