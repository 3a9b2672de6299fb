"""References for tests/test_domain_adaptation.cpp (raw float64 files in DIR).

  domain_adaptation_reference.py coral DIR ns nt d reg
      reads DIR/Xs.bin (ns x d), DIR/Xt.bin (nt x d); writes DIR/coral.bin, the CORAL transform
      of Xs. POT 0.8.2 has no CORAL class, so this is the same formula with independent matrix
      functions: SciPy's Schur-based sqrtm and a dense inverse, not an eigen-decomposition.
  domain_adaptation_reference.py sinkhorn DIR ns nt d eps
      writes DIR/plan.bin, DIR/source_mapped.bin (transform(Xs)) and DIR/target_mapped.bin
      (inverse_transform(Xt)) of POT 0.8.2 ot.da.SinkhornTransport(reg_e=eps, norm="max").
"""
import sys
import warnings

import numpy as np
import ot
import scipy.linalg


def coral(directory, ns, nt, d, reg):
    Xs = np.fromfile(f"{directory}/Xs.bin").reshape(ns, d)
    Xt = np.fromfile(f"{directory}/Xt.bin").reshape(nt, d)
    Cs = np.cov(Xs, rowvar=False) + reg * np.eye(d)
    Ct = np.cov(Xt, rowvar=False) + reg * np.eye(d)
    linear = np.linalg.inv(np.real(scipy.linalg.sqrtm(Cs))) @ np.real(scipy.linalg.sqrtm(Ct))
    offset = Xt.mean(axis=0) - Xs.mean(axis=0) @ linear
    (Xs @ linear + offset).tofile(f"{directory}/coral.bin")


def sinkhorn(directory, ns, nt, d, eps):
    Xs = np.fromfile(f"{directory}/Xs.bin").reshape(ns, d)
    Xt = np.fromfile(f"{directory}/Xt.bin").reshape(nt, d)
    warnings.simplefilter("error")  # a reference that did not converge must fail the test
    transport = ot.da.SinkhornTransport(reg_e=eps, norm="max", max_iter=200000, tol=1e-14)
    transport.fit(Xs=Xs, Xt=Xt)
    transport.coupling_.tofile(f"{directory}/plan.bin")
    transport.transform(Xs=Xs).tofile(f"{directory}/source_mapped.bin")
    transport.inverse_transform(Xt=Xt).tofile(f"{directory}/target_mapped.bin")


if __name__ == "__main__":
    task = {"coral": coral, "sinkhorn": sinkhorn}[sys.argv[1]]
    task(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
