"""POT 0.8.2 reference for tests/test_costs.cpp (raw float64 files in DIR).

  pot_dist.py DIR n m d eps

reads DIR/X.bin (n x d), DIR/Y.bin (m x d) and writes
  DIR/sqeuclidean.bin  ot.dist(X, Y)                    (n x m, metric "sqeuclidean")
  DIR/cosine.bin       ot.dist(X, Y, metric="cosine")   (n x m)
  DIR/sinkhorn2.bin    ot.sinkhorn2(1/n, 1/m, ot.dist(X, Y), eps), run to convergence (1 value)
"""
import sys
import warnings

import numpy as np
import ot


def main(directory, n, m, d, eps):
    X = np.fromfile(f"{directory}/X.bin").reshape(n, d)
    Y = np.fromfile(f"{directory}/Y.bin").reshape(m, d)
    C = ot.dist(X, Y)
    C.tofile(f"{directory}/sqeuclidean.bin")
    ot.dist(X, Y, metric="cosine").tofile(f"{directory}/cosine.bin")
    warnings.simplefilter("error")  # a reference that did not converge must fail the test
    loss = ot.sinkhorn2(np.full(n, 1 / n), np.full(m, 1 / m), C, eps, numItermax=200000, stopThr=1e-14)
    np.array([float(loss)]).tofile(f"{directory}/sinkhorn2.bin")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
