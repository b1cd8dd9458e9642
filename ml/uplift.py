"""Per-customer uplift scores for randomised campaigns, cross-fitted so every score is out of fold.

Learners (`learner=`):
* "t"  — T-learner: μ1(x) on treated, μ0(x) on control (outer training folds), score = μ1 − μ0.
* "dr" — DR-learner (default): inside each outer training set, μ0/μ1 are themselves cross-fitted on two
         halves, giving the doubly robust pseudo-outcome with the randomisation probability p:
             ψ = μ1 − μ0 + t (y − μ1) / p − (1 − t) (y − μ0) / (1 − p)
         and a final regression of ψ on x predicts the held-out fold. Lower variance than "t" when
         effects are small relative to the baseline, as campaign effects usually are.
Nuisances use `nuisance=` ("hgb" default, or "linear"); the DR final stage uses `final=` ("linear"
default: ridge on [x, log1p x]; or "hgb").

Scores are only produced for randomised campaigns: with targeting, treated and control differ in
covariates and a T-learner's difference is confounded, so `design="observational"` raises.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from .covariates import MIN_FREQUENCY, covariate_matrix
from .nuisance import fit_predict, outcome_model
from .qini import curve_points, uplift_metrics
from .ranking import tied_quantile_scores
from .threads import one_thread
from .validation import binary_vector, numeric_matrix

UPLIFT_LEARNERS = ("t", "dr")
CUSTOMER_UPLIFT_COLUMNS = ["campaign_id", "customer_id", "outcome", "learner", "uplift_score", "decile", "fold"]
CURVE_TABLE_COLUMNS = ["campaign_id", "outcome", "learner", "fraction_targeted", "n_targeted", "qini", "qini_random",
                       "cumulative_gain", "uplift_in_top"]
METRIC_COLUMNS = ["campaign_id", "outcome", "learner", "n_members", "n_treated", "qini_coefficient", "auuc",
                  "uplift_top10", "uplift_top20", "uplift_top30"]


def _cap(idx: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """At most `cap` of the indices (a seeded random subset, kept in order)."""
    if cap is None or len(idx) <= cap:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size=cap, replace=False))


def _t_scores(y, t, X, train, test, nuisance, seed):
    tr1, tr0 = train[t[train] == 1], train[t[train] == 0]
    mu1 = fit_predict(outcome_model(nuisance, seed), X[tr1], y[tr1], X[test])
    mu0 = fit_predict(outcome_model(nuisance, seed + 1), X[tr0], y[tr0], X[test])
    return mu1 - mu0


def _dr_scores(y, t, X, train, test, nuisance, final, seed):
    p = float(t[train].mean())
    inner = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    mu1 = np.empty(len(train))
    mu0 = np.empty(len(train))
    for j, (a, b) in enumerate(inner.split(X[train], t[train])):
        ia, ib = train[a], train[b]
        a1, a0 = ia[t[ia] == 1], ia[t[ia] == 0]
        mu1[b] = fit_predict(outcome_model(nuisance, seed + 2 * j), X[a1], y[a1], X[ib])
        mu0[b] = fit_predict(outcome_model(nuisance, seed + 2 * j + 1), X[a0], y[a0], X[ib])
    ys, ts = y[train], t[train]
    psi = mu1 - mu0 + ts * (ys - mu1) / p - (1 - ts) * (ys - mu0) / (1 - p)
    return fit_predict(outcome_model(final, seed + 7), X[train], psi, X[test])


def uplift_scores(
    y, t, X, *, learner: str = "dr", nuisance: str = "hgb", final: str = "linear", n_folds: int = 5,
    random_state: int = 0, design: str = "randomised", max_train_rows: int | None = 200_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold uplift scores for one randomised campaign.

    Takes outcome y (n,), 0/1 treatment t (n,), covariates X (n, p) and the learner settings (module
    docstring). Returns (scores, fold): the predicted effect of treatment on y for each member (outcome
    units, e.g. conversion probability points) from models that never saw that member, and its fold (0..K-1).
    `max_train_rows` caps each outer fold's training set (a seeded random subset) for every model fitted
    in that fold; every member is still scored by its fold's models. 200 000 rows pin down the nuisance
    and the linear final stage far beyond the sampling noise of any campaign, and keep a million-member
    campaign within budget. None disables the cap.
    Raises ValueError for `design != "randomised"`: targeted campaigns get no uplift score.
    """
    if design != "randomised":
        raise ValueError(f"uplift scores need a randomised campaign (treatment vs control); got design={design!r}")
    if learner not in UPLIFT_LEARNERS:
        raise ValueError(f"learner must be one of {UPLIFT_LEARNERS}, got {learner!r}")
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    if min(t.sum(), (1 - t).sum()) < 2 * n_folds:
        raise ValueError(f"uplift needs >= {2 * n_folds} members in each arm")
    scores = np.empty(len(y))
    fold = np.empty(len(y), dtype=np.int64)
    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    with one_thread():
        for k, (train, test) in enumerate(outer.split(X, t)):
            seed = random_state + 100 * k
            train = _cap(train, max_train_rows, seed + 99)
            if learner == "t":
                scores[test] = _t_scores(y, t, X, train, test, nuisance, seed)
            else:
                scores[test] = _dr_scores(y, t, X, train, test, nuisance, final, seed)
            fold[test] = k
    return scores, fold


