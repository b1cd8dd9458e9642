"""Segment persistence across retrains: Hungarian matching of centroids, profile-derived names, retention.

* `match_clusters` pairs new centroids with old ones by minimum total Euclidean distance
  (`scipy.optimize.linear_sum_assignment`) in the *previous* model's standardised space; matched clusters
  inherit the old id (and, in `SegmentModel`, the old name); extra new clusters get fresh ids.
* `name_segments` derives a readable name from each centroid's z-profile, deterministically (rules below).
* `label_retention` is the share of customers whose segment id is unchanged between two labelings.

Naming rules (centroid z-scores in standardised log1p units; feature roles found from column names,
see `FEATURE_ROLES`):
  base   = "dormant"     if recency z >= +0.75 (long since the last purchase)
           "high value"  elif mean z of frequency & monetary >= +0.5
           "low value"   elif that mean <= -0.5
           "mid value"   otherwise
  trait  = the role with the largest |z| >= 0.5 among frequency, engagement, service, response and
           (for non-dormant segments) recency, phrased by sign, e.g. "frequent", "browsing", "service heavy",
           "campaign responsive", "recent" / "quiet", "low service", "unresponsive", "lapsing".
  name   = base + " " + trait (or just base); duplicates get the next-strongest trait, then " 2", " 3" ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

#: role → substrings that identify a feature column of that role (first match wins, in this order)
FEATURE_ROLES: dict[str, tuple[str, ...]] = {
    "recency": ("recency", "days_since"),
    "frequency": ("frequency", "orders", "order_count", "purchases"),
    "monetary": ("monetary", "revenue", "spend", "amount", "value"),
    "service": ("ticket", "service", "complaint"),
    "response": ("response", "click", "open", "campaign", "conversion"),
    "engagement": ("visit", "like", "cart", "search", "view", "event", "session", "share"),
}

_TRAIT_WORDS = {
    "frequency": ("frequent", "infrequent"),
    "engagement": ("browsing", "quiet"),
    "service": ("service heavy", "low service"),
    "response": ("campaign responsive", "unresponsive"),
    "recency": ("lapsing", "recent"),  # + z means more days since the last purchase
}


def feature_roles(columns: Sequence[str]) -> dict[str, list[str]]:
    """Map each role in `FEATURE_ROLES` to the columns (by case-insensitive substring) that play it."""
    roles: dict[str, list[str]] = {r: [] for r in FEATURE_ROLES}
    for col in columns:
        low = col.lower()
        for role, keys in FEATURE_ROLES.items():
            if any(k in low for k in keys):
                roles[role].append(col)
                break
    return roles


def name_segments(
    centroids_z: pd.DataFrame,
    ids: Sequence[int] | None = None,
    taken: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """Readable, unique names for centroids (rows of `centroids_z`, columns = features, z units).

    `ids` are the cluster ids of the rows (default 0..k-1); `taken` maps existing ids to names that must
    not be reused by other ids. Returns {cluster_id: name}; deterministic for the same input.
    """
    ids = list(range(len(centroids_z))) if ids is None else [int(i) for i in ids]
    roles = feature_roles(list(centroids_z.columns))

    def role_z(role: str) -> np.ndarray:
        cols = roles[role]
        return centroids_z[cols].to_numpy().mean(axis=1) if cols else np.zeros(len(centroids_z))

    z = {r: role_z(r) for r in FEATURE_ROLES}
    value_roles = [z[r] for r in ("frequency", "monetary") if roles[r]]
    value = np.mean(value_roles, axis=0) if value_roles else np.zeros(len(ids))
    candidates: list[list[str]] = []
    for j in range(len(ids)):
        dormant = z["recency"][j] >= 0.75
        base = ("dormant" if dormant else "high value" if value[j] >= 0.5 else "low value" if value[j] <= -0.5 else "mid value")
        traits = []
        for role, (pos, neg) in _TRAIT_WORDS.items():
            if not roles[role] or (role == "recency" and dormant):
                continue
            v = z[role][j]
            if abs(v) >= 0.5:
                traits.append((-abs(v), role, pos if v > 0 else neg))
        traits.sort()
        options = [base] if not traits else [f"{base} {traits[0][2]}"]
        if len(traits) > 1:
            options.append(f"{base} {traits[0][2]} {traits[1][2]}")
        candidates.append(options)

    used = set((taken or {}).values())
    out: dict[int, str] = {}
    # assign in id order, so the same centroids always give the same names
    for j in np.argsort(ids, kind="stable"):
        opts = candidates[j]
        name = next((o for o in opts if o not in used), None)
        if name is None:
            n = 2
            while f"{opts[0]} {n}" in used:
                n += 1
            name = f"{opts[0]} {n}"
        used.add(name)
        out[ids[j]] = name
    return out


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
