"""examples/data/diagnose_pair.py --features: the cross-domain tie measurements of docs/results.md."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "data" / "diagnose_pair.py"


def write_pair(folder, features_a, features_b, labels_a, labels_b):
    """A pair PREFIX (raw features = the given ones) and a run folder holding them as features."""
    prefix = folder / "pair"
    for side, x, y in (("a", features_a, labels_a), ("b", features_b, labels_b)):
        np.save(f"{prefix}_{side}.npy", x)
        np.save(f"{prefix}_labels_{side}.npy", y)
        np.save(folder / f"features_{side}.npy", x)
    return prefix


def ties(prefix, folder):
    out = subprocess.run([sys.executable, str(SCRIPT), str(prefix), "--features", str(folder)],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"right A->B ([\d.]+)\s+B->A ([\d.]+).*mutual nearest neighbours (\d+), precision ([\d.]+)", out)
    assert m, out
    fine = re.search(r"cluster purity A ([\d.]+)\s+B ([\d.]+);\s+with 3K = \d+ prototypes.*right A->B ([\d.]+)\s+B->A ([\d.]+)", out)
    assert fine, out
    # right A->B, B->A; mutual neighbours, their precision; purity A, B and right A->B, B->A with 3K
    return float(m.group(1)), float(m.group(2)), int(m.group(3)), float(m.group(4)), tuple(float(g) for g in fine.groups())


def test_aligned_domains_have_right_ties_and_swapped_classes_do_not(tmp_path):
    rng = np.random.default_rng(4)
    k, d = 4, 16
    centres = np.eye(k, d) * 5
    la, lb = rng.integers(0, k, 200), rng.integers(0, k, 150)
    a = centres[la] + rng.normal(size=(200, d))
    b = centres[lb] + rng.normal(size=(150, d))
    right_ab, right_ba, mutual, precision, fine = ties(write_pair(tmp_path, a, b, la, lb), tmp_path)
    assert right_ab == right_ba == 1.0
    assert mutual > 0 and precision == 1.0
    assert fine == (1.0, 1.0, 1.0, 1.0)  # finer clusters of separated classes are pure too
    # B's classes 0 and 1 drawn at each other's centre: every tie of those samples is wrong.
    swapped = np.where(lb < 2, 1 - lb, lb)
    right_ab, right_ba, _, precision, _ = ties(write_pair(tmp_path, a, b, la, swapped), tmp_path)
    assert right_ab < 0.75 and right_ba < 0.75 and precision < 0.75
