"""POT-compatible unbalanced OT: ``protoot.unbalanced.sinkhorn_unbalanced`` and ``..._unbalanced2``.

Solves min_P <P, M> + reg * Omega(P) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b), which with
rho_a = rho_b = reg_m is POT 0.8.2's ot.unbalanced.sinkhorn_unbalanced. Beyond POT 0.8.2:

- reg_m may be a pair (rho_a, rho_b), and math.inf makes a side a hard constraint
  (semi-relaxed OT: (inf, rho) fully assigns the rows of a);
- reg_type picks Omega: "entropy" (default, POT 0.8.2's only choice) is sum P (log P - 1);
  "kl" is KL(P | a b^T), solved exactly as "entropy" on the cost M - reg (log a_i + log b_j)
  (the objectives differ by a constant), so it needs a > 0 and b > 0.

The stopping error is protoot's L1 violation of the relaxed marginals, checked every 10
iterations (POT: relative change of the scalings every iteration); log['logu'], log['logv'] are
f / reg, g / reg of protoot's potentials (plan = diag(exp(logu)) K diag(exp(logv)) as in POT).
"""

import numpy as np

from . import _core
from ._pot import _options, _problem, _report, _scalings

__all__ = ["sinkhorn_unbalanced", "sinkhorn_unbalanced2"]


def _unbalanced(a, b, M, reg, reg_m, method, numItermax, stopThr, verbose, reg_type, kwargs):
    methods = {"sinkhorn": False, "sinkhorn_stabilized": True}
    if method.lower() not in methods:
        raise NotImplementedError(f"protoot: method {method!r} is not available; use 'sinkhorn' (scaling "
                                  "iterations) or 'sinkhorn_stabilized' (log domain, stable at any reg)")
    rho_a, rho_b = (reg_m, reg_m) if np.ndim(reg_m) == 0 else tuple(reg_m)
    a, b, M = _problem(a, b, M)
    if reg_type == "kl":
        if not (np.all(a > 0) and np.all(b > 0)):
            raise ValueError("protoot: reg_type='kl' needs a > 0 and b > 0 (KL(P | a b^T) is infinite otherwise)")
        M = M - float(reg) * (np.log(a)[:, None] + np.log(b)[None, :])
    elif reg_type != "entropy":
        raise NotImplementedError(f"protoot: reg_type {reg_type!r} is not available; use 'entropy' or 'kl'")
    options = _options(reg, numItermax, stopThr, methods[method.lower()], kwargs)
    result = _core.sinkhorn_unbalanced(M, a, b, float(rho_a), float(rho_b), options)
    _report(result, verbose, warn=False)
    logs, _, _ = _scalings(result, float(reg), ("logu", "logv"))
    return result, {"err": list(result.error_history), "niter": result.iterations, **logs}


def sinkhorn_unbalanced(a, b, M, reg, reg_m, method="sinkhorn", numItermax=1000, stopThr=1e-6, verbose=False,
                        log=False, reg_type="entropy", **kwargs):
    """Unbalanced entropic OT plan, as POT's ot.unbalanced.sinkhorn_unbalanced: a (n), b (m)
    non-negative weights of any masses (empty = uniform), M (n x m), reg > 0, reg_m > 0 or a pair
    (math.inf = hard side). Returns the plan, and with log=True {'err', 'niter', 'logu', 'logv'}."""
    result, log_dict = _unbalanced(a, b, M, reg, reg_m, method, numItermax, stopThr, verbose, reg_type, kwargs)
    return (result.plan, log_dict) if log else result.plan


def sinkhorn_unbalanced2(a, b, M, reg, reg_m, method="sinkhorn", numItermax=1000, stopThr=1e-6, verbose=False,
                         log=False, reg_type="entropy", **kwargs):
    """The transport cost <P, M> of sinkhorn_unbalanced's plan (POT's ot.unbalanced.sinkhorn_unbalanced2)."""
    result, log_dict = _unbalanced(a, b, M, reg, reg_m, method, numItermax, stopThr, verbose, reg_type, kwargs)
    cost = float(np.sum(result.plan * _problem(a, b, M)[2]))
    return (cost, log_dict) if log else cost

