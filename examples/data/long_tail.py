"""Long-tailed subsampling shared by the pair builders in this folder."""
import numpy as np


def subsample(labels, rng, per_class, imbalance):
    """Indices kept: per_class (0: all) images of each class 0..9, then, for imbalance R > 1, the
    class of rank r (a random order drawn from rng) keeps ceil(R^(-r/9) * count) of them."""
    order = rng.permutation(10)  # order[c] = rank of class c in this domain's tail
    keep = []
    for c in range(10):
        members = np.flatnonzero(labels == c)
        count = min(per_class or len(members), len(members))
        if imbalance > 1:
            count = int(np.ceil(imbalance ** (-order[c] / 9) * count))
        keep.extend(rng.choice(members, count, replace=False))
    return np.sort(np.array(keep))
