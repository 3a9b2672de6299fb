"""protoot: header-only C++ optimal transport for representation learning, from Python.

Two layers over the same C++ solvers (protoot._core, which releases the GIL while it runs):

- POT-compatible calls (``import protoot as ot``): :func:`sinkhorn`, :func:`sinkhorn2` and
  :mod:`protoot.unbalanced`, with POT 0.8.2's names, argument order, defaults and log keys;
- the protoot-native API: :func:`solve_sinkhorn` / :func:`solve_sinkhorn_unbalanced` with a
  :class:`SinkhornOptions` and a result carrying status and marginal errors, the prototype
  solvers, :func:`kmeans`, :func:`cosine_topk`, :func:`evaluate_retrieval` and the contrastive
  losses with their gradients.

Arrays go in as NumPy arrays, array-likes or DLPack producers (torch / JAX CPU tensors) and come
out as NumPy arrays; ``protoot._arrays`` says when a copy is made (at most one per argument).
Invalid input raises ValueError carrying the C++ library's message. docs/python.md walks through it.
"""

import math

from . import _core, unbalanced
from ._arrays import floats, labels, solve_dtype
from ._core import (KMeansInit, KMeansOptions, PrototypeTargetsOptions, RetrievalScores, SinkhornOptions,
                    SolverStatus)
from ._pot import sinkhorn, sinkhorn2

__version__ = "0.1.0"

__all__ = [
    "KMeansInit", "KMeansOptions", "PrototypeTargetsOptions", "RetrievalScores", "SinkhornOptions",
    "SolverStatus", "sinkhorn", "sinkhorn2", "unbalanced", "sinkhorn_options", "kmeans_options",
    "prototype_targets_options", "solve_sinkhorn", "solve_sinkhorn_unbalanced", "prototype_cost",
    "prototype_sinkhorn", "prototype_sinkhorn_on_cost", "prototype_sinkhorn_released", "prototype_targets",
    "kmeans", "cosine_topk", "inner_product_topk", "evaluate_retrieval", "cosine_neighbours",
    "info_nce", "info_nce_logits", "info_nce_two_views", "prototype_contrast", "prototype_contrast_soft",
    "neighbour_contrast", "ot_target_loss",
]


def _with_fields(options, fields):
    for name, value in fields.items():
        if name.startswith("_") or not hasattr(options, name):
            raise TypeError(f"protoot: {type(options).__name__} has no field {name!r}")
        setattr(options, name, value)
    return options


def sinkhorn_options(epsilon, **fields):
    """A SinkhornOptions with `epsilon` (required, > 0, cost units) and any other fields set
    (max_iterations, tolerance, log_domain, log_domain_fallback, check_every, epsilon_start,
    epsilon_decay, f_init, g_init)."""
    options = SinkhornOptions()
    options.epsilon = float(epsilon)
    return _with_fields(options, fields)


def kmeans_options(**fields):
    """A KMeansOptions with the given fields set (n_init, max_iterations, tolerance, seed,
    spherical, init, local_trials, initial_centroids, weights)."""
    return _with_fields(KMeansOptions(), fields)


def prototype_targets_options(**fields):
    """A PrototypeTargetsOptions (C++ defaults: spherical K-means of 50 iterations, epsilon 0.05 to
    a marginal error of 1e-4, rho 0.1) with the given fields set (k, kmeans, prototypes_a,
    prototypes_b, sinkhorn, rho, released_recipe, uniform_marginals, cross_k, cross_prototypes_a,
    cross_prototypes_b)."""
    return _with_fields(PrototypeTargetsOptions(), fields)


def _marginal(x, dtype, name):
    """An optional marginal: None is the empty vector, which the library reads as uniform."""
    return floats(x if x is not None else [], dtype, 1, name)


def solve_sinkhorn(C, a, b, options):
    """Balanced entropic OT (protoot::sinkhorn): min <P, C> + eps sum P (log P - 1) subject to
    P 1 = a, P^T 1 = b. C: n x m, a: n, b: m of equal mass. Returns a SinkhornResult (plan, f, g,
    status, iterations, marginal errors, transport_cost, error_history), whose arrays
    are float32 when C is float32."""
    t = solve_dtype(C)
    return _core.sinkhorn(floats(C, t, 2, "C"), floats(a, t, 1, "a"), floats(b, t, 1, "b"), options)


