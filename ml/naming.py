"""Segment names from the cluster profile in raw units: tenure, recency of activity, discount ratio, value,
frequency — readable rules, first match wins (`NAME_RULES`, printable with `name_rule_table()`).

A cluster's profile is the median of each feature over its customers; "population" is the median over
all customers. Feature roles are found from column names (`PROFILE_ROLES`); a rule whose role is absent
is skipped.

Tenure is the true `tenure_days` (days since sign-up) when the profile has it, else the segmentation's
`observed_tenure_days` (tenure bounded by the warehouse history: the k-means feature, which is what
`ml.segmentation` profiles). The median commutes with that bound (median of min(tenure, history) =
min(median tenure, history), up to the mean of two middle values), so both give the same verdict on the
`new` rule whenever the history is longer than NEW_TENURE_DAYS. With a shorter history, a cluster of
customers older than the history would be named new by the bounded tenure.

| name            | rule (first match wins)                                                              |
|-----------------|--------------------------------------------------------------------------------------|
| new             | median tenure <= 180 days (signed up recently)                                        |
| at risk         | median days since the last activity >= 90 (or since the last purchase >= 180)         |
| bargain hunters | median discounted-line ratio >= 1.5 x the population median                          |
| champions       | median value (revenue per year, else monetary) >= 1.5 x the population median       |
| loyal           | median frequency (orders, else value) >= 0.75 x the population median                |
| occasional      | everything else (established, active, below-average buying)                          |

Two clusters with the same name are told apart by their value ("high spend" / "low spend" against the
population median), then by a number. Names are given in cluster-id order, so the same profile always
gives the same names; on a retrain, `ml.segmentation` keeps the names of matched clusters (stable across
retrains) and names only fresh clusters with these rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

NEW_TENURE_DAYS = 180
LAPSED_ACTIVITY_DAYS = 90
LAPSED_PURCHASE_DAYS = 180
DISCOUNT_RATIO = 1.5
VALUE_RATIO = 1.5
FREQUENCY_RATIO = 0.75

#: role → column-name substrings (first listed column found wins)
PROFILE_ROLES: dict[str, tuple[str, ...]] = {
    "tenure": ("tenure_days", "observed_tenure_days", "tenure"),
    "activity": ("days_since_last_activity", "days_since"),
    "recency": ("recency_days", "recency"),
    "discount": ("discounted_line_ratio", "discount"),
    "value": ("revenue_per_year", "monetary", "revenue"),
    "frequency": ("frequency", "orders"),
}

NAME_RULES = pd.DataFrame(
    [
        ("new", f"median tenure <= {NEW_TENURE_DAYS} days"),
        ("at risk", f"median days since the last activity >= {LAPSED_ACTIVITY_DAYS} "
                    f"(else since the last purchase >= {LAPSED_PURCHASE_DAYS})"),
        ("bargain hunters", f"median discounted-line ratio >= {DISCOUNT_RATIO} x population median"),
        ("champions", f"median value >= {VALUE_RATIO} x population median"),
        ("loyal", f"median frequency >= {FREQUENCY_RATIO} x population median"),
        ("occasional", "otherwise"),
    ],
    columns=["segment_name", "rule"],
)


def name_rule_table() -> pd.DataFrame:
    """The naming rules (segment_name, rule) in the order they are tried."""
    return NAME_RULES.copy()


def _role_column(columns: Sequence[str], role: str) -> str | None:
    for key in PROFILE_ROLES[role]:
        for col in columns:
            if col == key:
                return col
    for key in PROFILE_ROLES[role]:
        for col in columns:
            if key in col.lower():
                return col
    return None


def cluster_profile(features: pd.DataFrame, labels) -> tuple[pd.DataFrame, pd.Series]:
    """(per-cluster medians indexed by cluster id, population medians) of the numeric columns."""
    frame = features.select_dtypes(include="number").astype(float)
    profile = frame.assign(_cluster=np.asarray(labels)).groupby("_cluster", sort=True).median()
    profile.index.name = "cluster_id"
    return profile, frame.median()


def _ratio(value: float, base: float) -> float:
    if not np.isfinite(value) or not np.isfinite(base):
        return float("nan")
    return value / base if base > 0 else (float("inf") if value > 0 else 1.0)


def base_name(row: pd.Series, population: pd.Series) -> str:
    """The first rule of `NAME_RULES` the profile `row` meets (columns: raw feature medians)."""
    cols = list(row.index)
    col = {r: _role_column(cols, r) for r in PROFILE_ROLES}

    def get(role: str, src: pd.Series) -> float:
        return float(src[col[role]]) if col[role] is not None else float("nan")

    if get("tenure", row) <= NEW_TENURE_DAYS:
        return "new"
    if get("activity", row) >= LAPSED_ACTIVITY_DAYS or (
        col["activity"] is None and get("recency", row) >= LAPSED_PURCHASE_DAYS
    ):
        return "at risk"
    if _ratio(get("discount", row), get("discount", population)) >= DISCOUNT_RATIO:
        return "bargain hunters"
    if _ratio(get("value", row), get("value", population)) >= VALUE_RATIO:
        return "champions"
    freq_role = "frequency" if col["frequency"] is not None else "value"
    if _ratio(get(freq_role, row), get(freq_role, population)) >= FREQUENCY_RATIO:
        return "loyal"
    return "occasional"


def profile_names(
    profile: pd.DataFrame, population: pd.Series, taken: Mapping[int, str] | None = None
) -> dict[int, str]:
    """{cluster_id: name} for the rows of `profile` (index = cluster id), unique and not in `taken`."""
    used = set((taken or {}).values())
    cols = list(profile.columns)
    value_col = _role_column(cols, "value")
    out: dict[int, str] = {}
    bases = {int(i): base_name(profile.loc[i], population) for i in profile.index}
    counts = pd.Series(list(bases.values())).value_counts()
    for cid in sorted(bases):
        base = bases[cid]
        options = [base]
        if counts[base] > 1 and value_col is not None:
            high = profile.loc[cid, value_col] >= population[value_col]
            options.insert(0, f"{base} {'high spend' if high else 'low spend'}")
        name = next((o for o in options if o not in used), None)
        n = 2
        while name is None:
            name = f"{options[0]} {n}" if f"{options[0]} {n}" not in used else None
            n += 1
        used.add(name)
        out[cid] = name
    return out
