"""Lifetime-value family: ml.customer_lifetime_value (master customer with a completed order: P(alive),
expected purchases and value over the next 12 months), ml.clv_calibration (hold-out check by decile of
predicted value) and their ml.model_runs row, from the dbt model ml_inputs.ml_clv_purchases (`inputs.py`;
the models are `ml.clv`: BG/NBD for purchases and P(alive), Gamma-Gamma for value per purchase).

The hold-out check refits both models on the purchases before as_of - H (H = min(365 days, half the
purchase history)), predicts each of those customers' purchases and value in the H days after, and
compares them with what they actually bought there, by decile of predicted value (1 = highest). The
published values come from the models refit on the whole history up to as_of. A history too thin to fit
(fewer than 10 repeat buyers) gives empty tables and a run row that says why, not a failed run.

Imported only when the `ml_customer_lifetime_value` asset runs (it imports scipy).
"""

import time
from collections.abc import Callable
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from ml import clv, model_run_record
from ml.hashing import frame_hash
from orchestration.ml_assets import inputs
from orchestration.ml_assets.params import CLV_PARAMS
from orchestration.ml_assets.settings import MlSettings
from orchestration.ml_assets.store import write_family

UNIT = CLV_PARAMS["time_unit_days"]
VALUE_COLUMNS = ["customer_id", "frequency", "recency_weeks", "tenure_weeks", "average_repeat_value",
                 "probability_alive", "expected_purchases_12m", "expected_value_per_purchase", "expected_value_12m"]
CALIBRATION_COLUMNS = ["decile", "customers", "predicted_purchases", "realised_purchases", "predicted_value",
                       "realised_value"]


