"""Campaign effects: difference in means, Lin's regression estimator, AIPW, and the relative lift E.

`estimate_campaign_effects` is the entry point behind `ml.campaign_effects`; the estimators are public
for reuse and tests. Randomised campaigns report the difference in means and Lin's estimator (primary);
observational (targeted, no control) campaigns report the naive difference (for contrast only) and the
cross-fitted AIPW ATT (primary). See `ml.lift` for E and its guard, `ml.aipw` for AIPW.

Lin's estimator (randomised): OLS  y = b0 + b1·t + Xc·b2 + t·Xc·b3  with Xc the covariates centred at
their sample mean; b1 estimates the ATE; HC2 (statsmodels) standard errors with t(n − #params)
intervals. Equivalent to separate OLS fits per arm, so μ̂₀(x) = b0 + Xc·b2 is the control-arm
prediction used for E.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from .aipw import CLIP, aipw_att, att_from_nuisances
from .covariates import MIN_FREQUENCY, covariate_matrix
from .lift import MIN_CONTROL_CONVERSIONS, bootstrap_lift, lift_allowed, relative_lift
from .runs import _json
from .threads import one_thread
from .validation import binary_vector, numeric_matrix

DESIGNS = ("randomised", "observational")
EFFECT_COLUMNS = [
    "campaign_id", "outcome", "design", "estimand", "method", "is_primary", "estimate", "std_error", "ci_low",
    "ci_high", "p_value", "lift_pct", "lift_ci_low", "lift_ci_high", "n_treated", "n_control",
    "control_conversions", "overlap_treated_above_clip", "overlap_json", "note",
]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with standard error, (1 − α) CI and two-sided p-value."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class LinEstimate(Estimate):
    """Lin's estimate plus the control-arm prediction summed over treated units (Σ μ̂₀, for E)."""

    counterfactual_sum: float = float("nan")


def difference_in_means(y, t, alpha: float = 0.05) -> Estimate:
    """ȳ_treated − ȳ_control with the Welch SE, Welch–Satterthwaite t interval and p-value.

    Takes outcome y and 0/1 treatment t (arrays of length n, >= 2 units per arm).
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    y1, y0 = y[t == 1], y[t == 0]
    n1, n0 = len(y1), len(y0)
    if min(n1, n0) < 2:
        raise ValueError("difference_in_means needs >= 2 units per arm")
    v1, v0 = y1.var(ddof=1) / n1, y0.var(ddof=1) / n0
    est = y1.mean() - y0.mean()
    se = float(np.sqrt(v1 + v0))
    if se == 0:
        return Estimate(float(est), 0.0, float(est), float(est), float("nan"))
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    q = stats.t.ppf(1 - alpha / 2, df)
    return Estimate(float(est), se, float(est - q * se), float(est + q * se), float(2 * stats.t.sf(abs(est) / se, df)))


def transform_covariates(X: np.ndarray, log1p: bool = True) -> np.ndarray:
    """log1p of non-negative columns (counts, money, days) when `log1p`; other columns unchanged."""
    X = np.asarray(X, dtype=float)
    if not log1p or X.size == 0:
        return X
    out = X.copy()
    nonneg = X.min(axis=0) >= 0
    out[:, nonneg] = np.log1p(X[:, nonneg])
    return out


def _lin_design(t: np.ndarray, X: np.ndarray) -> np.ndarray:
    keep = X.std(axis=0) > 1e-12 if X.size else np.zeros(0, dtype=bool)
    Xc = X[:, keep] - X[:, keep].mean(axis=0)
    return np.column_stack([np.ones(len(t)), t, Xc, t[:, None] * Xc])


def lin_estimate(y, t, X, alpha: float = 0.05) -> LinEstimate:
    """Lin's (2013) fully interacted regression estimator of the ATE with HC2 SEs (statsmodels).

    Takes outcome y (n,), 0/1 treatment t (n,) and covariates X (n, p) (constant columns are dropped).
    Returns a `LinEstimate` (t-distribution CI and p-value with n − 2 − 2p degrees of freedom).
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    Z = _lin_design(t, X)
    if min(t.sum(), (1 - t).sum()) < 2 or len(y) <= Z.shape[1]:
        raise ValueError("lin_estimate needs >= 2 units per arm and more units than parameters")
    with one_thread():
        fit = sm.OLS(y, Z).fit(cov_type="HC2", use_t=True)
    est, se = float(fit.params[1]), float(fit.bse[1])
    lo, hi = fit.conf_int(alpha)[1]
    q = Z.shape[1] // 2 - 1  # number of (kept) covariates
    b = fit.params
    mu0 = b[0] + Z[:, 2:2 + q] @ b[2:2 + q]
    return LinEstimate(est, se, float(lo), float(hi), float(fit.pvalues[1]), float(mu0[t == 1].sum()))


