"""Explain clusters with an entropy decision tree (ID3-style) and export its rules as readable text.

The tree predicts the cluster id from the *unscaled* features (thresholds in days, counts, money),
`criterion="entropy"`, depth <= 4. It is trained on a stratified 75 % of the customers (at most
`max_train` of them, for speed) and its **fidelity** is its accuracy on the other, held-out customers.

Rules: one row per leaf; the path's conditions are simplified per feature (the tightest lower and upper
bound), e.g. `recency_days <= 45.5 AND frequency > 3`. `support` is the leaf's share of the training
customers, `purity` the share of them in the leaf's cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from .threads import one_thread
from .validation import customer_frame

RULE_COLUMNS = ["cluster_id", "segment_name", "rule_id", "rule", "n_customers", "support", "purity"]


@dataclass(frozen=True)
class SegmentExplanation:
    """Result of `explain_segments`: rules (frame, `RULE_COLUMNS`), fidelity (held-out accuracy),
    n_train / n_test (customers used) and the fitted tree."""

    rules: pd.DataFrame
    fidelity: float
    n_train: int
    n_test: int
    tree: DecisionTreeClassifier


def format_threshold(value: float) -> str:
    """A threshold as short text: 2 decimals (trailing zeros dropped), 4 significant digits below 1."""
    v = float(value)
    text = f"{v:.4g}" if 0 < abs(v) < 1 else f"{v:.2f}"
    if "e" in text:
        text = f"{v:.6f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def tree_rules(tree: DecisionTreeClassifier, feature_names: Sequence[str]) -> pd.DataFrame:
    """One row per leaf of a fitted classifier tree: class, rule text, n_samples, support, purity.

    Returns columns: leaf (node id), cluster_id (the leaf's majority class), rule, n_customers (training
    samples in the leaf), support (n_customers / training samples), purity (majority-class share).
    Leaves are listed left to right (the tree's own order).
    """
    t = tree.tree_
    total = t.n_node_samples[0]
    rows = []

    def walk(node: int, bounds: dict[int, list[float]]):
        if t.children_left[node] == -1:
            frac = t.value[node][0]
            frac = frac / frac.sum()
            k = int(np.argmax(frac))
            parts = []
            for f in sorted(bounds):
                lo, hi = bounds[f]
                name = feature_names[f]
                if lo > -np.inf:
                    parts.append(f"{name} > {format_threshold(lo)}")
                if hi < np.inf:
                    parts.append(f"{name} <= {format_threshold(hi)}")
            rows.append((node, tree.classes_[k], " AND ".join(parts) if parts else "all customers",
                         int(t.n_node_samples[node]), t.n_node_samples[node] / total, float(frac[k])))
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        lo, hi = bounds.get(f, [-np.inf, np.inf])
        walk(t.children_left[node], {**bounds, f: [lo, min(hi, thr)]})
        walk(t.children_right[node], {**bounds, f: [max(lo, thr), hi]})

    walk(0, {})
    return pd.DataFrame(rows, columns=["leaf", "cluster_id", "rule", "n_customers", "support", "purity"])


def explain_segments(
    features: pd.DataFrame,
    labels: Sequence[int] | pd.Series,
    segment_names: Mapping[int, str] | None = None,
    max_depth: int = 4,
    min_samples_leaf: float = 0.005,
    test_size: float = 0.25,
    max_train: int = 200_000,
    random_state: int = 0,
) -> SegmentExplanation:
    """Fit the explanation tree and export its rules.

    Takes the (unscaled) feature frame (customer_id index or column, numeric columns; NaN allowed), the
    cluster id per row (same order), optional {cluster_id: name}, tree depth (<= 4 keeps rules readable),
    minimum leaf size (fraction of training rows), held-out share, row cap and seed.

    Returns a `SegmentExplanation`; its `rules` frame has one row per leaf with columns
    cluster_id, segment_name, rule_id (1.. per segment, by support), rule, n_customers, support, purity.
    """
    if max_depth > 4:
        raise ValueError("max_depth must be <= 4 so the rules stay readable")
    cols = [c for c in features.columns if c != "customer_id"]
    frame = customer_frame(features, cols)
    X = frame.to_numpy(dtype=float)
    y = np.asarray(labels)
    if len(y) != len(X):
        raise ValueError("labels must have one value per feature row")
    n = len(X)
    classes, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    idx = np.arange(n)
    train, test = train_test_split(idx, test_size=test_size, random_state=random_state, stratify=stratify)
    if len(train) > max_train:
        rng = np.random.default_rng(random_state)
        train = np.sort(rng.choice(train, size=max_train, replace=False))
    if len(test) > max_train:
        rng = np.random.default_rng(random_state + 1)
        test = np.sort(rng.choice(test, size=max_train, replace=False))
    tree = DecisionTreeClassifier(criterion="entropy", max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                  random_state=random_state)
    with one_thread():
        tree.fit(X[train], y[train])
    fidelity = float(np.mean(tree.predict(X[test]) == y[test])) if len(test) else float("nan")
    rules = tree_rules(tree, cols)
    names = dict(segment_names or {})
    rules["segment_name"] = [names.get(int(c)) for c in rules["cluster_id"]]
    rules = rules.sort_values(["cluster_id", "support", "leaf"], ascending=[True, False, True], ignore_index=True)
    rules["rule_id"] = rules.groupby("cluster_id").cumcount() + 1
    rules["cluster_id"] = rules["cluster_id"].astype(np.int64)
    return SegmentExplanation(rules[RULE_COLUMNS], fidelity, len(train), len(test), tree)
