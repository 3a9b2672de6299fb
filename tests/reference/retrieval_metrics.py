"""NumPy reference for tests/test_retrieval.cpp: P@K (docs/method.md section 5) and mAP of cosine
retrieval over the full ranking (score descending, gallery index ascending).

usage: retrieval_metrics.py DIR n m d K1 [K2 ...]; reads DIR/{q,g,lq,lg}.f64 (raw float64),
writes DIR/expected.f64 = [P@K1, P@K2, ..., mAP] in percent.
"""
import os
import sys

import numpy as np

d = sys.argv[1]
n, m, dim = map(int, sys.argv[2:5])
ks = [int(k) for k in sys.argv[5:]]
q = np.fromfile(os.path.join(d, "q.f64")).reshape(n, dim)
g = np.fromfile(os.path.join(d, "g.f64")).reshape(m, dim)
lq = np.fromfile(os.path.join(d, "lq.f64")).astype(np.int64)
lg = np.fromfile(os.path.join(d, "lg.f64")).astype(np.int64)
q /= np.linalg.norm(q, axis=1, keepdims=True)
g /= np.linalg.norm(g, axis=1, keepdims=True)
s = q @ g.T
hits = np.zeros(len(ks))
total = np.zeros(len(ks))
aps = []
for i in range(n):
    order = np.lexsort((np.arange(m), -s[i]))
    relevant = lg[order] == lq[i]
    R = relevant.sum()
    for t, k in enumerate(ks):
        r = min(k, R)
        hits[t] += relevant[:r].sum()
        total[t] += r
    if R:
        ranks = np.flatnonzero(relevant) + 1
        aps.append(np.mean(np.arange(1, R + 1) / ranks))
out = np.concatenate([100 * hits / total, [100 * np.mean(aps)]])
out.astype(np.float64).tofile(os.path.join(d, "expected.f64"))