def _control_fit_lift_stat(y: np.ndarray, t: np.ndarray, X: np.ndarray):
    """Bootstrap statistic for Lin's E: refit the control-arm OLS on each replicate's weights."""
    Zc = _lin_design(t, X)
    q = Zc.shape[1] // 2 - 1
    A = np.column_stack([Zc[:, 0], Zc[:, 2:2 + q]])  # intercept + centred covariates
    ctrl, trt = t == 0, t == 1

    def stat(w: np.ndarray):
        sy = w[:, trt] @ y[trt]
        sc = np.empty(len(w))
        Ac, yc = A[ctrl], y[ctrl]
        At_sum = w[:, trt] @ A[trt]  # (c, q+1): weighted column sums over treated
        for b in range(len(w)):
            wc = w[b, ctrl]
            G = (Ac * wc[:, None]).T @ Ac
            r = (Ac * wc[:, None]).T @ yc
            beta = np.linalg.lstsq(G, r, rcond=None)[0]
            sc[b] = At_sum[b] @ beta
        return sy, sc

    return stat


def _campaign_seed(random_state: int, campaign_id, outcome: str) -> int:
    return int(np.random.SeedSequence([random_state, zlib.crc32(f"{campaign_id}|{outcome}".encode())]).generate_state(1)[0])


def _effect_rows(
    campaign_id, outcome: str, design: str, y: np.ndarray, t: np.ndarray, X: np.ndarray, *, n_bootstrap: int,
    min_control_conversions: int, n_folds: int, learner: str, alpha: float, random_state: int,
    log1p_covariates: bool,
) -> list[dict]:
    seed = _campaign_seed(random_state, campaign_id, outcome)
    n1, n0 = int(t.sum()), int((1 - t).sum())
    conv0 = int(np.sum(y[t == 0] > 0))
    base = {"campaign_id": campaign_id, "outcome": outcome, "design": design,
            "estimand": "ate" if design == "randomised" else "att", "n_treated": n1, "n_control": n0,
            "control_conversions": conv0, "overlap_treated_above_clip": np.nan, "overlap_json": None}
    allowed = lift_allowed(y[t == 0], min_control_conversions)
    lift_note = None if allowed else f"lift suppressed: control has {conv0} conversions (< {min_control_conversions})"
    sum_y = float(y[t == 1].sum())
    rows = []

    def row(method, est: Estimate | None, primary, cf_sum=np.nan, lift_ci=(np.nan, np.nan), note=None, **extra):
        e = est or Estimate(*(np.nan,) * 5)
        lift = relative_lift(sum_y, cf_sum) if allowed else np.nan
        lci = lift_ci if allowed and np.isfinite(lift) else (np.nan, np.nan)
        notes = "; ".join(x for x in (note, lift_note) if x) or None
        rows.append({**base, "method": method, "is_primary": primary, "estimate": e.estimate, "std_error": e.std_error,
                     "ci_low": e.ci_low, "ci_high": e.ci_high, "p_value": e.p_value, "lift_pct": lift,
                     "lift_ci_low": lci[0], "lift_ci_high": lci[1], "note": notes, **extra})

    def dim_stat(w):
        sy = w[:, t == 1] @ y[t == 1]
        sc = n1 * (w[:, t == 0] @ y[t == 0]) / n0
        return sy, sc

    dim_name = "difference_in_means" if design == "randomised" else "naive_difference"
    dim_note = None if design == "randomised" else "naive contrast, confounded by targeting: not an effect estimate"
    if min(n1, n0) < max(2, n_folds):
        row(dim_name, None, False, note="too few members in an arm")
        row("lin_hc2" if design == "randomised" else "aipw_att", None, True, note="too few members in an arm")
        return rows
    dim = difference_in_means(y, t, alpha)
    need_ci = allowed and n_bootstrap > 0
    dim_ci = bootstrap_lift(t, dim_stat, n_bootstrap, seed, alpha) if need_ci else (np.nan, np.nan)
    row(dim_name, dim, False, n1 * y[t == 0].mean(), dim_ci, note=dim_note)

    if design == "randomised":
        Xt = transform_covariates(X, log1p_covariates)
        try:
            lin = lin_estimate(y, t, Xt, alpha)
        except ValueError as exc:
            row("lin_hc2", None, True, note=str(exc))
            return rows
        lin_ci = bootstrap_lift(t, _control_fit_lift_stat(y, t, Xt), n_bootstrap, seed + 1, alpha) if need_ci else (np.nan, np.nan)
        row("lin_hc2", lin, True, lin.counterfactual_sum, lin_ci)
    else:
        res = aipw_att(y, t, X, learner=learner, n_folds=n_folds, alpha=alpha, random_state=seed % (2**31))

        def aipw_stat(w):
            _, cf, sy = att_from_nuisances(y, t, res.propensity_clipped, res.mu0, w)
            return sy, cf

        aipw_ci = bootstrap_lift(t, aipw_stat, n_bootstrap, seed + 2, alpha) if need_ci else (np.nan, np.nan)
        ov = res.overlap.set_index("group").to_dict(orient="index")
        warn = None
        if res.treated_above_clip > 0.05:
            warn = f"weak overlap: {res.treated_above_clip:.0%} of targeted have propensity > {CLIP[1]}"
        row("aipw_att", Estimate(res.estimate, res.std_error, res.ci_low, res.ci_high, res.p_value), True,
            res.counterfactual_sum, aipw_ci, note=warn,
            overlap_treated_above_clip=res.treated_above_clip, overlap_json=_json(ov))
    return rows


