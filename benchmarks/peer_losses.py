"""Side-by-side timing of protoot's contrastive kernels (bench_losses) and the same losses with
hand-written backward in NumPy float32 (the natural framework-free peer; no PyTorch here).

Usage: PROTOOT_BENCH_BINARY=build/benchmarks/bench_losses /usr/bin/python3 benchmarks/peer_losses.py
Workload as bench_losses: batch 256, d 128, K 64, bank 4096, tau 0.2, float32.
Prints one row per kernel and mode: protoot us, NumPy us, NumPy / protoot.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

N, D, K, M, TAU = 256, 128, 64, 4096, np.float32(0.2)


def unit(rows, seed):
    x = np.random.default_rng(seed).standard_normal((rows, D)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


q, k, bank, c = unit(N, 1), unit(N, 2), unit(M, 3), unit(K, 4)
match = np.arange(N) % K
w = np.exp(q @ c.T / np.float32(0.05))
w /= w.sum(1, keepdims=True)


def info_nce_bank(backward):
    pos = (q * k).sum(1) / TAU
    neg = q @ bank.T / TAU
    top = np.maximum(pos, neg.max(1))
    e = np.exp(neg - top[:, None])
    ep = np.exp(pos - top)
    s = ep + e.sum(1)
    loss = np.mean(top + np.log(s) - pos)
    if backward:
        scale = np.float32(1.0 / (N * TAU))
        gp = (ep / s - 1) * scale
        gn = e * (scale / s)[:, None]
        return loss, gp[:, None] * k + gn @ bank, gp[:, None] * q, gn.T @ q
    return loss


def soft_ce(z, protos, targets, backward):
    logits = z @ protos.T / TAU
    top = logits.max(1, keepdims=True)
    e = np.exp(logits - top)
    s = e.sum(1, keepdims=True)
    loss = np.mean((top + np.log(s)).ravel() - (targets * logits).sum(1))
    if backward:
        g = (e / s - targets) / (N * TAU)
        return loss, g @ protos, g.T @ z
    return loss


def prototype_contrast(backward):
    return soft_ce(q, c, np.eye(K, dtype=np.float32)[match], backward)


PEERS = {"info_nce_bank": info_nce_bank, "prototype_contrast": prototype_contrast,
         "ot_target_loss": lambda b: soft_ce(q, c, w, b)}


def time_us(fn, repeat=30):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e6


def main():
    binary = os.environ.get("PROTOOT_BENCH_BINARY", "build/benchmarks/bench_losses")
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_filter=info_nce_bank|prototype_contrast|ot_target_loss"],
                         check=True, capture_output=True, text=True).stdout
    ours = {b["name"]: b["real_time"] for b in json.loads(out)["benchmarks"]}
    print(f"{'kernel':36s} {'protoot us':>11s} {'NumPy us':>10s} {'ratio':>6s}")
    for name, fn in PEERS.items():
        for arg, mode in ((0, "forward"), (1, "forward+backward")):
            mine = ours[f"BM_{name}/{arg}"]
            peer = time_us(lambda: fn(bool(arg)))
            print(f"{name + ' ' + mode:36s} {mine:11.0f} {peer:10.0f} {peer / mine:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
