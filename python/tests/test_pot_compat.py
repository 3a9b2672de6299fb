"""The same call through POT 0.8.2 (`ot`) and `protoot`: plans, losses and logs agree."""
import math
import warnings

import numpy as np
import ot
import pytest

import protoot

REG = 0.1


@pytest.mark.parametrize("method", ["sinkhorn", "sinkhorn_log"])
def test_sinkhorn_plan_and_log_match_pot(problem, method):
    a, b, M = problem
    plan, log = protoot.sinkhorn(a, b, M, REG, method=method, log=True)
    ref, ref_log = ot.sinkhorn(a, b, M, REG, method=method, log=True)
    assert plan.shape == ref.shape and plan.dtype == ref.dtype
    np.testing.assert_allclose(plan, ref, rtol=0, atol=1e-9)
    assert set(log) == set(ref_log)
    # u, v are defined up to c, 1/c: the plan they give, diag(u) K diag(v), is what must agree
    K = np.exp(-M / REG)
    np.testing.assert_allclose(log["u"][:, None] * K * log["v"][None, :], ref, atol=1e-9)
    if method == "sinkhorn_log":
        np.testing.assert_allclose(np.exp(log["log_u"]), log["u"])
    assert log["err"] and log["err"][-1] <= 1e-9 and log["niter"] >= 1


def test_sinkhorn_defaults_lists_and_empty_marginals_as_pot(problem):
    a, b, M = problem
    np.testing.assert_allclose(protoot.sinkhorn(list(a), list(b), M.tolist(), REG), ot.sinkhorn(a, b, M, REG),
                               atol=1e-9)
    np.testing.assert_allclose(protoot.sinkhorn([], [], M, REG), ot.sinkhorn([], [], M, REG), atol=1e-9)


def test_sinkhorn2_matches_pot(problem):
    a, b, M = problem
    loss, log = protoot.sinkhorn2(a, b, M, REG, log=True)
    assert loss == pytest.approx(float(ot.sinkhorn2(a, b, M, REG)), rel=1e-8)
    assert set(log) == {"err", "niter", "u", "v"}
    assert protoot.sinkhorn2(a, b, M, REG, method="sinkhorn_log") == pytest.approx(loss, rel=1e-9)


def test_float32_stays_float32(problem):
    a, b, M = problem
    plan = protoot.sinkhorn(a, b, M.astype(np.float32), REG, stopThr=1e-6)
    assert plan.dtype == np.float32
    np.testing.assert_allclose(plan, ot.sinkhorn(a, b, M, REG), atol=1e-6)


def test_warns_like_pot_when_not_converged(problem):
    a, b, M = problem
    with pytest.warns(UserWarning, match="did not converge"):
        protoot.sinkhorn(a, b, M, REG, numItermax=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        protoot.sinkhorn2(a, b, M, REG, numItermax=2)  # sinkhorn2: warn=False by default, as POT


@pytest.mark.parametrize("method", ["sinkhorn", "sinkhorn_stabilized"])
def test_unbalanced_matches_pot(rng, problem, method):
    _, b, M = problem
    a = rng.random(M.shape[0])  # masses differ: a sums to about 6, b to 1
    plan, log = protoot.unbalanced.sinkhorn_unbalanced(a, b, M, REG, 0.7, method=method, stopThr=1e-12, log=True)
    ref, ref_log = ot.unbalanced.sinkhorn_unbalanced(a, b, M, REG, 0.7, method=method, stopThr=1e-12, log=True)
    np.testing.assert_allclose(plan, ref, rtol=1e-7, atol=1e-12)
    assert set(ref_log) <= set(log)
    np.testing.assert_allclose(np.exp(log["logu"][:, None] + log["logv"][None, :] - M / REG), plan, rtol=1e-9)
    cost = protoot.unbalanced.sinkhorn_unbalanced2(a, b, M, REG, 0.7, stopThr=1e-12)
    assert cost == pytest.approx(float(ot.unbalanced.sinkhorn_unbalanced2(a, b, M, REG, 0.7, stopThr=1e-12)), rel=1e-7)


def test_unbalanced_kl_regulariser_is_entropy_on_shifted_cost(rng, problem):
    _, b, M = problem
    a = rng.random(M.shape[0]) + 0.1
    plan = protoot.unbalanced.sinkhorn_unbalanced(a, b, M, REG, 0.5, reg_type="kl", stopThr=1e-12)
    shifted = M - REG * (np.log(a)[:, None] + np.log(b)[None, :])
    np.testing.assert_allclose(plan, ot.unbalanced.sinkhorn_unbalanced(a, b, shifted, REG, 0.5, stopThr=1e-12),
                               rtol=1e-7, atol=1e-12)
    with pytest.raises(ValueError, match="a > 0 and b > 0"):
        protoot.unbalanced.sinkhorn_unbalanced(np.r_[0.0, a[1:]], b, M, REG, 0.5, reg_type="kl")


def test_unbalanced_pair_with_a_hard_side(rng, problem):
    a, b, M = problem
    plan = protoot.unbalanced.sinkhorn_unbalanced(a, 3 * b, M, REG, (math.inf, 0.5), stopThr=1e-12)
    np.testing.assert_allclose(plan.sum(1), a, rtol=1e-9)  # rows hard, columns relaxed


def test_what_protoot_does_not_compute_raises(problem):
    a, b, M = problem
    with pytest.raises(NotImplementedError, match="greenkhorn"):
        protoot.sinkhorn(a, b, M, REG, method="greenkhorn")
    with pytest.raises(NotImplementedError, match="histograms"):
        protoot.sinkhorn(a, np.stack([b, b], 1), M, REG)
    with pytest.raises(NotImplementedError, match="reg_type"):
        protoot.unbalanced.sinkhorn_unbalanced(a, b, M, REG, 1.0, reg_type="l2")
    with pytest.raises(NotImplementedError, match="sinkhorn_reg_scaling"):
        protoot.unbalanced.sinkhorn_unbalanced(a, b, M, REG, 1.0, method="sinkhorn_reg_scaling")
    with pytest.raises(TypeError, match="tau"):
        protoot.sinkhorn(a, b, M, REG, tau=1e3)
