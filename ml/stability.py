"""Segment persistence across retrains: Hungarian matching of centroids and label retention.

* `match_clusters` pairs new centroids with old ones by minimum total Euclidean distance
  (`scipy.optimize.linear_sum_assignment`) in the *previous* model's standardised space; matched clusters
  inherit the old id (and, in `SegmentModel`, the old name while the naming rules of `ml.naming` still
  give it); extra new clusters get fresh ids.
* `label_retention` is the share of customers whose segment id is unchanged between two labelings.

Names come from the clusters' profiles in raw units (`ml.naming`), not from centroid z-scores: an earlier
z-score scheme here ("mid value", "low value browsing", ...) described the clusters relative to an
average customer and called the new sign-ups "mid value" and the bargain hunters "low value browsing".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def match_clusters(
    old_centroids: np.ndarray,
    new_centroids: np.ndarray,
    old_ids: Sequence[int],
    sizes: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Persistent ids for new clusters by Hungarian matching to old centroids (same coordinate space).

    Takes old centroids (k_old, p) with their ids, new centroids (k_new, p) and optionally the new cluster
    sizes (used to order fresh ids). Returns (ids, distance): for each new centroid its cluster id and the
    distance to the old centroid it inherited (NaN for new ids). When k_new > k_old the unmatched new
    clusters get ids max(old_ids)+1, ... (largest first); when k_new < k_old some old ids retire.
    """
    old = np.asarray(old_centroids, dtype=float)
    new = np.asarray(new_centroids, dtype=float)
    old_ids = np.asarray(old_ids, dtype=np.int64)
    cost = np.sqrt(((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    ids = np.full(len(new), -1, dtype=np.int64)
    dist = np.full(len(new), np.nan)
    ids[rows] = old_ids[cols]
    dist[rows] = cost[rows, cols]
    rest = np.flatnonzero(ids < 0)
    if rest.size:
        size = np.zeros(len(new)) if sizes is None else np.asarray(sizes, dtype=float)
        rest = rest[np.lexsort((rest, -size[rest]))]
        ids[rest] = old_ids.max() + 1 + np.arange(rest.size)
    return ids, dist


def label_retention(old: pd.Series, new: pd.Series) -> float:
    """Share of customers (present in both, by index = customer_id) whose label is unchanged.

    Takes two Series of labels indexed by customer id (e.g. yesterday's `cluster_id` and today's after a
    retrain); returns a float in [0, 1] (NaN when no customer is in both).
    """
    both = old.index.intersection(new.index)
    if len(both) == 0:
        return float("nan")
    a = old.loc[both].to_numpy()
    b = new.loc[both].to_numpy()
    return float(np.mean(a == b))
