"""Segment names from the cluster profile in raw units: tenure, discount ratio, recency of activity,
frequency and value — readable rules, first match wins (`NAME_RULES`, printable with `name_rule_table()`).

A cluster's profile is the median of each feature over its customers. The reference it is compared with
is the median over the ESTABLISHED customers (tenure > NEW_TENURE_DAYS; all customers when the profile
has no tenure or nobody is established): new sign-ups have no orders yet and a prior-shrunk spending
rate, so a median over everybody is a poor yardstick for "frequent" or "high value". Feature roles are
found from column names (`PROFILE_ROLES`); a rule whose role is absent is skipped.

Tenure is the true `tenure_days` (days since sign-up) when the profile has it, else the segmentation's
`observed_tenure_days` (tenure bounded by the warehouse history: the k-means feature). The median
commutes with that bound, so both give the same verdict on `new` whenever the history is longer than
NEW_TENURE_DAYS.

| name            | rule (first match wins; "ref" = median of the established customers)                    |
|-----------------|-------------------------------------------------------------------------------------------|
| new             | median tenure <= 180 days (signed up recently)                                           |
| bargain hunters | median discounted-line ratio >= 1.5 x ref (buys mostly on discount)                       |
| at risk         | median days since the last activity >= 90 and >= 1.5 x ref, or median activity trend      |
|                 | <= 0.6 (activity slowing down); without an activity column: days since the last purchase  |
|                 | >= 180 and >= 1.5 x ref                                                                   |
| champions       | median frequency >= 2 x ref and median value (monetary, else revenue per year) >= 2 x ref |
| loyal           | median frequency >= ref (buys at least as often as the typical established customer)     |
| occasional      | everything else (established, active, buys less often than the typical customer)          |

Why this order: discount share is the bargain hunters' own trait, while their infrequent orders also
look like lapsing on a site without behaviour events (activity = orders only), so it is tested before
"at risk"; "at risk" is tested before the value rules, so a lapsed big spender is not called a champion.

Two clusters with the same name are told apart by their value ("high spend" / "low spend" against the
reference), then by a number. Names are given in cluster-id order, so the same profile always gives the
same names. Stability across retrains (`profile_names(..., previous=...)`): a cluster matched to a
previous cluster keeps its previous name as long as the rules still give that name's base (`base_of`);
a name the rules no longer support (the profile moved, or a name from an older naming scheme such as
"mid value") is replaced by the rule's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

NEW_TENURE_DAYS = 180
LAPSED_ACTIVITY_DAYS = 90
LAPSED_PURCHASE_DAYS = 180
LAPSED_RATIO = 1.5
SLOWING_TREND = 0.6
DISCOUNT_RATIO = 1.5
CHAMPION_RATIO = 2.0
LOYAL_RATIO = 1.0

#: role → column names (exact match first, in this order; then by substring)
PROFILE_ROLES: dict[str, tuple[str, ...]] = {
    "tenure": ("tenure_days", "observed_tenure_days", "tenure"),
    "activity": ("days_since_last_activity", "days_since"),
    "trend": ("activity_trend", "trend"),
    "recency": ("recency_days", "recency"),
    "discount": ("discounted_line_ratio", "discount"),
    "frequency": ("frequency", "orders"),
    "value": ("monetary", "revenue_per_year", "revenue"),
}

BASE_NAMES = ("new", "bargain hunters", "at risk", "champions", "loyal", "occasional")
SPEND_SUFFIXES = ("high spend", "low spend")

NAME_RULES = pd.DataFrame(
    [
        ("new", f"median tenure <= {NEW_TENURE_DAYS} days"),
        ("bargain hunters", f"median discounted-line ratio >= {DISCOUNT_RATIO} x established median"),
        ("at risk", f"median days since the last activity >= {LAPSED_ACTIVITY_DAYS} and >= {LAPSED_RATIO} x "
                    f"established median, or median activity trend <= {SLOWING_TREND} (without an activity "
                    f"column: days since the last purchase >= {LAPSED_PURCHASE_DAYS} and >= {LAPSED_RATIO} x "
                    "established median)"),
        ("champions", f"median frequency and median value both >= {CHAMPION_RATIO} x established median"),
        ("loyal", f"median frequency >= {LOYAL_RATIO} x established median"),
        ("occasional", "otherwise"),
    ],
    columns=["segment_name", "rule"],
)


def name_rule_table() -> pd.DataFrame:
    """The naming rules (segment_name, rule) in the order they are tried."""
    return NAME_RULES.copy()


def base_of(name: str) -> str | None:
    """The rule name a segment name was made from ("loyal high spend 2" → "loyal"); None for a name no
    rule of `NAME_RULES` gives (e.g. one of an older naming scheme)."""
    for base in sorted(BASE_NAMES, key=len, reverse=True):
        if name == base:
            return base
        if name.startswith(base + " "):
            rest = name[len(base) + 1:].split(" ")
            words = " ".join(w for w in rest if not w.isdigit())
            digits = [w for w in rest if w.isdigit()]
            if words in ("", *SPEND_SUFFIXES) and len(digits) <= 1 and (not digits or rest[-1] == digits[0]):
                return base
    return None


def is_rule_name(name: str) -> bool:
    """True when `name` is one the rules of this module give (a base name, maybe with a spend suffix or a
    number)."""
    return base_of(name) is not None


def _role_column(columns: Sequence[str], role: str) -> str | None:
    for key in PROFILE_ROLES[role]:
        if key in columns:
            return key
    for key in PROFILE_ROLES[role]:
        for col in columns:
            if key in col.lower():
                return col
    return None


def cluster_profile(features: pd.DataFrame, labels) -> tuple[pd.DataFrame, pd.Series]:
    """(per-cluster medians indexed by cluster id, reference medians) of the numeric columns.

    The reference is the median over the established customers (tenure > NEW_TENURE_DAYS), or over all
    customers when there is no tenure column or no established customer."""
    frame = features.select_dtypes(include="number").astype(float)
    profile = frame.assign(_cluster=np.asarray(labels)).groupby("_cluster", sort=True).median()
    profile.index.name = "cluster_id"
    tenure = _role_column(list(frame.columns), "tenure")
    established = frame[frame[tenure] > NEW_TENURE_DAYS] if tenure is not None else frame.iloc[:0]
    return profile, (established if len(established) else frame).median()


def _ratio(value: float, base: float) -> float:
    if not np.isfinite(value) or not np.isfinite(base):
        return float("nan")
    return value / base if base > 0 else (float("inf") if value > 0 else 1.0)


def base_name(row: pd.Series, reference: pd.Series) -> str:
    """The first rule of `NAME_RULES` the profile `row` meets (raw feature medians; `reference`: the
    medians of the established customers, see `cluster_profile`)."""
    col = {r: _role_column(list(row.index), r) for r in PROFILE_ROLES}

    def get(role: str, src: pd.Series) -> float:
        return float(src[col[role]]) if col[role] is not None else float("nan")

    def ratio(role: str) -> float:
        return _ratio(get(role, row), get(role, reference))

    if get("tenure", row) <= NEW_TENURE_DAYS:
        return "new"
    if ratio("discount") >= DISCOUNT_RATIO:
        return "bargain hunters"
    if col["activity"] is not None:
        lapsed = get("activity", row) >= LAPSED_ACTIVITY_DAYS and ratio("activity") >= LAPSED_RATIO
    else:
        lapsed = get("recency", row) >= LAPSED_PURCHASE_DAYS and ratio("recency") >= LAPSED_RATIO
    if lapsed or get("trend", row) <= SLOWING_TREND:
        return "at risk"
    freq_role = "frequency" if col["frequency"] is not None else "value"
    if ratio(freq_role) >= CHAMPION_RATIO and ratio("value") >= CHAMPION_RATIO:
        return "champions"
    if ratio(freq_role) >= LOYAL_RATIO:
        return "loyal"
    return "occasional"


def profile_names(
    profile: pd.DataFrame,
    reference: pd.Series,
    taken: Mapping[int, str] | None = None,
    previous: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """{cluster_id: name} for the rows of `profile` (index = cluster id), unique and not in `taken`.

    `previous` maps cluster ids matched on a retrain to their previous names: such a cluster keeps its
    name when the rules still give its base (`base_of`), so names are stable across retrains while the
    profile holds; otherwise it is named afresh like an unmatched cluster."""
    previous = dict(previous or {})
    bases = {int(i): base_name(profile.loc[i], reference) for i in profile.index}
    keep = {cid: previous[cid] for cid in bases if cid in previous and base_of(previous[cid]) == bases[cid]}
    used = set((taken or {}).values()) | set(keep.values())
    value_col = _role_column(list(profile.columns), "value")
    counts = pd.Series(list(bases.values())).value_counts()
    out: dict[int, str] = dict(keep)
    for cid in sorted(bases):
        if cid in keep:
            continue
        base = bases[cid]
        options = [base]
        if counts[base] > 1 and value_col is not None:
            high = profile.loc[cid, value_col] >= reference[value_col]
            options.insert(0, f"{base} {SPEND_SUFFIXES[0] if high else SPEND_SUFFIXES[1]}")
        name = next((o for o in options if o not in used), None)
        n = 2
        while name is None:
            name = f"{options[0]} {n}" if f"{options[0]} {n}" not in used else None
            n += 1
        used.add(name)
        out[cid] = name
    return {cid: out[cid] for cid in sorted(out)}


def name_clusters(
    features: pd.DataFrame, labels, previous: Mapping[int, str] | None = None
) -> dict[int, str]:
    """Names of the clusters in `labels` from the raw `features` of their customers (`cluster_profile`
    then `profile_names`); `previous`: the names of clusters matched to a previous model."""
    profile, reference = cluster_profile(features, labels)
    return profile_names(profile, reference, previous=previous)
