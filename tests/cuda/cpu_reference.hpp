// tests/cuda/cpu_reference.hpp — the CPU backend as the reference for the CUDA tests.
//
// Implemented in cpu_reference.cpp, compiled by g++ (Eigen and OpenMP stay out of nvcc), and
// linked into each CUDA test; explicit instantiations for float and double.
#pragma once

#include <cstdint>

#include "protoot/kmeans.hpp"
#include "protoot/losses/info_nce.hpp"
#include "protoot/losses/neighbour_contrast.hpp"
#include "protoot/losses/prototype_contrast.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/sinkhorn_options.hpp"
#include "protoot/sinkhorn_result.hpp"
#include "protoot/types.hpp"

namespace protoot::test {

/// n x d matrix of uniform [-1, 1) entries from `seed`.
template <class S>
Matrix<S> random_points(Index n, Index d, std::uint64_t seed);

/// C_ij = ||x_i - y_j||^2 (squared_euclidean) or 1 - cos(x_i, y_j), computed directly.
template <class S>
Matrix<S> point_cost(const Matrix<S>& x, const Matrix<S>& y, bool cosine);

/// protoot::sinkhorn_unbalanced on the CPU (infinite rho: protoot::sinkhorn).
template <class S>
SinkhornResult<S> cpu_sinkhorn(const Matrix<S>& C, const Vector<S>& a, const Vector<S>& b, S rho_a, S rho_b,
                               const SinkhornOptions<S>& options);

/// protoot::prototype_sinkhorn on the CPU.
template <class S>
PrototypeSinkhornResult<S> cpu_prototype_sinkhorn(const Matrix<S>& Z, const Matrix<S>& P, const Vector<S>& w,
                                                  const SinkhornOptions<S>& options, S rho);

/// protoot::info_nce on the CPU (loss; gradients into `grad`).
template <class S>
S cpu_info_nce(const Matrix<S>& q, const Matrix<S>& k, const Matrix<S>& v, S tau, const IndexVector* excluded,
               InfoNceGradients<S>* grad);

/// protoot::prototype_sinkhorn_released and protoot::prototype_cost on the CPU.
template <class S>
PrototypeSinkhornResult<S> cpu_prototype_sinkhorn_released(const Matrix<S>& Z, const Matrix<S>& P, const Vector<S>& w,
                                                           S rho);
template <class S>
Matrix<S> cpu_prototype_cost(const Matrix<S>& Z, const Matrix<S>& P, bool normalise_similarity_rows);

/// protoot::l2_normalise_rows (norms into `norms`) and its backward on the CPU.
template <class S>
Matrix<S> cpu_l2_normalise_rows(const Matrix<S>& x, Vector<S>* norms);
template <class S>
Matrix<S> cpu_l2_normalise_rows_backward(const Matrix<S>& y, const Vector<S>& norms, const Matrix<S>& grad_y);

/// The composed losses on the CPU: info_nce_two_views, prototype_contrast(_soft),
/// ot_target_loss, cosine_neighbours and neighbour_contrast.
template <class S>
S cpu_info_nce_two_views(const Matrix<S>& a, const Matrix<S>& b, S tau, TwoViewGradients<S>* grad);
template <class S>
S cpu_prototype_contrast(const Matrix<S>& z, const Matrix<S>& c, const IndexVector& match, S tau,
                         PrototypeGradients<S>* grad);
template <class S>
S cpu_prototype_contrast_soft(const Matrix<S>& z, const Matrix<S>& c, const Matrix<S>& assignment, S tau,
                              PrototypeGradients<S>* grad);
template <class S>
S cpu_ot_target_loss(const Matrix<S>& z, const Matrix<S>& c, const Matrix<S>& plan, S tau, PrototypeGradients<S>* grad);
template <class S>
IndexMatrix cpu_cosine_neighbours(const Matrix<S>& queries, const Matrix<S>& bank, Index k,
                                      const IndexVector* excluded);
template <class S>
S cpu_neighbour_contrast(const Matrix<S>& queries, const Matrix<S>& bank, Index k, S tau, const IndexVector* excluded,
                         PrototypeGradients<S>* grad);

/// protoot::cosine_topk on the CPU.
template <class S>
TopK<S> cpu_cosine_topk(const Matrix<S>& queries, const Matrix<S>& gallery, Index k);

/// protoot::kmeans on the CPU.
template <class S>
KMeansResult<S> cpu_kmeans(const Matrix<S>& X, Index k, const KMeansOptions<S>& options);

/// `clusters` well separated Gaussian blobs (sizes differ), n x d.
template <class S>
Matrix<S> blobs(Index n, Index d, Index clusters, std::uint64_t seed);

}  // namespace protoot::test
