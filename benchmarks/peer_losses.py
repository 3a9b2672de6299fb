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


def soft_targets(q, c):
    """The plan-like soft assignment bench_losses builds: softmax_k(q . c_k / 0.05)."""
    w = np.exp(q @ c.T / np.float32(0.05))
    return w / w.sum(1, keepdims=True)


def info_nce_bank(q, k, bank, backward):
    pos = (q * k).sum(1) / TAU
    neg = q @ bank.T / TAU
    top = np.maximum(pos, neg.max(1))
    e = np.exp(neg - top[:, None])
    ep = np.exp(pos - top)
    s = ep + e.sum(1)
    loss = np.mean(top + np.log(s) - pos)
    if backward:
        scale = np.float32(1.0 / (len(q) * TAU))
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
        g = (e / s - targets) / (len(z) * TAU)
        return loss, g @ protos, g.T @ z
    return loss


def losses(q, k, bank, c):
    """name -> fn(backward) on these features, as bench_losses names its kernels."""
    match = np.arange(len(q)) % len(c)
    one_hot, targets = np.eye(len(c), dtype=np.float32)[match], soft_targets(q, c)
    return {"info_nce_bank": lambda b: info_nce_bank(q, k, bank, b),
            "prototype_contrast": lambda b: soft_ce(q, c, one_hot, b),
            "ot_target_loss": lambda b: soft_ce(q, c, targets, b)}


def jax_losses(q, k, bank, c):
    """The same losses in JAX, forward + backward by jax.value_and_grad, each jitted (the first call
    compiles). name -> fn() returning (loss, gradients)."""
    import jax
    import jax.numpy as jnp

    def info_nce(q, k, bank):
        pos = (q * k).sum(1) / TAU
        neg = q @ bank.T / TAU
        logits = jnp.concatenate([pos[:, None], neg], axis=1)
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - pos)

    def soft(z, protos, targets):
        logits = z @ protos.T / TAU
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - (targets * logits).sum(1))

    match = np.arange(len(q)) % len(c)
    one_hot, targets = np.eye(len(c), dtype=np.float32)[match], soft_targets(q, c)
    q, k, bank, c, one_hot, targets = (jnp.asarray(x) for x in (q, k, bank, c, one_hot, targets))
    nce = jax.jit(jax.value_and_grad(info_nce, argnums=(0, 1, 2)))
    proto = jax.jit(jax.value_and_grad(soft, argnums=(0, 1)))

    def ready(result):
        return jax.block_until_ready(result)

    return {"info_nce_bank": lambda: ready(nce(q, k, bank)),
            "prototype_contrast": lambda: ready(proto(q, c, one_hot)),
            "ot_target_loss": lambda: ready(proto(q, c, targets))}


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
    for name, fn in losses(unit(N, 1), unit(N, 2), unit(M, 3), unit(K, 4)).items():
        for arg, mode in ((0, "forward"), (1, "forward+backward")):
            mine = ours[f"BM_{name}/{arg}"]
            peer = time_us(lambda: fn(bool(arg)))
            print(f"{name + ' ' + mode:36s} {mine:11.0f} {peer:10.0f} {peer / mine:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
