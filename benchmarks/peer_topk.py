"""Times faiss IndexFlatIP on the bench_topk workload, side by side with protoot's cosine_topk.

Usage: PROTOOT_BENCH_BINARY=build/benchmarks/bench_topk /usr/bin/python3 benchmarks/peer_topk.py [DIR]
Writes DIR/Q.bin and DIR/G.bin (float32 unit rows, seeded), times faiss (index build + search,
best of PROTOOT_PEER_RUNS, default 1), then runs bench_topk on those very files. n = m, d, k:
PROTOOT_BENCH_N / _D / _K (default 50000 / 128 / 100).
"""
import os
import subprocess
import sys
import tempfile
import time

import faiss
import numpy as np

n = int(os.environ.get("PROTOOT_BENCH_N", 50000))
d = int(os.environ.get("PROTOOT_BENCH_D", 128))
k = int(os.environ.get("PROTOOT_BENCH_K", 100))
runs = int(os.environ.get("PROTOOT_PEER_RUNS", 1))
directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="protoot_topk_")
os.makedirs(directory, exist_ok=True)

rng = np.random.default_rng(3)
unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
queries, gallery = unit(rng.standard_normal((n, d))), unit(rng.standard_normal((n, d)))
queries.tofile(os.path.join(directory, "Q.bin"))
gallery.tofile(os.path.join(directory, "G.bin"))

times = []
for _ in range(runs):
    start = time.perf_counter()
    index = faiss.IndexFlatIP(d)
    index.add(gallery)
    index.search(queries, k)
    times.append(time.perf_counter() - start)
print(f"faiss IndexFlatIP {n}x{n} d={d} k={k}: {min(times):.3f} s ({faiss.omp_get_max_threads()} threads)", flush=True)

binary = os.environ.get("PROTOOT_BENCH_BINARY")
if binary:
    env = dict(os.environ, PROTOOT_BENCH_INPUT=directory, PROTOOT_BENCH_D=str(d), PROTOOT_BENCH_K=str(k))
    subprocess.run([binary, "--benchmark_min_time=0"], env=env, check=True)
