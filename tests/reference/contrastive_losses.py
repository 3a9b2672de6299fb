"""NumPy reference for tests/test_losses.cpp: the contrastive kernels' loss values.

Usage: contrastive_losses.py DIR n m K d k tau
Reads DIR/{q,kpos,v,excl,c,match,w,bank}.f64 (raw float64, row-major) and writes DIR/out.f64:
[info_nce, info_nce_two_views, prototype_contrast, prototype_contrast_soft, neighbour_contrast,
 ot_target_loss] followed by the n x k neighbour indices.
"""
import sys

import numpy as np


def lse(x, axis=1):
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def info_nce(q, kpos, v, excl, tau):
    pos = (q * kpos).sum(1) / tau
    neg = q @ v.T / tau
    for i, j in enumerate(excl):
        if j >= 0:
            neg[i, j] = -np.inf
    return np.mean(lse(np.concatenate([pos[:, None], neg], 1)) - pos)


def soft_ce(z, c, w, tau):
    logits = z @ c.T / tau
    logp = logits - lse(logits)[:, None]
    return np.mean(-(w * logp).sum(1))


def main():
    d = sys.argv[1]
    n, m, kk, dim, k = (int(a) for a in sys.argv[2:7])
    tau = float(sys.argv[7])
    rd = lambda name, *shape: np.fromfile(f"{d}/{name}.f64").reshape(shape)
    q, kpos, v = rd("q", n, dim), rd("kpos", n, dim), rd("v", m, dim)
    excl = rd("excl", n).astype(int)
    c, match, w, bank = rd("c", kk, dim), rd("match", n).astype(int), rd("w", n, kk), rd("bank", m, dim)

    two_views = info_nce(q, kpos, kpos, np.arange(n), tau)
    hard = np.mean(lse(q @ c.T / tau) - (q * c[match]).sum(1) / tau)
    plan = w * 0.37  # any positive scale: the loss renormalises rows
    # neighbours by cosine, excluding excl[i], most similar first, ties -> lower index
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    bn = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    sim = qn @ bn.T
    nbrs = np.zeros((n, k), dtype=int)
    targets = np.zeros((n, m))
    for i in range(n):
        order = [j for j in np.lexsort((np.arange(m), -sim[i])) if j != excl[i]]
        nbrs[i] = order[:k]
        targets[i, nbrs[i]] = 1.0 / k
    out = [info_nce(q, kpos, v, excl, tau), two_views, hard, soft_ce(q, c, w, tau),
           soft_ce(q, bank, targets, tau), soft_ce(q, c, plan / plan.sum(1, keepdims=True), tau)]
    np.concatenate([np.array(out), nbrs.ravel().astype(float)]).tofile(f"{d}/out.f64")


if __name__ == "__main__":
    main()
