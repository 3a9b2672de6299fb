"""A real cross-collection pair: handwritten digits from two independently collected data sets.

usage: /usr/bin/python3 examples/data/make_collections_pair.py OUT_DIR [--seed N] [--imbalance R]
                                                                [--per-class N]

Domain A: OpenCV's sample digits (Debian opencv-doc, /usr/share/doc/opencv-doc/examples/data/
digits.png: 5000 grey-level 20x20 digits, 500 per class, in rows of 100 with 5 rows per class,
labels 0..9 in that order). Domain B: scikit-learn's digits (Debian python3-sklearn,
sklearn/datasets/data/digits.csv.gz: 1797 UCI optdigits images, 32x32 binary bitmaps counted
in 4x4 blocks, so 8x8 with values 0..16). Different writers, scanners and preprocessing.
Construction:
  1. A: each 20x20 image is area-averaged to 8x8 (each output pixel is the mean of the 2.5 x 2.5
     input pixels it covers) and divided by 255; B: pixels / 16. Both are 64-d features in [0, 1].
  2. --per-class N (default: all) keeps N random images per class in each domain.
  3. --imbalance R > 1 subsamples each domain's classes to a long tail: the class of rank r (a
     random order per domain, so the two tails differ) keeps ceil(R^(-r/9) * its count) images.
  4. Writes float32 features (n x 64) and int64 labels (n,): OUT_DIR/collections_a.npy,
     collections_b.npy, collections_labels_a.npy, collections_labels_b.npy.
Needs NumPy and Pillow (python3-pil) to decode the PNG.
"""
import argparse
import gzip
import os

import numpy as np

from long_tail import subsample

OPENCV_DIGITS = "/usr/share/doc/opencv-doc/examples/data/digits.png"
SKLEARN_DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def area_matrix(n_in, n_out):
    """R (n_out x n_in): output pixel i = mean of the input interval [i, i+1) * n_in / n_out."""
    r = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for i in range(n_out):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), int(np.ceil(hi))):
            r[i, j] = (min(hi, j + 1) - max(lo, j)) / scale
    return r


def opencv_digits():
    from PIL import Image
    sheet = np.asarray(Image.open(OPENCV_DIGITS).convert("L"), dtype=np.float64)  # 1000 x 2000
    cells = sheet.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    labels = np.repeat(np.arange(10), 500)
    r = area_matrix(20, 8)
    return (r @ cells @ r.T).reshape(5000, 64) / 255.0, labels


def sklearn_digits():
    with gzip.open(SKLEARN_DIGITS) as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :64] / 16.0, data[:, 64].astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--imbalance", type=float, default=1.0)
    parser.add_argument("--per-class", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for name, (x, y) in (("a", opencv_digits()), ("b", sklearn_digits())):
        keep = subsample(y, rng, args.per_class, args.imbalance)
        np.save(os.path.join(args.out, f"collections_{name}.npy"), x[keep].astype(np.float32))
        np.save(os.path.join(args.out, f"collections_labels_{name}.npy"), y[keep].astype(np.int64))
        print(f"domain {name.upper()}: {len(keep)} images, per class {np.bincount(y[keep], minlength=10).tolist()}")


if __name__ == "__main__":
    main()