@dataclass(frozen=True)
class UpliftResult:
    """Frames for `ml.customer_uplift` (`CUSTOMER_UPLIFT_COLUMNS`), `ml.uplift_curves`
    (`CURVE_TABLE_COLUMNS`) and per-campaign evaluation metrics (`METRIC_COLUMNS`; e.g. for
    `ml.model_runs.metrics_json`), plus the campaigns skipped as observational."""

    customer_uplift: pd.DataFrame
    uplift_curves: pd.DataFrame
    metrics: pd.DataFrame
    skipped: list


def score_campaign_uplift(
    members: pd.DataFrame,
    covariates: Sequence[str],
    outcome: str,
    design: str | Mapping | None = None,
    *,
    treatment: str = "treated",
    campaign: str = "campaign_id",
    customer: str = "customer_id",
    learner: str = "dr",
    nuisance: str = "hgb",
    final: str = "linear",
    n_folds: int = 5,
    n_points: int = 100,
    random_state: int = 0,
    max_train_rows: int | None = 200_000,
    categorical: Sequence[str] | None = None,
    min_frequency: int = MIN_FREQUENCY,
    impute_missing: bool = False,
) -> UpliftResult:
    """Cross-fitted uplift scores, deciles, held-out evaluation and curve points for each randomised campaign.

    Takes
      members: one row per campaign member: `campaign`, `customer`, `treatment` (0/1: treatment vs control
        group), `outcome` and the pre-assignment `covariates` (numeric and categorical columns, made a
        matrix per campaign by `ml.covariates.covariate_matrix` with `categorical`, `min_frequency`,
        `impute_missing`, as in `ml.effects.estimate_campaign_effects`).
      design: "randomised" for all, a mapping campaign_id → design, or None to read a `design` column.
        Observational campaigns are skipped (listed in `skipped`): they get no score.
      learner / nuisance / final / n_folds / random_state / max_train_rows: see `uplift_scores`.

    Returns an `UpliftResult` with
      customer_uplift: campaign_id, customer_id, outcome, learner, uplift_score (out-of-fold predicted
        effect, outcome units), decile (1 = highest predicted uplift .. 10; equal scores share a decile),
        fold (the held-out fold that produced the score);
      uplift_curves: campaign_id, outcome, learner + `ml.qini.curve_points` columns (n_points + 1 rows per
        campaign), evaluated on the out-of-fold scores and the observed outcomes;
      metrics: campaign_id, outcome, learner, n_members, n_treated, qini_coefficient, auuc, uplift_top10,
        uplift_top20, uplift_top30.
    """
    need = [campaign, customer, treatment, outcome, *covariates] + (["design"] if design is None else [])
    missing = [c for c in need if c not in members.columns]
    if missing:
        raise ValueError(f"score_campaign_uplift: missing column(s) {missing}")
    scored, curves, metrics, skipped = [], [], [], []
    for cid, grp in members.groupby(campaign, sort=True):
        d = design if isinstance(design, str) else design.get(cid) if isinstance(design, Mapping) else grp["design"].iloc[0]
        if d != "randomised":
            skipped.append(cid)
            continue
        t = binary_vector(grp[treatment], treatment)
        y = numeric_matrix(grp, [outcome])[:, 0]
        X, _ = covariate_matrix(grp, list(covariates), categorical, min_frequency=min_frequency,
                                impute_missing=impute_missing)
        seed = random_state + zlib.crc32(f"{cid}|{outcome}".encode()) % 100_000
        s, fold = uplift_scores(y, t, X, learner=learner, nuisance=nuisance, final=final, n_folds=n_folds,
                                random_state=seed, max_train_rows=max_train_rows)
        scored.append(pd.DataFrame({"campaign_id": cid, "customer_id": grp[customer].to_numpy(), "outcome": outcome,
                                    "learner": learner, "uplift_score": s,
                                    "decile": tied_quantile_scores(s, 10, higher_is_better=False).astype(np.int64),
                                    "fold": fold}))
        pts = curve_points(y, t, s, n_points)
        curves.append(pts.assign(campaign_id=cid, outcome=outcome, learner=learner))
        metrics.append({"campaign_id": cid, "outcome": outcome, "learner": learner, "n_members": len(y),
                        "n_treated": int(t.sum()), **uplift_metrics(y, t, s)})
    customer_uplift = (pd.concat(scored, ignore_index=True) if scored
                       else pd.DataFrame(columns=CUSTOMER_UPLIFT_COLUMNS))[CUSTOMER_UPLIFT_COLUMNS]
    uplift_curves = (pd.concat(curves, ignore_index=True) if curves
                     else pd.DataFrame(columns=CURVE_TABLE_COLUMNS))[CURVE_TABLE_COLUMNS]
    return UpliftResult(customer_uplift, uplift_curves, pd.DataFrame(metrics, columns=METRIC_COLUMNS), skipped)
