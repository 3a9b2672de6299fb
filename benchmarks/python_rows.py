"""Python rows of the benchmark table: protoot called from Python vs POT, same inputs, same call.

Usage (with protoot installed, e.g. by scripts/test.sh into build-python/venv):
    OMP_WAIT_POLICY=passive build-python/venv/bin/python benchmarks/python_rows.py [--rounds 5]

Each row runs the identical POT-style call through `ot` and `protoot` on seeded float64 inputs
with stopThr=0, so both run exactly numItermax iterations; the time is the best of --rounds
wall-clock calls and includes everything a user pays (argument conversion, result arrays, the
log-free return). The 8 x 8 one-iteration row is the fixed call overhead. Prints a Markdown
table and the machine load, for docs/benchmarks.md ("Python bindings").
"""
import argparse
import os
import time
import warnings

import numpy as np
import ot

import protoot


def best_of(rounds, call):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def rows(rounds):
    rng = np.random.default_rng(0)
    for label, n, iters, reg, mod, fn, extra in [
        ("sinkhorn, call overhead (8 x 8, 1 iteration)", 8, 1, 0.1, "", "sinkhorn", {}),
        ("sinkhorn (scaling), 1000 x 1000, eps 0.05", 1000, 100, 0.05, "", "sinkhorn", {}),
        ("sinkhorn_log, 1000 x 1000, eps 0.05", 1000, 100, 0.05, "", "sinkhorn", {"method": "sinkhorn_log"}),
        ("sinkhorn_log, 2048 x 2048, eps 0.05 (2 threads)", 2048, 20, 0.05, "", "sinkhorn",
         {"method": "sinkhorn_log"}),
        ("sinkhorn2 (scaling), 256 x 256, eps 0.05", 256, 100, 0.05, "", "sinkhorn2", {}),
        ("unbalanced.sinkhorn_unbalanced, 1000 x 1000, eps 0.05, reg_m 1", 1000, 100, 0.05, "unbalanced.",
         "sinkhorn_unbalanced", {"reg_m": 1.0}),
    ]:
        M = rng.random((n, n))
        a = np.full(n, 1.0 / n)
        b = rng.random(n)
        b /= b.sum()
        timed = {}
        for name, lib in (("POT", ot), ("protoot", protoot)):
            func = getattr(lib.unbalanced, fn) if mod else getattr(lib, fn)
            args = (a, b, M, reg) + ((extra["reg_m"],) if "reg_m" in extra else ())
            kwargs = {k: v for k, v in extra.items() if k != "reg_m"}
            timed[name] = best_of(rounds, lambda: func(*args, numItermax=iters, stopThr=0.0, **kwargs))
        yield label, iters, timed["POT"], timed["protoot"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # stopThr=0: both libraries warn that they did not converge
    print(f"POT {ot.__version__}, numpy {np.__version__}, protoot {protoot.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    print()
    print("| call (float64) | iterations | POT | protoot via Python | speed-up |")
    print("|---|---|---|---|---|")
    for label, iters, pot, mine in rows(args.rounds):
        print(f"| {label} | {iters} | {pot * 1e3:.3f} ms | {mine * 1e3:.3f} ms | {pot / mine:.1f}x |")
    print()
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
