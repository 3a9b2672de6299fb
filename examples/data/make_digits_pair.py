"""The digits pair: two imbalanced domains from the 8x8 handwritten digits of scikit-learn.

usage: /usr/bin/python3 examples/data/make_digits_pair.py OUT_DIR [--seed N] [--imbalance R]

Reads sklearn/datasets/data/digits.csv.gz (Debian python3-sklearn; 1797 images, pixel values
0..16, label in the last column) with NumPy only, then:
  1. shuffles the images (seed) and splits them in two disjoint halves: no image is in both domains;
  2. domain A = the first half as it is; domain B = the second half re-rendered with a bold pen:
     each pixel becomes the maximum of the 3x3 window of rows i..i+2 and columns j..j+2 (zero
     padding at the bottom/right), i.e. strokes grow 2 pixels thicker towards the top-left;
  3. subsamples each domain's classes with a long tail: the class of rank r (a random order per
     domain, so the two tails differ) keeps ceil(R^(-r/9) * its count) images (R = 8 by default);
  4. writes features = pixels / 16 as float32 (n x 64) and labels as int64 (n,):
     OUT_DIR/digits_a.npy, digits_b.npy, digits_labels_a.npy, digits_labels_b.npy.
"""
import argparse
import os

import numpy as np

from long_tail import subsample

SOURCE = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def bold(images, size=3):
    padded = np.pad(images, ((0, 0), (0, size - 1), (0, size - 1)))
    return np.max([padded[:, i:i + 8, j:j + 8] for i in range(size) for j in range(size)], axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--imbalance", type=float, default=8.0)
    args = parser.parse_args()
    data = np.loadtxt(SOURCE, delimiter=",")
    images, labels = data[:, :64].reshape(-1, 8, 8) / 16.0, data[:, 64].astype(np.int64)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(labels))
    half = len(labels) // 2
    domains = {"a": (images[perm[:half]], labels[perm[:half]]),
               "b": (bold(images[perm[half:]]), labels[perm[half:]])}
    os.makedirs(args.out, exist_ok=True)
    for name, (x, y) in domains.items():
        keep = subsample(y, rng, 0, args.imbalance)
        np.save(os.path.join(args.out, f"digits_{name}.npy"), x[keep].reshape(len(keep), 64).astype(np.float32))
        np.save(os.path.join(args.out, f"digits_labels_{name}.npy"), y[keep])
        print(f"domain {name.upper()}: {len(keep)} images, per class {np.bincount(y[keep], minlength=10).tolist()}")


if __name__ == "__main__":
    main()