def solve_sinkhorn_unbalanced(C, a, b, rho_a, rho_b, options):
    """Unbalanced entropic OT (protoot::sinkhorn_unbalanced): KL(P 1 | a) weighted by rho_a and
    KL(P^T 1 | b) by rho_b; math.inf makes that side a hard constraint. Returns a SinkhornResult."""
    t = solve_dtype(C)
    return _core.sinkhorn_unbalanced(floats(C, t, 2, "C"), floats(a, t, 1, "a"), floats(b, t, 1, "b"),
                                     float(rho_a), float(rho_b), options)


def prototype_cost(Z, P, normalise_similarity_rows=False):
    """Cosine cost 1 - cos(z_i, p_j), n x k, of features Z (n x d) and prototypes P (k x d)."""
    t = solve_dtype(Z)
    return _core.prototype_cost(floats(Z, t, 2, "Z"), floats(P, t, 2, "P"), bool(normalise_similarity_rows))


def prototype_sinkhorn(Z, P, w, options, rho=math.inf, sample_marginal=None):
    """Prototype-constrained Sinkhorn on features (protoot::prototype_sinkhorn): every sample fully
    assigned (marginal `sample_marginal`, uniform when None), prototype marginal w (a distribution;
    hard when rho is inf, KL-relaxed with weight rho otherwise). Returns a PrototypeSinkhornResult
    (the SinkhornResult fields plus row-normalised `assignments` and argmax `labels`)."""
    t = solve_dtype(Z)
    return _core.prototype_sinkhorn(floats(Z, t, 2, "Z"), floats(P, t, 2, "P"), floats(w, t, 1, "w"), options,
                                    float(rho), _marginal(sample_marginal, t, "sample_marginal"))


def prototype_sinkhorn_on_cost(C, w, options, rho=math.inf, sample_marginal=None):
    """prototype_sinkhorn on a given n x k cost C instead of features."""
    t = solve_dtype(C)
    return _core.prototype_sinkhorn_on_cost(floats(C, t, 2, "C"), floats(w, t, 1, "w"), options, float(rho),
                                         _marginal(sample_marginal, t, "sample_marginal"))


def prototype_sinkhorn_released(Z, P, w, rho=math.inf):
    """The released ProtoOT code's OT step exactly (row-normalised cosine similarities, epsilon
    0.05, 3 scaling iterations, prototype side first). Returns a PrototypeSinkhornResult."""
    t = solve_dtype(Z)
    return _core.prototype_sinkhorn_released(floats(Z, t, 2, "Z"), floats(P, t, 2, "P"), floats(w, t, 1, "w"),
                                             float(rho))


def prototype_targets(ZA, ZB, options):
    """ProtoOT's targets for two domains (protoot::prototype_targets): K-means of each domain, then
    the prototype OT solves aa, bb (hard) and ab, ba (onto the other domain's prototypes, relaxed by
    options.rho). Returns a PrototypeTargets (clusters_a, clusters_b, aa, bb, ab, ba)."""
    t = solve_dtype(ZA)
    return _core.prototype_targets(floats(ZA, t, 2, "ZA"), floats(ZB, t, 2, "ZB"), options)


def kmeans(X, k, options=None):
    """K-means (protoot::kmeans) of the rows of X (n x d) into k clusters, 1 <= k <= n.
    Returns a KMeansResult (centroids, labels, sizes, proportions, inertia, iterations, ...)."""
    t = solve_dtype(X)
    return _core.kmeans(floats(X, t, 2, "X"), int(k), options if options is not None else KMeansOptions())


def cosine_topk(queries, gallery, k):
    """Exact top-k gallery rows by cosine similarity for each query, best first (ties: lower
    index first). Returns a TopK (indices n x k int64, scores n x k)."""
    t = solve_dtype(queries)
    return _core.cosine_topk(floats(queries, t, 2, "queries"), floats(gallery, t, 2, "gallery"), int(k))


def inner_product_topk(queries, gallery, k):
    """Exact top-k gallery rows by inner product for each query. Returns a TopK."""
    t = solve_dtype(queries)
    return _core.inner_product_topk(floats(queries, t, 2, "queries"), floats(gallery, t, 2, "gallery"), int(k))


