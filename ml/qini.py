"""Uplift evaluation: Qini curve and coefficient, cumulative-gain AUUC, uplift@top-k, curve points.

Members are ranked by score, highest first. For the top n(φ) = φ·N members (φ = fraction targeted):

    qini(φ)  = Y_T(φ) − Y_C(φ) · N_T(φ) / N_C(φ)       incremental outcome (e.g. extra conversions) had
                                                        the top treated members been treated vs not
    gain(φ)  = (ȳ_T(φ) − ȳ_C(φ)) · n(φ)                 the same with the arms' sizes balanced

Both are divided by N (per member of the campaign) so campaigns of different sizes are comparable.
Ties in the score are handled as blocks: the curve is evaluated only at the end of each block of equal
scores and interpolated linearly inside it (the expected curve when ties are broken at random), so a
score with few distinct values (e.g. true effects by segment) is not credited for an arbitrary order.

    qini_coefficient = ∫₀¹ (qini(φ) − φ · qini(1)) dφ      area between the curve and random targeting
    auuc             = ∫₀¹ gain(φ) dφ
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CURVE_COLUMNS = ["fraction_targeted", "n_targeted", "qini", "qini_random", "cumulative_gain", "uplift_in_top"]


def _block_curve(y, t, score) -> dict[str, np.ndarray]:
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    s = np.asarray(score, dtype=float)
    n = len(y)
    order = np.lexsort((np.arange(n), -s))
    ys, ts, ss = y[order], t[order], s[order]
    ends = np.r_[np.flatnonzero(np.diff(ss) != 0), n - 1] if n else np.array([], dtype=int)
    nt = np.r_[0.0, np.cumsum(ts)[ends]]
    nc = np.r_[0.0, np.cumsum(1 - ts)[ends]]
    yt = np.r_[0.0, np.cumsum(ys * ts)[ends]]
    yc = np.r_[0.0, np.cumsum(ys * (1 - ts))[ends]]
    k = np.r_[0.0, ends + 1.0]
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(nc > 0, yt - yc * nt / np.where(nc > 0, nc, 1), 0.0)
        mt = np.where(nt > 0, yt / np.where(nt > 0, nt, 1), np.nan)
        mc = np.where(nc > 0, yc / np.where(nc > 0, nc, 1), np.nan)
    diff = mt - mc
    gain = np.nan_to_num(diff) * k
    return {"k": k, "qini": qini / max(n, 1), "gain": gain / max(n, 1), "uplift": diff, "n": n}


def qini_coefficient(y, t, score) -> float:
    """Area between the (per-member) Qini curve and the random-targeting line; see module docstring.

    Takes outcomes y, 0/1 treatment t and scores (arrays of length n); higher score = target first.
    """
    c = _block_curve(y, t, score)
    if c["n"] == 0:
        return float("nan")
    x = c["k"] / c["n"]
    return float(np.trapezoid(c["qini"] - x * c["qini"][-1], x))


def auuc(y, t, score) -> float:
    """Area under the per-member cumulative gain curve (see module docstring)."""
    c = _block_curve(y, t, score)
    if c["n"] == 0:
        return float("nan")
    return float(np.trapezoid(c["gain"], c["k"] / c["n"]))


def uplift_at_k(y, t, score, k: float) -> float:
    """ȳ_treated − ȳ_control among the top fraction k (0 < k <= 1) of members by score.

    Ties at the cut are broken by row order (deterministic). NaN when an arm is empty in the top k.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    n = len(y)
    m = max(1, int(np.ceil(k * n)))
    top = np.lexsort((np.arange(n), -np.asarray(score, dtype=float)))[:m]
    yt, tt = y[top], t[top]
    if tt.sum() == 0 or (1 - tt).sum() == 0:
        return float("nan")
    return float(yt[tt == 1].mean() - yt[tt == 0].mean())


def curve_points(y, t, score, n_points: int = 100) -> pd.DataFrame:
    """The curves at fractions 0, 1/n_points, ..., 1 (linear interpolation between tie blocks).

    Columns: fraction_targeted, n_targeted, qini (per member), qini_random (φ · qini(1)),
    cumulative_gain (per member), uplift_in_top (ȳ_T − ȳ_C among the top fraction; NaN at 0).
    """
    c = _block_curve(y, t, score)
    n = c["n"]
    frac = np.linspace(0, 1, n_points + 1)
    x = c["k"] / max(n, 1)
    qini = np.interp(frac, x, c["qini"])
    gain = np.interp(frac, x, c["gain"])
    with np.errstate(divide="ignore", invalid="ignore"):
        uplift = np.where(frac > 0, gain / frac, np.nan)
    return pd.DataFrame({"fraction_targeted": frac, "n_targeted": np.round(frac * n).astype(np.int64),
                         "qini": qini, "qini_random": frac * c["qini"][-1], "cumulative_gain": gain,
                         "uplift_in_top": uplift})


def pooled_qini(frame: pd.DataFrame, score: str, outcome: str, treatment: str = "treated",
                group: str = "campaign_id") -> float:
    """Member-weighted mean of per-campaign Qini coefficients (each campaign ranked on its own).

    Takes a frame with one row per member (columns `group`, `treatment`, `outcome`, `score`).
    """
    total, weight = 0.0, 0
    for _, g in frame.groupby(group, sort=True):
        q = qini_coefficient(g[outcome].to_numpy(), g[treatment].to_numpy(), g[score].to_numpy())
        if np.isfinite(q):
            total += q * len(g)
            weight += len(g)
    return total / weight if weight else float("nan")


def uplift_metrics(y, t, score, top: Sequence[float] = (0.1, 0.2, 0.3)) -> dict[str, float]:
    """qini_coefficient, auuc and uplift_top<k%> for each k in `top`, as a dict."""
    out = {"qini_coefficient": qini_coefficient(y, t, score), "auuc": auuc(y, t, score)}
    for k in top:
        out[f"uplift_top{int(round(k * 100))}"] = uplift_at_k(y, t, score, k)
    return out
