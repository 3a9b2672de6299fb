"""The protoot-native API against independent NumPy / POT references on the same inputs, in float64
and float32 (both template instances of every binding)."""
import math

import numpy as np
import ot
import pytest
from contrastive_losses import info_nce as ref_info_nce, lse, soft_ce  # tests/reference

import protoot

DTYPES = [np.float64, np.float32]


def tol(dtype):
    return 1e-9 if dtype == np.float64 else 2e-4


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_sinkhorn_result(problem, dtype):
    a, b, M = problem
    C = M.astype(dtype)
    r = protoot.solve_sinkhorn(C, a, b, protoot.sinkhorn_options(0.1, tolerance=1e-5 if dtype == np.float32 else 1e-10))
    assert r.status == protoot.SolverStatus.converged and r.iterations > 0
    assert r.plan.dtype == dtype and r.f.dtype == dtype
    np.testing.assert_allclose(r.plan, np.exp((r.f[:, None] + r.g[None, :] - C) / dtype(0.1)), rtol=tol(dtype) * 10)
    np.testing.assert_allclose(r.plan, ot.sinkhorn(a, b, M, 0.1, stopThr=1e-12), atol=tol(dtype))
    assert r.transport_cost == pytest.approx(float((r.plan * C).sum()), rel=tol(dtype))
    assert r.marginal_error <= (1e-5 if dtype == np.float32 else 1e-10) and len(r.error_history) == r.iterations


def test_options_fields_and_warm_start(problem):
    a, b, M = problem
    first = protoot.solve_sinkhorn(M, a, b, protoot.sinkhorn_options(0.1, tolerance=1e-10))
    warm = protoot.solve_sinkhorn(M, a, b, protoot.sinkhorn_options(0.1, tolerance=1e-10, g_init=first.g))
    assert warm.iterations <= 2 < first.iterations
    scaling = protoot.solve_sinkhorn(M, a, b, protoot.sinkhorn_options(0.1, tolerance=1e-10, log_domain=False))
    np.testing.assert_allclose(scaling.plan, first.plan, atol=1e-10)
    with pytest.raises(TypeError, match="no field 'epsilonn'"):
        protoot.sinkhorn_options(0.1, epsilonn=1)


def test_unbalanced_native_hard_sides_is_balanced(problem):
    a, b, M = problem
    options = protoot.sinkhorn_options(0.1, tolerance=1e-10)
    np.testing.assert_allclose(protoot.solve_sinkhorn_unbalanced(M, a, b, math.inf, math.inf, options).plan,
                               protoot.solve_sinkhorn(M, a, b, options).plan, atol=1e-12)