def evaluate_retrieval(queries, query_labels, gallery, gallery_labels, ks=(1, 5, 10)):
    """P@K for each K of ks and mAP, in percent, of cosine retrieval of queries in gallery
    (labels only score). Returns RetrievalScores (ks, precision, mean_average_precision)."""
    t = solve_dtype(queries)
    return _core.evaluate_retrieval(floats(queries, t, 2, "queries"), labels(query_labels, "query_labels"),
                                    floats(gallery, t, 2, "gallery"), labels(gallery_labels, "gallery_labels"),
                                    [int(k) for k in ks])


def cosine_neighbours(queries, bank, k, excluded=None):
    """The k most cosine-similar bank rows of every query (n x k int64, best first; excluded_i: a
    bank row query i may not pick, -1 = none)."""
    t = solve_dtype(queries)
    return _core.cosine_neighbours(floats(queries, t, 2, "queries"), floats(bank, t, 2, "bank"), int(k),
                                   _excluded(excluded))


def _loss(out, grad):
    return out if grad else out[0]


def _excluded(x):
    return None if x is None else labels(x, "excluded")


def info_nce(queries, positives, negatives, tau, excluded=None, grad=False):
    """InfoNCE: positive logit q_i . k_i against q_i . v_j for every row v_j of negatives except
    column excluded_i (-1: none). Returns the loss, or (loss, d_queries, d_positives,
    d_negatives) when grad is true."""
    t = solve_dtype(queries)
    return _loss(_core.info_nce(floats(queries, t, 2, "queries"), floats(positives, t, 2, "positives"),
                                floats(negatives, t, 2, "negatives"), float(tau), _excluded(excluded),
                                bool(grad)), grad)


def info_nce_logits(positive, negatives, tau, excluded=None, grad=False):
    """InfoNCE on logits: positive (n), negatives (n x m). Returns the loss, or
    (loss, d_positive, d_negatives) when grad is true."""
    t = solve_dtype(positive)
    return _loss(_core.info_nce_logits(floats(positive, t, 1, "positive"), floats(negatives, t, 2, "negatives"),
                                       float(tau), _excluded(excluded), bool(grad)), grad)


def info_nce_two_views(a, b, tau, grad=False):
    """Two-view InfoNCE (a_i's positive is b_i, the other rows of b are its negatives). Returns
    the loss, or (loss, d_a, d_b) when grad is true."""
    t = solve_dtype(a)
    return _loss(_core.info_nce_two_views(floats(a, t, 2, "a"), floats(b, t, 2, "b"), float(tau), bool(grad)), grad)


def prototype_contrast(features, prototypes, match, tau, grad=False):
    """Hard prototype contrast (InfoNCE with the matched prototype as positive). Returns the
    loss, or (loss, d_features, d_prototypes) when grad is true."""
    t = solve_dtype(features)
    return _loss(_core.prototype_contrast(floats(features, t, 2, "features"), floats(prototypes, t, 2, "prototypes"),
                                          labels(match, "match"), float(tau), bool(grad)), grad)


def prototype_contrast_soft(features, prototypes, assignment, tau, grad=False):
    """Soft prototype contrast (cross-entropy of assignment rows and softmax(Z C^T / tau)).
    Returns the loss, or (loss, d_features, d_prototypes) when grad is true."""
    t = solve_dtype(features)
    return _loss(_core.prototype_contrast_soft(floats(features, t, 2, "features"),
                                               floats(prototypes, t, 2, "prototypes"),
                                               floats(assignment, t, 2, "assignment"), float(tau), bool(grad)), grad)


def neighbour_contrast(queries, bank, k, tau, excluded=None, grad=False):
    """Neighbour contrast: pull each query to its k cosine neighbours in the bank (softmax over the
    whole bank). Returns the loss, or (loss, d_queries, d_bank) when grad is true."""
    t = solve_dtype(queries)
    return _loss(_core.neighbour_contrast(floats(queries, t, 2, "queries"), floats(bank, t, 2, "bank"), int(k),
                                          float(tau), _excluded(excluded), bool(grad)), grad)


def ot_target_loss(features, prototypes, plan, tau, grad=False):
    """SwAV-style loss against a transport plan's renormalised rows. Returns the loss, or
    (loss, d_features, d_prototypes) when grad is true."""
    t = solve_dtype(features)
    return _loss(_core.ot_target_loss(floats(features, t, 2, "features"), floats(prototypes, t, 2, "prototypes"),
                                      floats(plan, t, 2, "plan"), float(tau), bool(grad)), grad)
