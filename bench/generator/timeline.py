"""Vectorised point processes: when each customer orders, visits, calls or opens a ticket.

Every activity is a Poisson process per customer over an active window, with a weekly pattern
(individuals buy more at weekends, companies on weekdays) and an hour-of-day profile.
"""

from __future__ import annotations

import numpy as np

from .common import DAY

# Monday..Sunday weights: row 0 individuals (B2C), row 1 companies (B2B).
WEEKDAY = np.array([[1.0, 0.95, 0.95, 1.0, 1.1, 1.45, 1.35], [1.25, 1.3, 1.3, 1.25, 1.1, 0.3, 0.2]])
# Hour-of-day weights (0..23): quiet nights, a lunch bump, busy evenings.
HOURS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3.5, 5, 6, 6, 6.5, 5.5, 5.5, 5.5, 5, 5, 5.5, 6.5, 7.5, 7, 5, 2.5]
)
OFFICE_HOURS = np.array([0.1] * 8 + [3, 6, 6, 6, 3, 5, 6, 6, 5, 3, 1] + [0.2] * 5)


def weekday(ts: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return ((ts.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int64)


def poisson_events(
    rng: np.random.Generator,
    rate_per_day: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    week_class: np.ndarray | None = None,
    hours: np.ndarray = HOURS,
) -> tuple[np.ndarray, np.ndarray]:
    """Event owners (row index into the inputs) and times (datetime64[s]) of a thinned Poisson process.

    `rate_per_day[i]` events per day on [lo[i], hi[i]); `week_class[i]` picks a WEEKDAY row (None: flat).
    Returned events are sorted by owner, then time.
    """
    span = np.maximum((hi - lo) / DAY, 0.0)
    weights = WEEKDAY if week_class is not None else np.ones((1, 7))
    cls = week_class if week_class is not None else np.zeros(len(span), dtype=np.int64)
    accept = weights.mean(axis=1) / weights.max(axis=1)
    n = rng.poisson(np.nan_to_num(rate_per_day * span / accept[cls]))
    owner = np.repeat(np.arange(len(span)), n)
    t = lo[owner] + (rng.random(len(owner)) * (hi - lo)[owner].astype(np.int64)).astype("timedelta64[s]")
    day = t.astype("datetime64[D]").astype("datetime64[s]")
    hour = rng.choice(24, size=len(owner), p=hours / hours.sum())
    t = day + (hour * 3600 + rng.integers(0, 3600, len(owner))).astype("timedelta64[s]")
    keep = rng.random(len(owner)) < (weights / weights.max(axis=1, keepdims=True))[cls[owner], weekday(t)]
    keep &= (t >= lo[owner]) & (t < hi[owner])
    owner, t = owner[keep], t[keep]
    order = np.lexsort((t, owner))
    return owner[order], t[order]
