"""Churn-risk family: ml.customer_churn_risk (active master customer at as_of: P(churned within 3 months),
risk band, top reasons), ml.churn_calibration (reliability curve of the held-out cut-off) and their
ml.model_runs row (AUC, Brier score, base-rate Brier, calibration error), from the dbt model
ml_inputs.ml_churn_features (`inputs.py`; the model is `ml.churn_risk`).

Time-based evaluation: fit on every labelled cut-off but the latest, evaluate on the latest (never a
random split of one cut-off: that would leak the future); the scoring model is then refit on every
labelled cut-off and scores the as_of rows. A warehouse whose history has fewer than two labelled cut-offs
(or one outcome only) gets empty tables and a run row that says why, not a failed run.

Imported only when the `ml_churn_risk` asset runs (it imports scikit-learn).
"""

import time
from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

from ml import churn_risk, model_run_record
from ml.hashing import frame_hash
from orchestration.ml_assets import inputs
from orchestration.ml_assets.params import CHURN_PARAMS, RANDOM_STATE
from orchestration.ml_assets.settings import MlSettings
from orchestration.ml_assets.store import write_family

FEATURES = churn_risk.ChurnFeatures(skewed=inputs.CHURN_FEATURE_COLUMNS)
LABEL = "churned_within_horizon"
REASONS = [f"reason_{k + 1}" for k in range(CHURN_PARAMS["top_reasons"])]
RISK_COLUMNS = ["customer_id", "churn_probability", "risk_band", *REASONS, *FEATURES.columns]
CALIBRATION_COLUMNS = ["bin_low", "bin_high", "customers", "mean_predicted", "observed_rate"]


def _skipped(frame: pd.DataFrame, labelled: pd.DataFrame) -> str | None:
    """Why no model can be trained on this history (None when one can)."""
    cut_offs = labelled["cut_off_date"].nunique()
    if cut_offs < 2:
        return f"{cut_offs} labelled cut-off(s): a time-based split needs two (the history is too short)"
    train = labelled[labelled["cut_off_date"] < labelled["cut_off_date"].max()]
    if train[LABEL].nunique() < 2 or labelled[LABEL].nunique() < 2:
        return "the labelled cut-offs hold one outcome only (no churn, or churn only)"
    if frame[LABEL].isna().sum() == 0:
        return "no active customer at as_of to score"
    return None


def churn_tables(frame: pd.DataFrame, as_of: date) -> tuple[dict[str, pd.DataFrame], dict]:
    """{"customer_churn_risk", "churn_calibration": frames, "model_runs": the run row}; a summary."""
    labelled = frame[frame[LABEL].notna()].reset_index(drop=True)
    scoring = frame[frame[LABEL].isna()].reset_index(drop=True)
    params = {**CHURN_PARAMS, "features": FEATURES.columns, "random_state": RANDOM_STATE}
    reason = _skipped(frame, labelled)
    if reason is None:
        train, held_out = churn_risk.time_split(labelled, "cut_off_date")
        evaluation = churn_risk.fit(train, LABEL, FEATURES, RANDOM_STATE)
        probability = evaluation.predict_proba(held_out[FEATURES.columns])[:, 1]
        metrics = churn_risk.evaluate(held_out[LABEL], probability)
        curve = churn_risk.reliability_curve(held_out[LABEL].to_numpy(), probability, CHURN_PARAMS["reliability_bins"])
        model = churn_risk.fit(labelled, LABEL, FEATURES, RANDOM_STATE)
        scores = churn_risk.score(model, scoring, FEATURES, top=CHURN_PARAMS["top_reasons"])
        risk = pd.concat([scoring[["customer_id"]], scores, scoring[FEATURES.columns]], axis=1)[RISK_COLUMNS]
        coefficients = dict(zip(FEATURES.columns, model.named_steps["model"].coef_[0].round(6).tolist(), strict=True))
        metrics.update(train_cut_offs=sorted(str(d.date()) for d in pd.to_datetime(train["cut_off_date"].unique())),
                       evaluation_cut_off=str(pd.Timestamp(held_out["cut_off_date"].iloc[0]).date()),
                       coefficients=coefficients, reliability_curve=curve.to_dict(orient="records"),
                       scored=len(risk), risk_bands=risk["risk_band"].value_counts().sort_index().to_dict())
    else:
        risk = pd.DataFrame(columns=RISK_COLUMNS)
        curve = pd.DataFrame(columns=CALIBRATION_COLUMNS)
        metrics = {"skipped": reason}
    run = model_run_record("churn_risk", frame_hash(labelled), len(labelled), params, metrics, as_of.isoformat())
    summary = {"scored": len(risk), "skipped": reason, "auc": metrics.get("auc"), "brier": metrics.get("brier")}
    return {"customer_churn_risk": risk, "churn_calibration": curve, "model_runs": run}, summary


def build_churn_risk(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    log: Callable[[str], None] = print,
    settings: MlSettings | None = None,
) -> tuple[dict[str, int], dict]:
    """Read the churn frame at `as_of`, evaluate, fit and score; write ml.customer_churn_risk and
    ml.churn_calibration with their run row in one transaction. Returns (rows per table, summary)."""
    started = time.perf_counter()
    frame = inputs.churn_features(con, as_of)
    t_inputs = time.perf_counter()
    tables, summary = churn_tables(frame, as_of)
    t_model = time.perf_counter()
    counts = write_family(con, tables, as_of)
    summary.update(inputs_seconds=round(t_inputs - started, 2), seconds=round(t_model - t_inputs, 2))
    if summary["skipped"]:
        log(f"churn risk: no model this run: {summary['skipped']}")
    log(f"churn risk: {summary['scored']} customers scored, AUC {summary['auc']}, inputs {t_inputs - started:.1f} s, "
        f"model {t_model - t_inputs:.1f} s")
    return counts, summary