@pytest.mark.parametrize("normalise", [False, True])
def test_prototype_cost(rng, normalise):
    Z, P = rng.normal(size=(9, 5)), rng.normal(size=(4, 5))
    S = (Z / np.linalg.norm(Z, axis=1, keepdims=True)) @ (P / np.linalg.norm(P, axis=1, keepdims=True)).T
    if normalise:
        S /= np.linalg.norm(S, axis=1, keepdims=True)
    np.testing.assert_allclose(protoot.prototype_cost(Z, P, normalise), 1 - S, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prototype_sinkhorn_hard_and_relaxed(rng, dtype):
    n, k = 30, 4
    Z, P = rng.normal(size=(n, 6)).astype(dtype), rng.normal(size=(k, 6)).astype(dtype)
    w = np.array([0.4, 0.3, 0.2, 0.1])
    C = protoot.prototype_cost(Z, P).astype(np.float64)
    options = protoot.sinkhorn_options(0.1, tolerance=1e-5 if dtype == np.float32 else 1e-11)
    hard = protoot.prototype_sinkhorn(Z, P, w, options)
    np.testing.assert_allclose(hard.plan, ot.sinkhorn(np.full(n, 1 / n), w, C, 0.1, stopThr=1e-13), atol=tol(dtype))
    np.testing.assert_allclose(hard.assignments, hard.plan / hard.plan.sum(1, keepdims=True), rtol=tol(dtype))
    np.testing.assert_array_equal(hard.labels, hard.plan.argmax(1))
    # relaxed prototype side: the dual fixed point of tests/reference/prototype_sinkhorn_reference.py
    eps, rho = 0.1, 0.5
    relaxed = protoot.prototype_sinkhorn_on_cost(C.astype(dtype), w, options, rho=rho)
    f, g = np.zeros(n), np.zeros(k)
    for _ in range(5000):
        g = rho / (rho + eps) * eps * (np.log(w) - lse((f[:, None] - C) / eps, axis=0))
        f = eps * (-np.log(n) - lse((g[None, :] - C) / eps, axis=1))
    np.testing.assert_allclose(relaxed.plan, np.exp((f[:, None] + g[None, :] - C) / eps), atol=tol(dtype))


def test_prototype_sinkhorn_released_recipe(rng):
    n, k = 20, 5
    Z, P = rng.normal(size=(n, 8)), rng.normal(size=(k, 8))
    w = np.full(k, 1 / k)
    S = 1 - protoot.prototype_cost(Z, P, True)
    Q = np.exp(S / 0.05).T
    Q /= Q.sum()
    for _ in range(3):  # the SwAV / released ProtoOT loop, prototypes first
        Q *= (w / Q.sum(axis=1))[:, None]
        Q *= (np.full(n, 1 / n) / Q.sum(axis=0))[None, :]
    released = protoot.prototype_sinkhorn_released(Z, P, w)
    assert released.iterations == 3
    np.testing.assert_allclose(released.assignments, (Q / Q.sum(axis=0, keepdims=True)).T, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_one_lloyd_step_from_given_centroids(rng, dtype):
    X = rng.normal(size=(60, 3)).astype(dtype)
    start = X[:4].astype(np.float64)
    r = protoot.kmeans(X, 4, protoot.kmeans_options(initial_centroids=start, max_iterations=1, tolerance=0.0))
    labels = ((X[:, None, :] - start[None]) ** 2).sum(-1).argmin(1)
    centroids = np.stack([X[labels == j].mean(0) for j in range(4)])
    np.testing.assert_allclose(r.centroids, centroids, rtol=tol(dtype) * 10, atol=tol(dtype))
    assert r.centroids.dtype == dtype and r.iterations == 1
    # the returned labels, sizes, proportions and inertia describe the returned centroids
    d = ((X[:, None, :] - r.centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(r.labels, d.argmin(1))
    np.testing.assert_array_equal(r.sizes, np.bincount(r.labels, minlength=4))
    np.testing.assert_allclose(r.proportions, r.sizes / 60, rtol=1e-6)
    assert r.inertia == pytest.approx(float(d.min(1).sum()), rel=tol(dtype) * 10)


def test_kmeans_seeded_and_spherical(rng):
    X = np.concatenate([rng.normal(size=(50, 2)) + c for c in ([5, 0], [0, 5], [-5, -5])])
    r1 = protoot.kmeans(X, 3, protoot.kmeans_options(seed=3, n_init=2))
    r2 = protoot.kmeans(X, 3, protoot.kmeans_options(seed=3, n_init=2))
    np.testing.assert_array_equal(r1.labels, r2.labels)
    assert sorted(r1.sizes) == [50, 50, 50] and r1.status == protoot.SolverStatus.converged
    sph = protoot.kmeans(X, 3, protoot.kmeans_options(spherical=True, init=protoot.KMeansInit.random))
    np.testing.assert_allclose(np.linalg.norm(sph.centroids, axis=1), 1, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_against_numpy(rng, dtype):
    Q, G = rng.normal(size=(7, 5)).astype(dtype), rng.normal(size=(40, 5)).astype(dtype)
    for search, S in [(protoot.inner_product_topk, Q.astype(np.float64) @ G.T.astype(np.float64)),
                      (protoot.cosine_topk, (Q / np.linalg.norm(Q, axis=1, keepdims=True)).astype(np.float64)
                       @ (G / np.linalg.norm(G, axis=1, keepdims=True)).T.astype(np.float64))]:
        top = search(Q, G, 6)
        np.testing.assert_array_equal(top.indices, np.argsort(-S, axis=1, kind="stable")[:, :6])
        np.testing.assert_allclose(top.scores, np.take_along_axis(S, top.indices, 1), rtol=tol(dtype), atol=tol(dtype))
        assert top.scores.dtype == dtype and top.indices.dtype == np.int64


def test_evaluate_retrieval_against_numpy(rng):
    Q, G = rng.normal(size=(15, 4)), rng.normal(size=(30, 4))
    ql, gl = rng.integers(0, 3, 15), rng.integers(0, 3, 30)
    scores = protoot.evaluate_retrieval(Q, ql, G, gl, ks=[1, 5, 10])
    S = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (G / np.linalg.norm(G, axis=1, keepdims=True)).T
    hit = gl[np.argsort(-S, axis=1, kind="stable")] == ql[:, None]
    assert scores.ks == [1, 5, 10]
    # protoot's P@K: over min(K, R_i) top ranks of each query, R_i = its relevant gallery items
    relevant = hit.sum(1)
    cut = [np.minimum(k, relevant) for k in (1, 5, 10)]
    expected = [100 * sum(h[:c].sum() for h, c in zip(hit, r)) / r.sum() for r in cut]
    np.testing.assert_allclose(scores.precision, expected, rtol=1e-12)
    ranks = np.arange(1, 31)
    ap = [(np.cumsum(h) / ranks)[h].mean() for h in hit if h.any()]
    assert scores.mean_average_precision == pytest.approx(100 * np.mean(ap), rel=1e-12)


def finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_info_nce_value_and_gradients(rng):
    q, k, v = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
    excluded = np.array([0, -1, 2, -1, 6])
    loss, dq, dk, dv = protoot.info_nce(q, k, v, 0.3, excluded, grad=True)
    assert loss == pytest.approx(ref_info_nce(q, k, v, excluded, 0.3), rel=1e-12)
    assert protoot.info_nce(q, k, v, 0.3, excluded) == pytest.approx(loss, rel=1e-15)
    np.testing.assert_allclose(dq, finite_difference(lambda x: protoot.info_nce(x, k, v, 0.3, excluded), q), atol=1e-7)
    np.testing.assert_allclose(dk, finite_difference(lambda x: protoot.info_nce(q, x, v, 0.3, excluded), k), atol=1e-7)
    np.testing.assert_allclose(dv, finite_difference(lambda x: protoot.info_nce(q, k, x, 0.3, excluded), v), atol=1e-7)


def test_info_nce_logits_and_two_views(rng):
    p, N = rng.normal(size=4), rng.normal(size=(4, 6))
    loss, dp, dN = protoot.info_nce_logits(p, N, 0.5, grad=True)
    assert loss == pytest.approx(np.mean(lse(np.c_[p, N] / 0.5) - p / 0.5), rel=1e-12)
    np.testing.assert_allclose(dp, finite_difference(lambda x: protoot.info_nce_logits(x, N, 0.5), p), atol=1e-7)
    np.testing.assert_allclose(dN, finite_difference(lambda x: protoot.info_nce_logits(p, x, 0.5), N), atol=1e-7)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    loss, da, db = protoot.info_nce_two_views(a, b, 0.2, grad=True)
    assert loss == pytest.approx(ref_info_nce(a, b, b, np.arange(4), 0.2), rel=1e-12)
    np.testing.assert_allclose(da, finite_difference(lambda x: protoot.info_nce_two_views(x, b, 0.2), a), atol=1e-7)
    np.testing.assert_allclose(db, finite_difference(lambda x: protoot.info_nce_two_views(a, x, 0.2), b), atol=1e-7)


def test_prototype_losses(rng):
    Z, C = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    match = np.array([0, 3, 1, 1, 2, 0])
    loss, dZ, dC = protoot.prototype_contrast(Z, C, match, 0.4, grad=True)
    assert loss == pytest.approx(soft_ce(Z, C, np.eye(4)[match], 0.4), rel=1e-12)
    np.testing.assert_allclose(dC, finite_difference(lambda x: protoot.prototype_contrast(Z, x, match, 0.4), C),
                               atol=1e-7)
    W = rng.random((6, 4))
    W /= W.sum(1, keepdims=True)
    loss, dZ, dC = protoot.prototype_contrast_soft(Z, C, W, 0.4, grad=True)
    assert loss == pytest.approx(soft_ce(Z, C, W, 0.4), rel=1e-12)
    np.testing.assert_allclose(dZ, finite_difference(lambda x: protoot.prototype_contrast_soft(x, C, W, 0.4), Z),
                               atol=1e-7)
    plan = 3 * W  # any row scale: ot_target_loss renormalises the rows
    assert protoot.ot_target_loss(Z, C, plan, 0.4) == pytest.approx(soft_ce(Z, C, W, 0.4), rel=1e-12)
    _, dZ2, dC2 = protoot.ot_target_loss(Z, C, plan, 0.4, grad=True)
    np.testing.assert_allclose(dZ2, dZ, rtol=1e-12)
    np.testing.assert_allclose(dC2, dC, rtol=1e-12)


def test_prototype_targets_are_kmeans_then_prototype_sinkhorn(rng):
    ZA, ZB = rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) + 0.2
    options = protoot.prototype_targets_options(k=3, rho=0.5)
    options.kmeans.seed = 7  # nested options are edited in place
    t = protoot.prototype_targets(ZA, ZB, options)
    km = protoot.kmeans_options(spherical=True, max_iterations=50, seed=7)
    np.testing.assert_allclose(t.clusters_a.centroids, protoot.kmeans(ZA, 3, km).centroids, rtol=1e-12)
    km.seed = 8  # domain B runs with seed + 1
    np.testing.assert_allclose(t.clusters_b.centroids, protoot.kmeans(ZB, 3, km).centroids, rtol=1e-12)
    sink = protoot.sinkhorn_options(0.05, tolerance=1e-4)
    a, b = t.clusters_a, t.clusters_b
    np.testing.assert_allclose(t.aa.plan, protoot.prototype_sinkhorn(ZA, a.centroids, a.proportions, sink).plan)
    np.testing.assert_allclose(t.ab.plan, protoot.prototype_sinkhorn(ZA, b.centroids, b.proportions, sink, 0.5).plan)
    assert t.ba.plan.shape == (30, 3) and t.bb.plan.shape == (30, 3)
    options.uniform_marginals = True  # SwAV's equipartition instead of the K-means proportions
    uniform = protoot.prototype_targets(ZA, ZB, options)
    equipartition = protoot.prototype_sinkhorn(ZA, a.centroids, np.full(3, 1 / 3), sink)
    np.testing.assert_allclose(uniform.aa.plan, equipartition.plan)
    np.testing.assert_allclose(t.cross_clusters_b.centroids, b.centroids)  # default: the same prototypes
    options.uniform_marginals = False
    options.cross_k = 6  # a second, finer clustering (seeds + 2, + 3) for ab and ba only
    fine = protoot.prototype_targets(ZA, ZB, options)
    km.seed = 10
    fine_b = protoot.kmeans(ZB, 6, km)
    np.testing.assert_allclose(fine.cross_clusters_b.centroids, fine_b.centroids, rtol=1e-12)
    np.testing.assert_allclose(fine.ab.plan, protoot.prototype_sinkhorn(ZA, fine_b.centroids, fine_b.proportions, sink, 0.5).plan)
    np.testing.assert_allclose(fine.aa.plan, t.aa.plan)
    assert fine.ba.plan.shape == (30, 6)


def test_cosine_neighbours_and_neighbour_contrast(rng):
    q, bank = rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
    excluded = np.array([0, -1, 8, 2, -1])
    S = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (bank / np.linalg.norm(bank, axis=1, keepdims=True)).T
    S[np.arange(5)[excluded >= 0], excluded[excluded >= 0]] = -np.inf
    nn = protoot.cosine_neighbours(q, bank, 3, excluded)
    np.testing.assert_array_equal(nn, np.argsort(-S, axis=1, kind="stable")[:, :3])
    targets = np.zeros((5, 9))
    np.put_along_axis(targets, nn, 1 / 3, axis=1)
    loss, dq, dbank = protoot.neighbour_contrast(q, bank, 3, 0.3, excluded, grad=True)
    assert loss == pytest.approx(soft_ce(q, bank, targets, 0.3), rel=1e-12)
    np.testing.assert_allclose(dq, finite_difference(lambda x: protoot.neighbour_contrast(x, bank, 3, 0.3, excluded),
                                                     q), atol=1e-6)
    _, dbank_soft = protoot.prototype_contrast_soft(q, bank, targets, 0.3, grad=True)[1:]
    np.testing.assert_allclose(dbank, dbank_soft, rtol=1e-12)
