"""NumPy side of tests/test_npy.cpp.

write DIR: writes value(i, j) = (i * cols + j) * 1.5 - 4 (floats) or i * cols + j - 4 (ints) as
           {f4,f8,i4,i8} x {C,F order} x {format 1.0, 2.0, 3.0} x shapes (3, 4), (5,), ().
check DIR: loads the files protoot wrote (rt_<dtype>_<m|v>.npy) and compares dtype, shape and
           values with expected_<dtype>_<m|v>.f64 (raw float64 written by the test).
"""
import os
import sys

import numpy as np


def value(shape, integer):
    flat = np.arange(int(np.prod(shape)), dtype=np.float64)
    v = flat - 4 if integer else flat * 1.5 - 4
    return v.reshape(shape)


def write(d):
    for dt in ["f4", "f8", "i4", "i8"]:
        for order in "CF":
            for version in [(1, 0), (2, 0), (3, 0)]:
                for shape in [(3, 4), (5,), ()]:
                    a = np.asarray(value(shape, dt[0] == "i"), dtype="<" + dt, order=order)
                    a = np.asfortranarray(a) if order == "F" else np.ascontiguousarray(a)
                    name = f"{dt}_{order}_{version[0]}_{len(shape)}d.npy"
                    with open(os.path.join(d, name), "wb") as f:
                        np.lib.format.write_array(f, a, version=version)


def check(d):
    for dt in ["f4", "f8", "i4", "i8"]:
        for kind in "mv":
            a = np.load(os.path.join(d, f"rt_{dt}_{kind}.npy"))
            expected = np.fromfile(os.path.join(d, f"expected_{dt}_{kind}.f64"))
            assert a.dtype == np.dtype("<" + dt), (dt, a.dtype)
            assert a.ndim == (2 if kind == "m" else 1), (dt, kind, a.shape)
            if kind == "m":
                assert a.shape == (3, 5), a.shape
            assert np.array_equal(a.astype(np.float64).ravel(), expected), (dt, kind)


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
