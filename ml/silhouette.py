"""Silhouette scores of several labelings of the same points in one pass over the distance matrix.

Choosing k computes a silhouette per candidate k; the pairwise distances of the (sampled) points do not
depend on k, so they are computed once, block by block, and multiplied by a one-hot matrix holding every
labeling side by side. Same definition as `sklearn.metrics.silhouette_score` (Euclidean; a point alone
in its cluster scores 0), checked against it in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def silhouettes(X: np.ndarray, labelings: Mapping[int, np.ndarray], block: int = 1024) -> dict[int, float]:
    """Mean silhouette of each labeling of the rows of X.

    Takes points X (n, p) and {key: labels (n,)}; returns {key: mean silhouette} (NaN for a labeling with
    fewer than 2 clusters). Memory is O(block · n); time O(n² · (p + Σk)).
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    keys = list(labelings)
    codes, offsets, sizes = [], [], []
    off = 0
    for key in keys:
        _, inv = np.unique(np.asarray(labelings[key]), return_inverse=True)
        k = int(inv.max()) + 1 if n else 0
        codes.append(inv)
        offsets.append(off)
        sizes.append(np.bincount(inv, minlength=k).astype(np.float64))
        off += k
    onehot = np.zeros((n, off))
    for inv, o in zip(codes, offsets, strict=True):
        onehot[np.arange(n), o + inv] = 1.0
    sq = np.einsum("ij,ij->i", X, X)
    sums = np.empty((n, off))
    for s in range(0, n, block):
        e = min(n, s + block)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * (X[s:e] @ X.T)
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(e - s), np.arange(s, e)] = 0.0
        sums[s:e] = np.sqrt(d2) @ onehot
    out: dict[int, float] = {}
    for key, inv, o, size in zip(keys, codes, offsets, sizes, strict=True):
        k = len(size)
        if k < 2:
            out[key] = float("nan")
            continue
        block_sums = sums[:, o:o + k]
        own = size[inv]
        a = np.where(own > 1, block_sums[np.arange(n), inv] / np.maximum(own - 1, 1), 0.0)
        means = block_sums / size[None, :]
        means[np.arange(n), inv] = np.inf
        b = means.min(axis=1)
        denom = np.maximum(a, b)
        s_i = np.where((own > 1) & (denom > 0), (b - a) / np.where(denom > 0, denom, 1.0), 0.0)
        out[key] = float(s_i.mean())
    return out
