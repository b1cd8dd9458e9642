"""Cross-fitted AIPW (doubly robust) effect on the targeted (ATT) for campaigns without a control group.

Units: the targeted customers (t = 1) and the eligible, non-targeted customers of the same period (t = 0),
with covariates measured before the campaign (before each member's `assigned_at`).

For K stratified folds, the propensity e(x) = P(t=1 | x) is fitted on the other folds (all units) and the
untreated outcome μ0(x) = E[y | x, t=0] on the other folds' untreated units; both predict the held-out fold.
Propensities are clipped to [0.01, 0.99]. With w = e / (1 − e), n1 = Σt and p = n1 / n:

    ATT  = (1/n1) Σ [ t (y − μ0) − (1 − t) w (y − μ0) ]
    φ_i  = [ t_i (y_i − μ0_i − ATT) − (1 − t_i) w_i (y_i − μ0_i) ] / p     (influence function, Σφ = 0)
    SE   = sqrt(Σ φ_i² / n²),   CI = ATT ± z_{1−α/2} SE,   p-value two-sided normal.

Consistent if either model is right; the CI is honest only under overlap, hence the diagnostic: the
share of targeted customers with a raw propensity above the upper clip (nobody comparable was left
untargeted) and propensity quantiles by group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import StratifiedKFold

from .nuisance import fit_predict, outcome_model, propensity_model
from .threads import one_thread

CLIP = (0.01, 0.99)
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class AIPWResult:
    """ATT estimate with its SE/CI/p-value, counts, and the out-of-fold nuisances (arrays of length n):
    propensity (raw), propensity_clipped, mu0, influence; counterfactual_sum = Σ_treated y − n1 · ATT;
    overlap: `overlap_summary` frame."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    propensity: np.ndarray
    propensity_clipped: np.ndarray
    mu0: np.ndarray
    influence: np.ndarray
    counterfactual_sum: float
    overlap: pd.DataFrame

    @property
    def treated_above_clip(self) -> float:
        """Share of treated units whose raw propensity exceeded the upper clip."""
        return float(self.overlap.loc[self.overlap["group"] == "treated", "share_above_clip"].iloc[0])


def overlap_summary(propensity: np.ndarray, t: np.ndarray, clip: tuple[float, float] = CLIP) -> pd.DataFrame:
    """Propensity overlap by group.

    Returns one row per group ("treated", "comparison") with columns group, n, share_below_clip,
    share_above_clip (raw propensity outside the clip range), mean, and q01, q05, q25, q50, q75, q95, q99.
    """
    rows = []
    for name, mask in (("treated", t == 1), ("comparison", t == 0)):
        e = propensity[mask]
        qs = np.quantile(e, QUANTILES) if e.size else np.full(len(QUANTILES), np.nan)
        rows.append({"group": name, "n": int(e.size),
                     "share_below_clip": float(np.mean(e < clip[0])) if e.size else np.nan,
                     "share_above_clip": float(np.mean(e > clip[1])) if e.size else np.nan,
                     "mean": float(e.mean()) if e.size else np.nan,
                     **{f"q{int(round(q * 100)):02d}": float(v) for q, v in zip(QUANTILES, qs, strict=True)}})
    return pd.DataFrame(rows)


def cross_fit_nuisances(
    y: np.ndarray, t: np.ndarray, X: np.ndarray, learner: str = "linear", n_folds: int = 5, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold propensity e(x) (raw) and untreated outcome μ0(x) for every unit (see module docstring)."""
    n = len(y)
    e = np.empty(n)
    mu0 = np.empty(n)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    with one_thread():
        for k, (train, test) in enumerate(folds.split(X, t)):
            e[test] = fit_predict(propensity_model(learner, random_state + k), X[train], t[train], X[test], proba=True)
            ctrl = train[t[train] == 0]
            mu0[test] = fit_predict(outcome_model(learner, random_state + k), X[ctrl], y[ctrl], X[test])
    return e, mu0


def att_from_nuisances(y, t, e_clipped, mu0, weights=None):
    """AIPW ATT (and counterfactual treated total) from nuisances; `weights` (c, n) gives c replicates.

    Returns (att, counterfactual_sum, sum_y_treated) — floats, or arrays of length c with `weights`.
    """
    w_ratio = e_clipped / (1 - e_clipped)
    resid = y - mu0
    contrib_t = t * resid
    contrib_c = (1 - t) * w_ratio * resid
    if weights is None:
        n1 = t.sum()
        att = (contrib_t.sum() - contrib_c.sum()) / n1
        sy = (t * y).sum()
        return att, sy - n1 * att, sy
    n1 = weights @ t
    att = (weights @ contrib_t - weights @ contrib_c) / n1
    sy = weights @ (t * y)
    return att, sy - n1 * att, sy


def aipw_att(
    y, t, X, *, learner: str = "linear", n_folds: int = 5, clip: tuple[float, float] = CLIP, alpha: float = 0.05,
    random_state: int = 0,
) -> AIPWResult:
    """Cross-fitted AIPW estimate of the ATT with influence-function SE (see module docstring).

    Takes outcome y (n,), treatment/targeting indicator t (n,; 1 = targeted), covariate matrix X (n, p)
    of pre-period features, the nuisance learner ("linear" or "hgb", `ml.nuisance`), folds, clip range,
    alpha and seed. Needs at least `n_folds` units in each group. Returns an `AIPWResult`.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    n1, n0 = int(t.sum()), int((1 - t).sum())
    if min(n1, n0) < n_folds:
        raise ValueError(f"aipw_att needs >= {n_folds} treated and untreated units (got {n1}, {n0})")
    e_raw, mu0 = cross_fit_nuisances(y, t, X, learner, n_folds, random_state)
    e = np.clip(e_raw, *clip)
    att, cf_sum, _ = att_from_nuisances(y, t, e, mu0)
    n = len(y)
    p = n1 / n
    phi = (t * (y - mu0 - att) - (1 - t) * e / (1 - e) * (y - mu0)) / p
    se = float(np.sqrt(np.sum(phi**2)) / n)
    z = stats.norm.ppf(1 - alpha / 2)
    pval = float(2 * stats.norm.sf(abs(att) / se)) if se > 0 else float("nan")
    return AIPWResult(float(att), se, float(att - z * se), float(att + z * se), pval, n1, n0, e_raw, e, mu0, phi,
                      float(cf_sum), overlap_summary(e_raw, t, clip))
