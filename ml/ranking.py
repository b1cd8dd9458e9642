"""Tie-aware quantile scores: equal values always share a score.

Used for RFM scores (quintiles) and uplift deciles. The method is the *mid-distribution percentile*:

    p_i = (#{v < v_i} + 0.5 · #{v = v_i}) / n          (in (0, 1))
    score_i = 1 + floor(n_bins · p_i)                  (in 1..n_bins)

Every member of a block of ties gets the percentile of the block's midpoint, so ties share a score and
a block that straddles a quantile boundary lands in the bin holding its middle. Bins therefore hold
*about* n/n_bins values (exactly so when there are no ties); a constant column scores the middle bin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def mid_percentiles(values: np.ndarray | pd.Series) -> np.ndarray:
    """Mid-distribution percentile of each value among the non-missing values (NaN stays NaN).

    Takes a 1-d array of numbers; returns float64 percentiles in (0, 1), equal for equal values.
    """
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, np.nan)
    ok = ~np.isnan(v)
    if not ok.any():
        return out
    _, inverse, counts = np.unique(v[ok], return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts
    out[ok] = ((below + 0.5 * counts) / ok.sum())[inverse]
    return out


def tied_quantile_scores(values: np.ndarray | pd.Series, n_bins: int = 5, higher_is_better: bool = True) -> np.ndarray:
    """Quantile scores 1..n_bins where equal values share a score (see module docstring).

    Takes a 1-d array (NaN allowed) and the number of bins; with `higher_is_better=True` the largest values
    score n_bins, otherwise the smallest do (e.g. recency). Returns float64 scores (NaN for NaN input).
    """
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    p = mid_percentiles(values)
    if not higher_is_better:
        p = 1.0 - p
    return np.where(np.isnan(p), np.nan, np.minimum(np.floor(n_bins * p) + 1, n_bins))
