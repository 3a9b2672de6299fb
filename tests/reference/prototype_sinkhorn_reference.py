"""Independent references for tests/test_prototype_sinkhorn.cpp (raw float64 files in DIR).

  released DIR n k d      the released ProtoOT / SwAV code's OT step on Z.bin, P.bin, w.bin:
                          row-L2-normalised cosine similarities, Q = exp(S / 0.05), 3 times
                          (prototype rows to w, then sample columns to 1/n)
                          -> DIR/assignments.bin (n x k, each sample's distribution)
  relaxed DIR n k eps rho semi-relaxed entropic OT on C.bin (n x k): samples hard (1/n),
                          prototypes KL(. | w.bin) with weight rho, log-domain NumPy iterations
                          to convergence -> DIR/plan.bin
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads: tiny problems, busy CI machine
import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402


def read(directory, name, shape):
    return np.fromfile(f"{directory}/{name}", dtype=np.float64).reshape(shape)


def released(directory, n, k, d):
    Z, P, w = read(directory, "Z.bin", (n, d)), read(directory, "P.bin", (k, d)), read(directory, "w.bin", (k,))
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    P = P / np.linalg.norm(P, axis=1, keepdims=True)
    S = Z @ P.T
    S = S / np.linalg.norm(S, axis=1, keepdims=True)
    Q = np.exp(S / 0.05).T  # prototypes x samples, as in the SwAV code
    Q /= Q.sum()
    r, c = w, np.full(n, 1.0 / n)
    for _ in range(3):
        Q *= (r / Q.sum(axis=1))[:, None]
        Q *= (c / Q.sum(axis=0))[None, :]
    (Q / Q.sum(axis=0, keepdims=True)).T.tofile(f"{directory}/assignments.bin")


def relaxed(directory, n, k, eps, rho):
    C, w = read(directory, "C.bin", (n, k)), read(directory, "w.bin", (k,))
    log_a, log_w = np.full(n, -np.log(n)), np.log(w)
    damping = rho / (rho + eps)
    f, g = np.zeros(n), np.zeros(k)
    for _ in range(100000):
        g = damping * eps * (log_w - logsumexp((f[:, None] - C) / eps, axis=0))
        f_new = eps * (log_a - logsumexp((g[None, :] - C) / eps, axis=1))
        done = np.abs(f_new - f).max() < 1e-14
        f = f_new
        if done:
            break
    np.exp((f[:, None] + g[None, :] - C) / eps).tofile(f"{directory}/plan.bin")


if __name__ == "__main__":
    mode, directory, *numbers = sys.argv[1:]
    if mode == "released":
        released(directory, *[int(v) for v in numbers])
    else:
        relaxed(directory, int(numbers[0]), int(numbers[1]), float(numbers[2]), float(numbers[3]))
