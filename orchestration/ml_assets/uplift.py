"""Uplift family: ml.customer_uplift (randomised campaign x member: out-of-fold uplift score, decile, fold),
ml.uplift_curves (randomised campaign x Qini curve point) and their ml.model_runs row, from the randomised
campaigns' units of the dbt model ml_inputs.ml_campaign_units (`inputs.py`; `ml.uplift`, `ml.qini`).

Imported only when the `ml_uplift` asset runs (it imports scikit-learn).
"""

import time
from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

from ml import model_run_record, score_campaign_uplift
from ml.hashing import frame_hash
from ml.uplift import CURVE_TABLE_COLUMNS, CUSTOMER_UPLIFT_COLUMNS, METRIC_COLUMNS
from orchestration.ml_assets import inputs
from orchestration.ml_assets.params import MIN_UPLIFT_ARM, RANDOM_STATE, UPLIFT_OUTCOME, UPLIFT_PARAMS
from orchestration.ml_assets.settings import MlSettings
from orchestration.ml_assets.store import write_family


def uplift_tables(
    units: pd.DataFrame, as_of: date, settings: MlSettings | None = None
) -> tuple[dict[str, pd.DataFrame], dict]:
    """{"customer_uplift", "uplift_curves": frames, "model_runs": their run row}; a summary for the UI.

    Scores the members of every randomised campaign with enough members in both arms (MIN_UPLIFT_ARM:
    cross-fitting needs both arms in every fold) on UPLIFT_OUTCOME; targeted campaigns get no score.
    `settings` (crm.yml `ml:`) chooses the covariates (`inputs.covariate_matrix` says how they are encoded)."""
    settings = settings or MlSettings()
    covs = list(settings.campaign_covariates)
    matrix = inputs.covariate_matrix(settings)
    randomised = units[units["design"] == "randomised"]
    arms = randomised.groupby("campaign_id")["treated"].agg(["sum", "count"])
    too_small = arms.index[
        (arms["sum"] < MIN_UPLIFT_ARM) | (arms["count"] - arms["sum"] < MIN_UPLIFT_ARM)
    ].tolist()
    randomised = randomised[~randomised["campaign_id"].isin(too_small)]
    params = {**UPLIFT_PARAMS, "covariates": covs, "outcome": UPLIFT_OUTCOME, **matrix}
    if randomised.empty:
        cu = pd.DataFrame(columns=CUSTOMER_UPLIFT_COLUMNS)
        uc = pd.DataFrame(columns=CURVE_TABLE_COLUMNS)
        metrics = pd.DataFrame(columns=METRIC_COLUMNS)
    else:
        uplift = score_campaign_uplift(
            randomised, covs, UPLIFT_OUTCOME, None, random_state=RANDOM_STATE, **UPLIFT_PARAMS, **matrix
        )
        cu, uc, metrics = uplift.customer_uplift, uplift.uplift_curves, uplift.metrics
    ids = units[["campaign_id", "customer_id", "master_customer_id"]]
    cu = cu.merge(ids, on=["campaign_id", "customer_id"], how="left")
    first = ["campaign_id", "customer_id", "master_customer_id"]
    cu = cu[[*first, *[c for c in cu.columns if c not in first]]]
    run_metrics = {
        "campaigns_scored": int(cu["campaign_id"].nunique()),
        "campaigns_too_small": too_small,
        "mean_qini": float(metrics["qini_coefficient"].mean()) if len(metrics) else None,
        "by_campaign": metrics.set_index("campaign_id")
        .drop(columns=["outcome", "learner"])
        .to_dict(orient="index")
        if len(metrics)
        else {},
    }
    model_inputs = inputs.campaign_model_inputs(units, settings)
    data_hash = frame_hash(model_inputs[model_inputs["design"] == "randomised"].reset_index(drop=True))
    run = model_run_record(
        "uplift_" + UPLIFT_PARAMS["learner"], data_hash, len(randomised), params, run_metrics, as_of.isoformat()
    )
    summary = {
        "units": len(units),
        "uplift_campaigns": run_metrics["campaigns_scored"],
        "uplift_rows": len(cu),
        "mean_qini": run_metrics["mean_qini"],
    }
    return {"customer_uplift": cu, "uplift_curves": uc, "model_runs": run}, summary


def build_uplift(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    log: Callable[[str], None] = print,
    settings: MlSettings | None = None,
) -> tuple[dict[str, int], dict]:
    """Read the campaign units at `as_of`, score the randomised campaigns' members and write
    ml.customer_uplift and ml.uplift_curves with their run row in one transaction. Returns (rows per
    table, summary)."""
    started = time.perf_counter()
    units = inputs.campaign_units(con, as_of)
    t_inputs = time.perf_counter()
    tables, summary = uplift_tables(units, as_of, settings)
    t_model = time.perf_counter()
    counts = write_family(con, tables, as_of)
    summary.update(inputs_seconds=round(t_inputs - started, 2), seconds=round(t_model - t_inputs, 2),
                   total_seconds=round(time.perf_counter() - started, 2))
    log(f"uplift: inputs {t_inputs - started:.1f} s, model {t_model - t_inputs:.1f} s, "
        f"total {summary['total_seconds']:.1f} s")
    return counts, summary
