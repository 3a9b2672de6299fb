"""POT-compatible entry points: POT 0.8.2's names, argument order, defaults and log keys.

A POT user swaps ``import ot`` for ``import protoot as ot`` for these calls. What differs from
POT (documented in docs/python.md, "POT compatibility"):

- the stopping error is protoot's L1 marginal violation (POT: the L2 norm of the column
  violation for sinkhorn, a relative scaling change for sinkhorn_unbalanced), checked every 10
  iterations as POT's sinkhorn does; log['err'] lists those values. An L1 norm is at least the
  L2 norm, so protoot never stops earlier than POT would at the same stopThr;
- log['niter'] is the number of iterations run (POT reports the 0-based index of the last one);
- u, v (and log_u, log_v) are exp(f / reg), exp(g / reg) of protoot's potentials: the same plan
  diag(u) K diag(v) as POT's, but u and v may differ from POT's by a factor c and 1 / c;
- balanced masses must agree to 1e-6 relative (ValueError otherwise); POT does not check;
- only one histogram b (POT's n_hists > 1 raises NotImplementedError), and only the methods
  listed in each function (others raise NotImplementedError instead of computing something else).
"""

import warnings

import numpy as np

from . import _core
from ._arrays import as_numpy, floats, solve_dtype

_CHECK_EVERY = 10  # POT's sinkhorn checks its error every 10 iterations


def _problem(a, b, M):
    """(a, b, M) converted, empty a or b replaced by uniform weights as POT does."""
    t = solve_dtype(M)
    M = floats(M, t, 2, "M")
    a, b = as_numpy(a), as_numpy(b)
    if b.ndim > 1:
        raise NotImplementedError("protoot: several histograms b (POT's n_hists > 1) are not supported; "
                                  "solve one column of b at a time")
    a = np.full(M.shape[0], 1.0 / M.shape[0], t) if a.size == 0 else floats(a, t, 1, "a")
    b = np.full(M.shape[1], 1.0 / M.shape[1], t) if b.size == 0 else floats(b, t, 1, "b")
    return a, b, M


def _options(reg, numItermax, stopThr, log_domain, kwargs):
    if kwargs:
        raise TypeError(f"protoot: unsupported keyword argument(s) {sorted(kwargs)}")
    options = _core.SinkhornOptions()
    options.epsilon = float(reg)
    options.max_iterations = int(numItermax)
    options.tolerance = float(stopThr)
    options.log_domain = log_domain
    options.check_every = _CHECK_EVERY
    return options


def _report(result, verbose, warn):
    """POT's verbose table and warnings, from the finished solve."""
    if verbose:
        for row, err in enumerate(result.error_history):
            if row % 20 == 0:
                print("{:5s}|{:12s}".format("It.", "Err") + "\n" + "-" * 19)
            print("{:5d}|{:8e}|".format((row + 1) * _CHECK_EVERY, err))
    if result.status == _core.SolverStatus.numerical_error:
        warnings.warn("Warning: numerical errors at iteration %d" % result.iterations)
    elif warn and result.status != _core.SolverStatus.converged:
        warnings.warn("Sinkhorn did not converge. You might want to increase the number of iterations "
                      "`numItermax` or the regularization parameter `reg`.")


def _scalings(result, reg, log_keys):
    with np.errstate(over="ignore", under="ignore"):
        log_u, log_v = result.f / reg, result.g / reg
        return {log_keys[0]: log_u, log_keys[1]: log_v} if log_keys else {}, np.exp(log_u), np.exp(log_v)


def _balanced(a, b, M, reg, method, numItermax, stopThr, verbose, warn, kwargs):
    method = method.lower()
    if method not in ("sinkhorn", "sinkhorn_log"):
        raise NotImplementedError(f"protoot: method {method!r} is not available; use 'sinkhorn' (scaling "
                                  "iterations) or 'sinkhorn_log' (log domain, stable at any reg)")
    a, b, M = _problem(a, b, M)
    result = _core.sinkhorn(M, a, b, _options(reg, numItermax, stopThr, method == "sinkhorn_log", kwargs))
    _report(result, verbose, warn)
    logs, u, v = _scalings(result, float(reg), ("log_u", "log_v") if method == "sinkhorn_log" else None)
    log = {"err": list(result.error_history), "niter": result.iterations, **logs, "u": u, "v": v}
    return result, log


def sinkhorn(a, b, M, reg, method="sinkhorn", numItermax=1000, stopThr=1e-9, verbose=False, log=False,
             warn=True, **kwargs):
    """Entropic OT plan, as POT's ot.sinkhorn: a (n), b (m) weights (empty = uniform), M (n x m)
    cost, reg > 0. method 'sinkhorn' iterates scalings, 'sinkhorn_log' log-domain potentials.
    Returns the plan (n x m, M's float dtype), and with log=True a dict with POT's keys
    ('err', 'niter', 'u', 'v', plus 'log_u', 'log_v' for sinkhorn_log)."""
    result, log_dict = _balanced(a, b, M, reg, method, numItermax, stopThr, verbose, warn, kwargs)
    return (result.plan, log_dict) if log else result.plan


def sinkhorn2(a, b, M, reg, method="sinkhorn", numItermax=1000, stopThr=1e-9, verbose=False, log=False,
              warn=False, **kwargs):
    """Entropic OT loss <P, M> of the sinkhorn plan, as POT's ot.sinkhorn2 (same arguments;
    returns a float, and the log dict with log=True)."""
    result, log_dict = _balanced(a, b, M, reg, method, numItermax, stopThr, verbose, warn, kwargs)
    cost = float(result.transport_cost)
    return (cost, log_dict) if log else cost