def _summary(purchases: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    return clv.summary_frame(purchases, end, UNIT, date_col="purchase_date", value_col="net_revenue")


def _fit(summary: pd.DataFrame) -> tuple[clv.BgNbdParams, clv.GammaGammaParams]:
    return clv.fit_bgnbd(summary), clv.fit_gamma_gamma(summary)


def holdout_check(purchases: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, dict]:
    """Per decile of predicted hold-out value: customers and mean predicted / realised purchases and value;
    the metrics of the check. Raises ValueError when the calibration period is too thin to fit."""
    end = pd.Timestamp(as_of)
    history_days = int((end - pd.Timestamp(purchases["purchase_date"].min())).days)
    days = min(CLV_PARAMS["max_holdout_days"], history_days // 2)
    if days < 28:
        raise ValueError(f"a purchase history of {history_days} days leaves no hold-out period")
    cal_end = end - pd.Timedelta(days=days)
    dates = pd.to_datetime(purchases["purchase_date"])
    calibration = _summary(purchases[dates <= cal_end], cal_end)
    bgnbd, gamma_gamma = _fit(calibration)
    predicted = clv.customer_lifetime_value(calibration, bgnbd, gamma_gamma, horizon=days / UNIT)
    later = purchases[dates > cal_end].groupby("customer_id").agg(
        realised_purchases=("purchase_date", "nunique"), realised_value=("net_revenue", "sum"))
    frame = predicted.join(later).fillna({"realised_purchases": 0, "realised_value": 0.0})
    rank = frame["expected_value"].rank(method="first", ascending=False)
    frame["decile"] = np.ceil(rank * CLV_PARAMS["deciles"] / len(frame)).astype(int)
    deciles = frame.groupby("decile").agg(
        customers=("expected_value", "size"), predicted_purchases=("expected_purchases", "mean"),
        realised_purchases=("realised_purchases", "mean"), predicted_value=("expected_value", "mean"),
        realised_value=("realised_value", "mean")).reset_index()
    total_predicted, total_realised = float(frame["expected_value"].sum()), float(frame["realised_value"].sum())
    metrics = {
        "holdout_days": days, "calibration_end": str(cal_end.date()), "holdout_customers": len(frame),
        "predicted_value_total": round(total_predicted, 2), "realised_value_total": round(total_realised, 2),
        "value_ratio": total_predicted / total_realised if total_realised else None,
        "purchases_ratio": (float(frame["expected_purchases"].sum()) / float(frame["realised_purchases"].sum())
                            if frame["realised_purchases"].sum() else None),
        "decile_rank_correlation": float(deciles["predicted_value"].corr(deciles["realised_value"], method="spearman")),
        "mean_absolute_error_value": float((frame["expected_value"] - frame["realised_value"]).abs().mean()),
    }
    return deciles[CALIBRATION_COLUMNS], metrics


def value_table(purchases: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, dict]:
    """ml.customer_lifetime_value from the models fit on the whole history; their parameters."""
    summary = _summary(purchases, pd.Timestamp(as_of))
    bgnbd, gamma_gamma = _fit(summary)
    value = clv.customer_lifetime_value(summary, bgnbd, gamma_gamma, horizon=CLV_PARAMS["horizon_days"] / UNIT)
    out = pd.DataFrame({
        "customer_id": summary.index, "frequency": summary["frequency"].to_numpy(),
        "recency_weeks": summary["recency"].to_numpy(), "tenure_weeks": summary["T"].to_numpy(),
        "average_repeat_value": summary["monetary_value"].to_numpy(),
        "probability_alive": value["probability_alive"].to_numpy(),
        "expected_purchases_12m": value["expected_purchases"].to_numpy(),
        "expected_value_per_purchase": value["expected_value_per_purchase"].to_numpy(),
        "expected_value_12m": value["expected_value"].to_numpy(),
    })
    params = {"bgnbd": vars(bgnbd), "gamma_gamma": vars(gamma_gamma)}
    return out[VALUE_COLUMNS], params


def clv_tables(purchases: pd.DataFrame, as_of: date) -> tuple[dict[str, pd.DataFrame], dict]:
    """{"customer_lifetime_value", "clv_calibration": frames, "model_runs": the run row}; a summary."""
    metrics: dict = {}
    try:
        value, fitted = value_table(purchases, as_of)
        metrics["fitted"] = fitted
    except ValueError as error:  # too few (repeat) buyers to fit
        value, metrics["skipped"] = pd.DataFrame(columns=VALUE_COLUMNS), str(error)
    try:
        calibration, check = holdout_check(purchases, as_of)
        metrics["holdout"] = check
    except ValueError as error:
        calibration, metrics["holdout_skipped"] = pd.DataFrame(columns=CALIBRATION_COLUMNS), str(error)
    metrics["customers"] = len(value)
    run = model_run_record("lifetime_value_bgnbd_gamma_gamma", frame_hash(purchases), len(purchases), CLV_PARAMS,
                           metrics, as_of.isoformat())
    summary = {"customers": len(value), "skipped": metrics.get("skipped"),
               "value_ratio": metrics.get("holdout", {}).get("value_ratio")}
    return {"customer_lifetime_value": value, "clv_calibration": calibration, "model_runs": run}, summary


def build_lifetime_value(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    log: Callable[[str], None] = print,
    settings: MlSettings | None = None,
) -> tuple[dict[str, int], dict]:
    """Read the purchase history at `as_of`, run the hold-out check and the models; write
    ml.customer_lifetime_value and ml.clv_calibration with their run row in one transaction."""
    started = time.perf_counter()
    purchases = inputs.clv_purchases(con, as_of)
    t_inputs = time.perf_counter()
    if purchases.empty:
        tables = {"customer_lifetime_value": pd.DataFrame(columns=VALUE_COLUMNS),
                  "clv_calibration": pd.DataFrame(columns=CALIBRATION_COLUMNS),
                  "model_runs": model_run_record("lifetime_value_bgnbd_gamma_gamma", frame_hash(purchases), 0,
                                                 CLV_PARAMS, {"skipped": "no completed order"}, as_of.isoformat())}
        summary = {"customers": 0, "skipped": "no completed order", "value_ratio": None}
    else:
        tables, summary = clv_tables(purchases, as_of)
    t_model = time.perf_counter()
    counts = write_family(con, tables, as_of)
    summary.update(inputs_seconds=round(t_inputs - started, 2), seconds=round(t_model - t_inputs, 2))
    if summary["skipped"]:
        log(f"lifetime value: no model this run: {summary['skipped']}")
    log(f"lifetime value: {summary['customers']} customers, hold-out value ratio {summary['value_ratio']}, "
        f"inputs {t_inputs - started:.1f} s, model {t_model - t_inputs:.1f} s")
    return counts, summary
