"""Independent K-means references for tests/test_kmeans.cpp (raw float64 files in DIR).

  lloyd DIR n d k iterations spherical   NumPy Lloyd from DIR/C0.bin with per-point weights
                                         DIR/w.bin, re-seeding empty clusters with the farthest
                                         points -> DIR/labels.bin, DIR/centroids.bin
  peers DIR n d k n_init iterations      scikit-learn 1.2.1 and faiss 1.7.3 inertia
                                         -> DIR/inertia.bin = [sklearn, faiss]
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/faiss load: tiny problems, busy CI machine
import numpy as np  # noqa: E402


def read(directory, name, shape):
    return np.fromfile(f"{directory}/{name}", dtype=np.float64).reshape(shape)


def assign(X, C, spherical):
    if spherical:
        S = X @ C.T
        labels = S.argmax(axis=1)
        return labels, 1.0 - S[np.arange(len(X)), labels]
    D = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    labels = D.argmin(axis=1)
    return labels, D[np.arange(len(X)), labels]


def lloyd(directory, n, d, k, iterations, spherical):
    X = read(directory, "X.bin", (n, d))
    w = read(directory, "w.bin", (n,))
    C = read(directory, "C0.bin", (k, d))
    if spherical:
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        C = C / np.linalg.norm(C, axis=1, keepdims=True)
    previous = None
    for _ in range(iterations):
        labels, dist = assign(X, C, spherical)
        sums = np.zeros((k, d))
        mass = np.zeros(k)
        np.add.at(sums, labels, w[:, None] * X)
        np.add.at(mass, labels, w)
        empty = np.flatnonzero(mass <= 0)
        for cluster, i in zip(empty, np.argsort(-dist, kind="stable")[: len(empty)]):
            sums[labels[i]] -= w[i] * X[i]
            mass[labels[i]] -= w[i]
            sums[cluster], mass[cluster] = w[i] * X[i], w[i]
            labels[i], dist[i] = cluster, 0.0
        new = C.copy()
        for j in np.flatnonzero(mass > 0):
            mean = sums[j] / mass[j]
            new[j] = mean / np.linalg.norm(mean) if spherical else mean
        shift = ((new - C) ** 2).sum()
        C = new
        if (previous is not None and (labels == previous).all()) or shift <= 0:
            break
        previous = labels
    labels, _ = assign(X, C, spherical)
    labels.astype(np.float64).tofile(f"{directory}/labels.bin")
    C.tofile(f"{directory}/centroids.bin")


def peers(directory, n, d, k, n_init, iterations):
    import faiss
    from sklearn.cluster import KMeans

    X = read(directory, "X.bin", (n, d))
    sk = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=iterations, tol=1e-4,
                algorithm="lloyd", random_state=0).fit(X)
    fk = faiss.Kmeans(d, k, niter=iterations, nredo=n_init, seed=1234, max_points_per_centroid=n)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    fk.train(X32)
    _, labels = fk.index.search(X32, 1)
    faiss_inertia = ((X - fk.centroids.astype(np.float64)[labels[:, 0]]) ** 2).sum()
    np.array([sk.inertia_, faiss_inertia]).tofile(f"{directory}/inertia.bin")


if __name__ == "__main__":
    mode, directory, *numbers = sys.argv[1:]
    numbers = [int(v) for v in numbers]
    {"lloyd": lloyd, "peers": peers}[mode](directory, *numbers)
