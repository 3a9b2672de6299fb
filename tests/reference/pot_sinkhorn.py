"""POT 0.8.2 reference plans for tests/test_sinkhorn.cpp (raw float64 files in DIR).

  pot_sinkhorn.py DIR n m eps rho

reads DIR/C.bin (n x m), DIR/a.bin, DIR/b.bin and writes, each run to convergence:
  DIR/knopp.bin       ot.sinkhorn(a, b, C, eps)                          (scaling form)
  DIR/log.bin         ot.sinkhorn(a, b, C, eps, method='sinkhorn_log')   (skipped when n * m > 1e5:
                                                                          POT's log form is slow)
  DIR/unbalanced.bin  ot.unbalanced.sinkhorn_unbalanced(a, b, C, eps, rho)
  DIR/semi.bin        semi-relaxed (hard rows, KL(rho) columns): POT has none, so a NumPy loop of
                      the same fixed point, u = a / K v, v = (b / K^T u)^(rho / (rho + eps))
"""
import sys
import warnings

import numpy as np
import ot


def main(directory, n, m, eps, rho):
    C = np.fromfile(f"{directory}/C.bin").reshape(n, m)
    a = np.fromfile(f"{directory}/a.bin")
    b = np.fromfile(f"{directory}/b.bin")
    warnings.simplefilter("error")  # a reference that did not converge must fail the test
    ot.sinkhorn(a, b, C, eps, numItermax=200000, stopThr=1e-14).tofile(f"{directory}/knopp.bin")
    if n * m <= 100000:
        ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", numItermax=200000,
                    stopThr=1e-14).tofile(f"{directory}/log.bin")
    ot.unbalanced.sinkhorn_unbalanced(a, b, C, eps, rho, numItermax=200000,
                                      stopThr=1e-15).tofile(f"{directory}/unbalanced.bin")
    K = np.exp(-C / eps)
    v = np.ones(m)
    for _ in range(200000):
        u = a / (K @ v)
        v_next = (b / (K.T @ u)) ** (rho / (rho + eps))
        if np.max(np.abs(v_next - v)) <= 1e-14 * np.max(np.abs(v)):
            break
        v = v_next
    else:
        raise RuntimeError("semi-relaxed reference did not converge")
    (u[:, None] * K * v[None, :]).tofile(f"{directory}/semi.bin")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
