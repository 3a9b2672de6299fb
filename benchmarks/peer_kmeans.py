"""Times faiss and scikit-learn K-means on the bench_kmeans workload, side by side with protoot.

Usage: /usr/bin/python3 benchmarks/peer_kmeans.py [DIR]
Writes DIR/X.bin (float32, the same fixed-seed mixture as bench_kmeans generates in spirit),
prints peer times and inertias, then runs bench_kmeans on that very file when
PROTOOT_BENCH_BINARY points at it. n, d, k: PROTOOT_BENCH_N / _D / _K (default 100000 / 128 / 100).
"""
import os
import subprocess
import sys
import tempfile
import time

import faiss
import numpy as np
from sklearn.cluster import KMeans

n = int(os.environ.get("PROTOOT_BENCH_N", 100000))
d = int(os.environ.get("PROTOOT_BENCH_D", 128))
k = int(os.environ.get("PROTOOT_BENCH_K", 100))
iterations = 20
directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="protoot_kmeans_")
os.makedirs(directory, exist_ok=True)

rng = np.random.default_rng(42)
centres = rng.standard_normal((100, d)).astype(np.float32)
X = (centres[np.arange(n) % 100] + 2 * rng.standard_normal((n, d))).astype(np.float32)
X.tofile(os.path.join(directory, "X.bin"))


def best_of(runs, fit):
    """Best wall and process-CPU seconds of `runs` fits (CPU time is what a busy machine distorts least)."""
    wall, cpu, inertia = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        inertia = fit()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu), inertia


def fit_faiss(max_points_per_centroid):
    km = faiss.Kmeans(d, k, niter=iterations, nredo=1, seed=1, verbose=False,
                      max_points_per_centroid=max_points_per_centroid)
    km.train(X)
    dist, _ = km.index.search(X, 1)
    return float(dist.astype(np.float64).sum())


def fit_sklearn():
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=iterations, tol=0,
                algorithm="lloyd", random_state=0).fit(X)
    return float(km.inertia_)


print(f"data: {directory}/X.bin  n={n} d={d} k={k} iterations={iterations} float32 threads={faiss.omp_get_max_threads()}")
for name, fit in [("faiss (all points, random init)", lambda: fit_faiss(n)),
                  ("faiss (default 256 points/centroid subsample)", lambda: fit_faiss(256)),
                  ("sklearn 1.2.1 (k-means++, lloyd)", fit_sklearn)]:
    wall, cpu, inertia = best_of(int(os.environ.get("PROTOOT_PEER_RUNS", 3)), fit)
    print(f"{name:48s} {wall:7.3f} s wall {cpu:7.3f} s cpu   inertia {inertia:.6g}")

binary = os.environ.get("PROTOOT_BENCH_BINARY")
if binary:
    env = dict(os.environ, PROTOOT_BENCH_INPUT=directory, PROTOOT_BENCH_N=str(n), PROTOOT_BENCH_D=str(d),
               PROTOOT_BENCH_K=str(k))
    subprocess.run([binary], env=env, check=True)
