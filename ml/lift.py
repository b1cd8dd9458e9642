"""The relative lift E = (Σy − Σŷ) / Σŷ × 100 % over treated members, and its bootstrap CI.

E is computed on sums: Σy is the treated members' total outcome, Σŷ their counterfactual total
(n_T · ȳ_control for the difference in means, Σ μ̂₀(x) from the control-arm regression for Lin's
estimator, Σy − n_T · ATT for AIPW). It is never a mean of per-member ratios (y − ŷ)/ŷ, which explodes
for members whose ŷ is near zero.

Guard: E is NULL (NaN) when the control (or comparison) group has fewer than `MIN_CONTROL_CONVERSIONS`
members with y > 0 — for a binary outcome these are its conversions, for revenue the converting
(paying) members — or when Σŷ <= 0. A ratio to a base that rests on a handful of conversions is noise.

CI: percentile bootstrap, resampling members within each arm (arm sizes fixed), fixed seed; replicates
whose Σŷ <= 0 are dropped; NaN when fewer than half the replicates are usable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

MIN_CONTROL_CONVERSIONS = 10


def relative_lift(sum_y: float, sum_counterfactual: float) -> float:
    """E in percent from the treated total and its counterfactual total; NaN when Σŷ <= 0 or not finite."""
    if not np.isfinite(sum_counterfactual) or sum_counterfactual <= 0 or not np.isfinite(sum_y):
        return float("nan")
    return float((sum_y - sum_counterfactual) / sum_counterfactual * 100.0)


def lift_allowed(y_control: np.ndarray, min_conversions: int = MIN_CONTROL_CONVERSIONS) -> bool:
    """True when the control/comparison group has at least `min_conversions` members with y > 0."""
    return int(np.sum(np.asarray(y_control) > 0)) >= min_conversions


def bootstrap_weights(t: np.ndarray, reps: int, random_state: int, chunk: int = 64) -> Iterator[np.ndarray]:
    """Yield (chunk, n) arrays of bootstrap counts, resampling within arm t == 1 and t == 0 separately.

    Each row sums to n, each arm keeps its size; deterministic for a given `random_state`.
    """
    rng = np.random.default_rng(random_state)
    arms = [np.flatnonzero(t == 1), np.flatnonzero(t == 0)]
    n = len(t)
    done = 0
    while done < reps:
        c = min(chunk, reps - done)
        w = np.zeros((c, n))
        for idx in arms:
            if idx.size == 0:
                continue
            draw = rng.integers(0, idx.size, size=(c, idx.size))
            counts = np.bincount((draw + np.arange(c)[:, None] * idx.size).ravel(), minlength=c * idx.size)
            w[:, idx] = counts.reshape(c, idx.size)
        done += c
        yield w


def percentile_ci(samples: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of the finite samples; NaNs when fewer than half are finite."""
    s = np.asarray(samples, dtype=float)
    ok = s[np.isfinite(s)]
    if ok.size < max(1, s.size // 2):
        return float("nan"), float("nan")
    lo, hi = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_lift(
    t: np.ndarray,
    stat: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    reps: int = 500,
    random_state: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Bootstrap CI of E for any estimator written on weights.

    `stat(w)` takes a (c, n) array of bootstrap counts and returns (Σy_treated, Σŷ) per replicate (arrays
    of length c). Returns (lift_ci_low, lift_ci_high) in percent.
    """
    if reps <= 0:
        return float("nan"), float("nan")
    out = []
    for w in bootstrap_weights(t, reps, random_state):
        sy, sc = stat(w)
        sc = np.asarray(sc, dtype=float)
        good = np.isfinite(sc) & (sc > 0)
        out.append(np.where(good, (np.asarray(sy) - sc) / np.where(good, sc, 1.0) * 100.0, np.nan))
    return percentile_ci(np.concatenate(out), alpha)
