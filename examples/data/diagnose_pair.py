#!/usr/bin/env python3
"""How much cross-domain signal a labelled pair offers in its raw features (docs/results.md).

Prints, in raw and per-domain centred features (cosine): cross-domain 1-nearest-neighbour label
accuracy in both directions, the within-domain 1-NN accuracy of A, and how many classes an
oracle matching of the true class centroids (Hungarian, cosine cost) gets right. With
--image-shape HxW it also prints the cross-domain 1-NN accuracy after cropping every image to
its ink bounding box and stretching it back to H x W: a large gain says the domains differ in
geometry (size, aspect), which image views can teach the head to ignore.

Last, per domain, how well K-means (K = number of classes, centred features, 3 seeds) recovers
the class proportions that ProtoOT uses as the prototype marginal: the largest-to-smallest ratio
of classes and of clusters, and total-variation distances between the sorted proportion profiles
of classes, clusters and the uniform marginal. When the clusters are as close to uniform as to
the classes, K-means marginals and uniform marginals give nearly the same OT plans.

With --features DIR the same runs on the features that protoot-retrieve wrote to DIR
(features_a.npy, features_b.npy; labels from PREFIX), plus how often the cross-domain ties the
trainer uses are right: each sample's nearest prototype of the other domain (spherical K-means,
K = number of classes) counts as right when that cluster's majority class is the sample's
class (chance about 1/K), the same with 3K prototypes (the trainer's cross-domain ties) and
with those ties voted over each sample and its 5 nearest in-domain neighbours (as the trainer
averages its targets), the clusters' purity, and the precision of cross-domain mutual nearest
neighbours.

  /usr/bin/python3 examples/data/diagnose_pair.py out/pairs/collections/collections --image-shape 8x8
"""
import argparse

import numpy as np
from scipy.ndimage import zoom
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans


