"""RFM scores (quintiles, ties share a score) and named RFM segments from a documented rule table.

Scores
    r_score, f_score, m_score in 1..5 from `ml.ranking.tied_quantile_scores` among *purchasers only*:
    recency scores 5 for the most recent buyers (fewest days), frequency and monetary score 5 for the
    largest values; equal values always share a score. fm_score = round-half-up((f_score + m_score) / 2).
    Customers with no purchase (frequency missing or <= 0) get no scores and the segment `no_purchase`.

Segments
    `RFM_RULES` maps (r_score, fm_score) to a segment. Its rectangles tile the 5 × 5 grid exactly once
    (checked at import). Print it with `rfm_rule_table()`; `rfm_rule_grid()` shows the same as a grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ranking import tied_quantile_scores
from .validation import customer_frame

NO_PURCHASE = "no_purchase"

#: One row per rectangle of the (r_score × fm_score) grid; a segment may own several rectangles.
RFM_RULES = pd.DataFrame(
    [
        ("champions", 5, 5, 4, 5, "bought very recently, buy often and spend the most"),
        ("champions", 4, 4, 5, 5, "bought very recently, buy often and spend the most"),
        ("loyal", 4, 4, 4, 4, "buy regularly and spend well; still recent"),
        ("loyal", 3, 3, 4, 5, "buy regularly and spend well; still recent"),
        ("potential_loyalists", 4, 5, 2, 3, "recent, average frequency and spend: can become loyal"),
        ("new", 5, 5, 1, 1, "bought for the first time(s) very recently, little spend yet"),
        ("promising", 4, 4, 1, 1, "recent buyers with low frequency and spend"),
        ("need_attention", 3, 3, 3, 3, "average on every dimension, recency slipping"),
        ("about_to_sleep", 3, 3, 1, 2, "below-average recency, low frequency and spend"),
        ("at_risk", 1, 2, 3, 4, "used to buy fairly often, not seen for a long time"),
        ("cant_lose", 1, 2, 5, 5, "were among the best customers, not seen for a long time"),
        ("hibernating", 2, 2, 1, 2, "long since the last purchase, low frequency and spend"),
        ("lost", 1, 1, 1, 2, "longest since the last purchase, lowest frequency and spend"),
    ],
    columns=["segment", "r_min", "r_max", "fm_min", "fm_max", "description"],
)

SEGMENT_ORDER = (
    "champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
    "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost", NO_PURCHASE,
)


def _grid() -> np.ndarray:
    """5 × 5 array of segment names, indexed [r_score - 1, fm_score - 1]; asserts an exact tiling."""
    grid = np.full((5, 5), None, dtype=object)
    for row in RFM_RULES.itertuples():
        for r in range(row.r_min, row.r_max + 1):
            for fm in range(row.fm_min, row.fm_max + 1):
                if grid[r - 1, fm - 1] is not None:
                    raise AssertionError(f"RFM_RULES overlap at r={r}, fm={fm}")
                grid[r - 1, fm - 1] = row.segment
    if any(g is None for g in grid.ravel()):
        raise AssertionError("RFM_RULES leave a cell of the 5x5 grid uncovered")
    return grid


_GRID = _grid()


def rfm_rule_table() -> pd.DataFrame:
    """The rule table as a DataFrame (segment, r_min, r_max, fm_min, fm_max, description), for docs."""
    return RFM_RULES.copy()


def rfm_rule_grid() -> pd.DataFrame:
    """The rules as a grid: rows r_score 5..1, columns fm_score 1..5, cells the segment name."""
    return pd.DataFrame(_GRID[::-1], index=pd.Index([5, 4, 3, 2, 1], name="r_score"),
                        columns=pd.Index([1, 2, 3, 4, 5], name="fm_score"))


def rfm_segment(r_score: int, fm_score: int) -> str:
    """The segment of one (r_score, fm_score) pair, both in 1..5."""
    return str(_GRID[int(r_score) - 1, int(fm_score) - 1])


def rfm_scores(
    customers: pd.DataFrame,
    recency: str = "recency_days",
    frequency: str = "frequency",
    monetary: str = "monetary",
) -> pd.DataFrame:
    """RFM scores and segment per customer.

    Takes a frame with a `customer_id` column or index and the three input columns: `recency` (days since
    the last purchase as of the run's `as_of`; may be NaN for non-buyers), `frequency` (number of
    purchases) and `monetary` (their value). Customers with frequency NaN or <= 0 are `no_purchase`.

    Returns one row per customer, in input order, with columns
      customer_id, recency_days, frequency, monetary (the inputs, renamed to these names),
      r_score, f_score, m_score, fm_score (nullable Int64, 1..5, <NA> for no_purchase),
      rfm_code (str like "545", None for no_purchase), rfm_segment (str, see `RFM_RULES`).
    """
    frame = customer_frame(customers, [recency, frequency, monetary])
    freq = frame[frequency].to_numpy(dtype=float)
    buyer = np.nan_to_num(freq, nan=0.0) > 0
    rec = frame[recency].to_numpy(dtype=float)
    if np.isnan(rec[buyer]).any():
        raise ValueError(f"rfm_scores: `{recency}` is missing for customers with purchases")

    def score(col: np.ndarray, higher: bool) -> np.ndarray:
        out = np.full(len(col), np.nan)
        out[buyer] = tied_quantile_scores(col[buyer], 5, higher_is_better=higher)
        return out

    r = score(rec, False)
    f = score(freq, True)
    m = score(np.nan_to_num(frame[monetary].to_numpy(dtype=float), nan=0.0), True)
    fm = np.floor((f + m + 1) / 2)
    seg = np.full(len(frame), NO_PURCHASE, dtype=object)
    seg[buyer] = _GRID[r[buyer].astype(int) - 1, fm[buyer].astype(int) - 1]
    code = np.full(len(frame), None, dtype=object)
    code[buyer] = (r[buyer] * 100 + f[buyer] * 10 + m[buyer]).astype(np.int64).astype(str)
    out = pd.DataFrame(
        {
            "customer_id": frame.index.to_numpy(),
            "recency_days": rec,
            "frequency": freq,
            "monetary": frame[monetary].to_numpy(dtype=float),
        }
    )
    for name, values in (("r_score", r), ("f_score", f), ("m_score", m), ("fm_score", fm)):
        out[name] = pd.array(values, dtype="Float64").astype("Int64")
    out["rfm_code"] = code
    out["rfm_segment"] = seg
    return out
