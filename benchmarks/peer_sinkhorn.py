"""Side-by-side Sinkhorn timing: POT 0.8.2 and protoot's bench_sinkhorn on identical inputs.

  /usr/bin/python3 benchmarks/peer_sinkhorn.py DIR [--n 4096] [--rounds 3] [--single-thread]

Writes the issue-2 workload to DIR (n x n unit-scale squared-Euclidean cost, seeded as in
compare.py; eps = 0.01; 100 iterations, no early stop), then alternates POT and
bench_sinkhorn (PROTOOT_BENCH_BINARY, default build/benchmarks/bench_sinkhorn) for --rounds and
keeps each side's best ms/iteration (least disturbed by a shared machine's load; protoot runs
with OMP_WAIT_POLICY=passive unless set). POT's log form is timed over 5 iterations.
--single-thread compares CPU time of one thread on each side (OMP/OpenBLAS threads = 1), which
a busy machine disturbs less than wall time.
"""
import argparse
import json
import os
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import ot


def problem(n):
    rng = np.random.default_rng(1)
    x, y = rng.random((n, 2)), rng.random((n, 2))
    cost = np.empty((n, n))
    for start in range(0, n, 1024):
        block = x[start:start + 1024, None, :] - y[None, :, :]
        cost[start:start + 1024] = np.einsum("ijk,ijk->ij", block, block)
    cost /= cost.max()
    a, b = rng.random(n) + 0.5, rng.random(n) + 0.5
    return cost, a / a.sum(), b / b.sum()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single-thread", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # POT warns that 100 iterations did not converge
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    C, a, b = problem(args.n)
    for name, array in (("C", C), ("a", a), ("b", b)):
        array.tofile(directory / f"{name}.bin")
    clock = time.process_time if args.single_thread else time.perf_counter
    field = "cpu_time" if args.single_thread else "real_time"
    # As compare.py: OpenMP threads that spin while waiting steal the busy machine's other core.
    env = dict(os.environ, PROTOOT_BENCH_INPUT=str(directory), PROTOOT_BENCH_ITERATIONS="100",
               OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    if args.single_thread:
        env["OMP_NUM_THREADS"] = "1"
    binary = os.environ.get("PROTOOT_BENCH_BINARY", "build/benchmarks/bench_sinkhorn")
    eps, iterations = 0.01, 100

    def pot(run, count):
        start = clock()
        run(count)
        return (clock() - start) / count * 1e3

    peers = {
        "POT sinkhorn_knopp": (lambda k: ot.sinkhorn(a, b, C, eps, numItermax=k, stopThr=0), iterations),
        "POT sinkhorn_log": (lambda k: ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", numItermax=k, stopThr=0), 5),
        "POT sinkhorn_unbalanced": (lambda k: ot.unbalanced.sinkhorn_unbalanced(
            a, b, C, eps, 1.0, numItermax=k, stopThr=0), iterations),
    }
    best = {}
    for _ in range(args.rounds):
        for name, (run, count) in peers.items():
            best[name] = min(best.get(name, float("inf")), pot(run, count))
        out = subprocess.run([binary, "--benchmark_format=json", f"--benchmark_filter=<double>/{args.n}/"],
                             env=env, capture_output=True, text=True, check=True).stdout
        for bm in json.loads(out)["benchmarks"]:
            name = bm["name"].split("/")[0]
            best[name] = min(best.get(name, float("inf")), bm[field] / iterations)
    pairs = [("BM_SinkhornLog<double>", "POT sinkhorn_log", "10x"),
             ("BM_SinkhornScaling<double>", "POT sinkhorn_knopp", "2.5x"),
             ("BM_SinkhornUnbalancedLog<double>", "POT sinkhorn_unbalanced", ""),
             ("BM_SinkhornUnbalancedScaling<double>", "POT sinkhorn_unbalanced", "")]
    print(f"| protoot | ms/it | peer | ms/it | speed-up | target |  (load {os.getloadavg()[0]:.1f})")
    print("|---|---|---|---|---|---|")
    for mine, peer, target in pairs:
        print(f"| {mine} | {best[mine]:.1f} | {peer} | {best[peer]:.1f} | {best[peer] / best[mine]:.1f}x | {target} |")


if __name__ == "__main__":
    main()