def unit_rows(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cross_nn(a, b, la, lb):
    s = unit_rows(a) @ unit_rows(b).T
    return (lb[s.argmax(1)] == la).mean(), (la[s.argmax(0)] == lb).mean()


def bounding_box_images(x, h, w, threshold=0.1):
    out = np.empty_like(x)
    for i, row in enumerate(x):
        image = row.reshape(h, w)
        ink = image > threshold * image.max()
        r, c = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        crop = image[r[0]:r[-1] + 1, c[0]:c[-1] + 1]
        out[i] = zoom(crop, (h / crop.shape[0], w / crop.shape[1]), order=1)[:h, :w].ravel()
    return out


def voted_ties(u, ties, neighbours):
    """Each sample's tie voted over itself and its `neighbours` nearest rows of its own domain
    (cosine), its own tie winning a draw: the hard counterpart of the trainer's cross-domain
    targets, which average the plan rows over the same neighbours."""
    s = u @ u.T
    np.fill_diagonal(s, -np.inf)
    nearest = np.argpartition(-s, neighbours, axis=1)[:, :neighbours]
    votes = np.zeros((len(u), ties.max() + 1))
    rows = np.arange(len(u))
    votes[rows, ties] += 1.01
    for q in range(neighbours):
        votes[rows, ties[nearest[:, q]]] += 1
    return votes.argmax(1)


def tie_accuracy(ua, ub, la, lb, k, neighbours=0):
    """Share of each domain's samples whose nearest prototype of the other domain (K-means with k
    clusters on unit rows) is a cluster of their own class, both directions (with `neighbours`,
    also after voted_ties); and the clusters' purity (share of each domain's samples in their
    cluster's majority class)."""
    fits = [KMeans(k, n_init=10, random_state=0).fit(u) for u in (ua, ub)]
    majority = [np.array([np.bincount(y[f.labels_ == j]).argmax() if (f.labels_ == j).any() else -1 for j in range(k)])
                for f, y in zip(fits, (la, lb))]
    ties = [(u @ unit_rows(fits[1 - t].cluster_centers_).T).argmax(1) for t, u in enumerate((ua, ub))]
    right = [(majority[1 - t][ties[t]] == y).mean() for t, y in enumerate((la, lb))]
    voted = [(majority[1 - t][voted_ties(u, ties[t], neighbours)] == y).mean()
             for t, (u, y) in enumerate(((ua, la), (ub, lb)))] if neighbours else None
    purity = [(m[f.labels_] == y).mean() for m, f, y in zip(majority, fits, (la, lb))]
    return right, purity, voted


def print_cross_ties(a, b, la, lb):
    k = len(np.unique(np.concatenate([la, lb])))
    ua, ub = unit_rows(a), unit_rows(b)
    right, purity, _ = tie_accuracy(ua, ub, la, lb, k)
    s = ua @ ub.T
    ab, ba = s.argmax(1), s.argmax(0)
    mutual = np.flatnonzero(ba[ab] == np.arange(len(ua)))
    print(f"cross-domain ties: nearest other-domain prototype right A->B {right[0]:.2f}  B->A {right[1]:.2f} "
          f"(chance ~{1 / k:.2f});  mutual nearest neighbours {len(mutual)}, precision "
          f"{(la[mutual] == lb[ab[mutual]]).mean():.2f}")
    fine_right, fine_purity, voted = tie_accuracy(ua, ub, la, lb, 3 * k, neighbours=5)
    print(f"  cluster purity A {purity[0]:.2f}  B {purity[1]:.2f};  with 3K = {3 * k} prototypes (the trainer's "
          f"cross-domain ties): right A->B {fine_right[0]:.2f}  B->A {fine_right[1]:.2f}, purity A {fine_purity[0]:.2f}  "
          f"B {fine_purity[1]:.2f}")
    print(f"  3K ties voted over each sample and its 5 nearest in-domain neighbours (as the trainer's targets): "
          f"right A->B {voted[0]:.2f}  B->A {voted[1]:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("prefix", help="PREFIX of PREFIX_a.npy, PREFIX_b.npy, PREFIX_labels_a.npy, PREFIX_labels_b.npy")
    p.add_argument("--image-shape", help="HxW, when the features are single-channel images")
    p.add_argument("--features", metavar="DIR", help="diagnose DIR/features_{a,b}.npy instead of the raw features")
    args = p.parse_args()
    source = f"{args.features}/features_" if args.features else f"{args.prefix}_"
    a, b = (np.load(f"{source}{s}.npy").astype(np.float64) for s in "ab")
    la, lb = (np.load(f"{args.prefix}_labels_{s}.npy") for s in "ab")
    if args.features:
        print_cross_ties(a, b, la, lb)
        args.image_shape = None  # learned features are not images
    classes = np.intersect1d(la, lb)
    for name, (xa, xb) in {"raw": (a, b), "centred": (a - a.mean(0), b - b.mean(0))}.items():
        s_aa = unit_rows(xa) @ unit_rows(xa).T
        np.fill_diagonal(s_aa, -np.inf)
        ca = unit_rows(np.stack([xa[la == c].mean(0) for c in classes]))
        cb = unit_rows(np.stack([xb[lb == c].mean(0) for c in classes]))
        _, match = linear_sum_assignment(1 - ca @ cb.T)
        print(f"{name:8s} cross 1-NN A->B {cross_nn(xa, xb, la, lb)[0]:.2f}  B->A {cross_nn(xa, xb, la, lb)[1]:.2f}  "
              f"within-A 1-NN {(la[s_aa.argmax(1)] == la).mean():.2f}  "
              f"oracle centroid matching {(match == np.arange(len(classes))).sum()}/{len(classes)} classes")
    if args.image_shape:
        h, w = (int(v) for v in args.image_shape.split("x"))
        ab, bb = bounding_box_images(a, h, w), bounding_box_images(b, h, w)
        print("bounding-box images: cross 1-NN A->B %.2f  B->A %.2f" % cross_nn(ab, bb, la, lb))
    for side, x, y in (("A", a, la), ("B", b, lb)):
        k = len(np.unique(y))
        classes_profile = np.sort(np.bincount(y) / len(y))[::-1]
        clusters_profile = np.mean([np.sort(np.bincount(KMeans(k, n_init=3, random_state=seed).fit(x - x.mean(0)).labels_,
                                                        minlength=k) / len(y))[::-1] for seed in range(3)], axis=0)
        uniform = np.full(k, 1 / k)
        tv = lambda p, q: 0.5 * np.abs(p - q).sum()
        print(f"{side}: largest/smallest classes {classes_profile[0] / classes_profile[-1]:.1f}, K-means clusters "
              f"{clusters_profile[0] / clusters_profile[-1]:.1f};  TV(classes, uniform) {tv(classes_profile, uniform):.2f}  "
              f"TV(clusters, uniform) {tv(clusters_profile, uniform):.2f}  TV(clusters, classes) "
              f"{tv(clusters_profile, classes_profile):.2f}")


if __name__ == "__main__":
    main()
