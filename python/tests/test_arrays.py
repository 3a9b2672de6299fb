"""How arrays reach the C++ core (DLPack, copies, dtypes), the GIL, and bad input -> ValueError."""
import threading
import time

import numpy as np
import pytest

import protoot
from protoot import _arrays


class DLPackOnly:
    """A minimal DLPack producer (as a torch or JAX CPU tensor): no __array__, no buffer protocol."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, stream=None, **kwargs):  # NumPy 2 also passes max_version, copy
        return self._array.__dlpack__()

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def test_dlpack_input_is_viewed_not_copied(problem):
    a, b, M = problem
    assert not hasattr(DLPackOnly(M), "__array__")
    view = _arrays.floats(DLPackOnly(M), np.float64, 2, "M")
    assert np.shares_memory(view, M)
    np.testing.assert_array_equal(protoot.sinkhorn(DLPackOnly(a), DLPackOnly(b), DLPackOnly(M), 0.1),
                                  protoot.sinkhorn(a, b, M, 0.1))
    M32 = M.astype(np.float32)
    assert protoot.sinkhorn(a, b, DLPackOnly(M32), 0.1, stopThr=1e-6).dtype == np.float32


def test_c_contiguous_arrays_pass_through_and_others_are_copied_once(problem):
    a, b, M = problem
    assert _arrays.floats(M, np.float64, 2, "M") is M
    fortran = np.asfortranarray(M)
    copy = _arrays.floats(fortran, np.float64, 2, "M")
    assert copy.flags.c_contiguous and not np.shares_memory(copy, fortran)
    plan = protoot.sinkhorn(a, b, M, 0.1)
    for other in (fortran, M.T.copy().T, M.astype(np.float64).tolist(), np.hstack([M, M])[:, : M.shape[1]]):
        np.testing.assert_array_equal(protoot.sinkhorn(a, b, other, 0.1), plan)


def test_solve_dtype_follows_the_leading_array(problem):
    a, b, M = problem
    assert protoot.sinkhorn(a.astype(np.float32), b, M, 0.1).dtype == np.float64
    options = protoot.sinkhorn_options(0.1, tolerance=1e-5)
    r = protoot.solve_sinkhorn(M.astype(np.float32), a, b.astype(np.float64), options)
    assert r.plan.dtype == np.float32 and r.g.dtype == np.float32
    assert protoot.kmeans(np.arange(12, dtype=np.int32).reshape(6, 2), 2).centroids.dtype == np.float64


def test_core_refuses_silent_conversions(problem):
    a, b, M = problem
    with pytest.raises(TypeError):  # the Python layer converts; the core itself never copies
        protoot._core.sinkhorn(np.asfortranarray(M), a, b, protoot.sinkhorn_options(0.1))
    with pytest.raises(TypeError):
        protoot._core.sinkhorn(M, a.astype(np.float32), b, protoot.sinkhorn_options(0.1))


def test_gil_is_released_during_a_solve(rng):
    M = rng.random((400, 400))
    a = np.full(400, 1 / 400)
    options = protoot.sinkhorn_options(1e-3, max_iterations=400, tolerance=0.0)
    start = time.perf_counter()
    protoot.solve_sinkhorn(M, a, a, options)
    single = time.perf_counter() - start
    ticks = 0
    solver = threading.Thread(target=protoot.solve_sinkhorn, args=(M, a, a, options))
    solver.start()
    while solver.is_alive():  # runs only while the solver thread does not hold the GIL
        ticks += 1
        time.sleep(0)
    solver.join()
    # Holding the GIL, the solve would leave this loop a handful of turns at most.
    assert single > 0.01 and ticks > 100, (single, ticks)


@pytest.mark.parametrize("call, message", [
    (lambda a, b, M: protoot.sinkhorn(a, 2 * b, M, 0.1), "protoot::sinkhorn: a and b must have the same total mass"),
    (lambda a, b, M: protoot.sinkhorn(a, b, np.where(M > 0.5, np.nan, M), 0.1), "cost matrix C contains NaN or Inf"),
    (lambda a, b, M: protoot.sinkhorn(a[1:], b, M, 0.1), "a must have one entry per row of C"),
    (lambda a, b, M: protoot.sinkhorn(a, b, M, 0.0), "epsilon"),
    (lambda a, b, M: protoot.unbalanced.sinkhorn_unbalanced(a, b, M, 0.1, -1.0), "rho_a must be > 0"),
    (lambda a, b, M: protoot.kmeans(M, 100), "protoot::kmeans"),
    (lambda a, b, M: protoot.cosine_topk(M, M[:, :3], 2), "protoot::cosine_topk"),
    (lambda a, b, M: protoot.info_nce_two_views(M, M, -1.0), "tau"),
    (lambda a, b, M: protoot.evaluate_retrieval(M, [0.5] * len(M), M, [0] * len(M)), "must hold integers"),
    (lambda a, b, M: protoot.prototype_sinkhorn(M, M, [1.0], protoot.sinkhorn_options(0.1)),
     "protoot::prototype_sinkhorn"),
    (lambda a, b, M: protoot.sinkhorn(a, b, M[None], 0.1), "M must have 2 dimension"),
])
def test_bad_input_raises_value_error_with_the_library_message(problem, call, message):
    a, b, M = problem
    with pytest.raises(ValueError, match=message):
        call(a, b, M)