def estimate_campaign_effects(
    members: pd.DataFrame,
    covariates: Sequence[str],
    outcome: str | Sequence[str],
    design: str | Mapping | None = None,
    *,
    treatment: str = "treated",
    campaign: str = "campaign_id",
    n_bootstrap: int = 500,
    min_control_conversions: int = MIN_CONTROL_CONVERSIONS,
    n_folds: int = 5,
    learner: str = "linear",
    log1p_covariates: bool = True,
    alpha: float = 0.05,
    random_state: int = 0,
    categorical: Sequence[str] | None = None,
    min_frequency: int = MIN_FREQUENCY,
    impute_missing: bool = False,
) -> pd.DataFrame:
    """Effect estimates for every campaign × outcome → the rows of `ml.campaign_effects`.

    Takes
      members: one row per unit and campaign with columns `campaign` (campaign_id), `treatment` (0/1 or bool:
        randomised → 1 treatment group, 0 control group; observational → 1 targeted member, 0 eligible
        non-targeted customer of the same period), every outcome column (conversion 0/1, revenue, visits,
        ... in the attribution window) and the `covariates` (measured before `assigned_at`): numeric
        columns (no NaN unless `impute_missing`) and categorical ones (one-hot encoded).
      design: "randomised" / "observational" for all campaigns, a mapping campaign_id → design, or None
        to read a `design` column of `members`.
      n_bootstrap: lift CI replicates (0 skips the CI). min_control_conversions: the E guard (`ml.lift`).
      n_folds, learner: AIPW cross-fitting ("linear" or "hgb", see `ml.nuisance`).
      log1p_covariates: Lin's regression uses log1p of non-negative covariates (skewed counts/money).
      alpha: 1 − CI level. random_state: base seed (each campaign × outcome derives its own from it and
        the ids, so results do not depend on the order or the set of campaigns in `members`).
      categorical / min_frequency / impute_missing: how covariate columns become the matrix of every
        model (`ml.covariates.covariate_matrix`, a ColumnTransformer fitted per campaign): the categorical
        covariates (default: the non-numeric ones), the OneHotEncoder `min_frequency`, and whether NaN in
        numeric covariates is imputed (median + missing indicator) instead of an error.

    Returns one row per campaign × outcome × method, columns `EFFECT_COLUMNS`:
      campaign_id, outcome, design ("randomised" | "observational"), estimand ("ate" | "att"),
      method ("difference_in_means", "lin_hc2" | "naive_difference", "aipw_att"), is_primary (exactly
      one True per campaign × outcome: lin_hc2 or aipw_att), estimate (outcome units per unit: conversion
      rate points or revenue per member), std_error, ci_low, ci_high, p_value, lift_pct (E in %, NaN when
      guarded), lift_ci_low, lift_ci_high, n_treated, n_control (control or comparison units),
      control_conversions (members of the control/comparison with outcome > 0),
      overlap_treated_above_clip (AIPW rows: share of targeted with raw propensity > 0.99),
      overlap_json (AIPW rows: `ml.aipw.overlap_summary` by group as JSON), note (why something is NULL,
      overlap warnings, the naive row's caveat).
    """
    outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
    covariates = list(covariates)
    need = [campaign, treatment, *outcomes, *covariates]
    if design is None:
        need.append("design")
    missing = [c for c in need if c not in members.columns]
    if missing:
        raise ValueError(f"estimate_campaign_effects: missing column(s) {missing}")
    rows: list[dict] = []
    t_all = binary_vector(members[treatment], treatment)
    Y_all = numeric_matrix(members, outcomes)
    design_col = members["design"].to_numpy() if design is None else None
    for cid, idx in sorted(members.groupby(campaign, sort=True).indices.items()):
        if isinstance(design, str):
            d = design
        elif isinstance(design, Mapping):
            d = design.get(cid)
        else:
            vals = pd.unique(design_col[idx])
            if len(vals) != 1:
                raise ValueError(f"campaign {cid}: one design per campaign expected, got {list(vals)}")
            d = vals[0]
        if d not in DESIGNS:
            raise ValueError(f"campaign {cid}: design must be one of {DESIGNS}, got {d!r}")
        t = t_all[idx]
        X, _ = covariate_matrix(members.iloc[idx], covariates, categorical, min_frequency=min_frequency,
                                impute_missing=impute_missing)
        for j, out in enumerate(outcomes):
            y = Y_all[idx, j]
            rows += _effect_rows(cid, out, d, y, t, X, n_bootstrap=n_bootstrap,
                                 min_control_conversions=min_control_conversions, n_folds=n_folds, learner=learner,
                                 alpha=alpha, random_state=random_state, log1p_covariates=log1p_covariates)
    frame = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    frame["is_primary"] = frame["is_primary"].astype(bool)
    for c in ("n_treated", "n_control", "control_conversions"):
        frame[c] = frame[c].astype(np.int64)
    return frame
