"""Input conversion shared by every protoot entry point (the one place a copy may happen).

The C++ core takes C-contiguous CPU arrays of one floating dtype (float32 or float64) and int64
labels, and maps them without a copy (its array arguments refuse anything else). Every argument
is brought to that form here, with at most one copy:

- an object with ``__dlpack__`` that is not a NumPy array (a PyTorch or JAX CPU tensor) is
  viewed through ``numpy.from_dlpack``, which shares its memory;
- a C-contiguous array of the solve's dtype is passed as it is (no copy);
- any other array-like (lists, Fortran order, strided views, other dtypes) is copied once by
  ``numpy.ascontiguousarray`` into the solve's dtype.

The solve's dtype is float32 when the leading array (the cost, the features) is float32, and
float64 otherwise; the other arrays of the call are brought to it.
"""

import numpy as np


def as_numpy(x):
    """x as a NumPy array, viewing DLPack producers (torch, JAX CPU tensors) without a copy."""
    if not isinstance(x, np.ndarray) and hasattr(x, "__dlpack__"):
        return np.from_dlpack(x)
    return np.asarray(x)


def solve_dtype(x):
    """float32 for a float32 leading array, float64 for anything else."""
    return np.float32 if as_numpy(x).dtype == np.float32 else np.float64


def floats(x, dtype, ndim, name):
    """x as a C-contiguous `dtype` array with `ndim` dimensions (copied only when it is not one)."""
    array = np.ascontiguousarray(as_numpy(x), dtype=dtype)
    if array.ndim != ndim:
        raise ValueError(f"protoot: {name} must have {ndim} dimension(s), got shape {array.shape}")
    return array


def labels(x, name):
    """x as a C-contiguous int64 vector; non-integer values are an error, not truncated."""
    array = as_numpy(x)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"protoot: {name} must hold integers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.int64)
    if array.ndim != 1:
        raise ValueError(f"protoot: {name} must have 1 dimension, got shape {array.shape}")
    return array
