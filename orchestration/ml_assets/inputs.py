"""Input frames of the ML stage: read from the dbt models of `dbt_project/models/ml_inputs/` in the work file.

| dbt model (schema ml_inputs)  | frame                                                          | read by (family)          |
|-------------------------------|----------------------------------------------------------------|---------------------------|
| `ml_segment_features`         | one row per master customer: behaviour features at as_of       | segments                  |
| `ml_campaign_units`           | one row per campaign and unit: treatment, outcomes, covariates | campaign_effects, uplift  |
|                               | measured before each unit's assigned_at                        |                           |
| `ml_campaign_cost_population` | one row per campaign: treatment-group members (the members its | campaign_effects          |
|                               | cost paid for; scales the incremental revenue)                 | (incremental_revenue)     |
| `ml_churn_features`           | one row per master customer and cut-off: churn features and    | churn_risk                |
|                               | the 3-month churn label (NULL at as_of, the scored cut-off)    |                           |
| `ml_clv_purchases`            | one row per master customer and purchase day up to as_of       | lifetime_value            |
| `ml_input_settings`           | one row: the as_of and RFM window the models were built with   | every family (checked)    |

dbt builds them with the rest of the project (the run's as_of from int_customer_as_of, crm.yml
`ml.rfm_window_days` from the CRM_ML_RFM_WINDOW_DAYS variable the dbt asset exports); each ML asset depends
on its models through their dbt asset keys (`FAMILY_INPUTS`), so the lineage is dbt's, never a hand list
of marts. Before a family reads its frame, `check_built_for` compares the models' as_of and window with the
run's: a family re-run alone on another day (or after crm.yml changed) fails and says to rebuild the dbt
models, instead of reading features of another day. The readers select fixed columns (identifiers from
the lists below only; no value is ever formatted into SQL) with the frame's sort order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import duckdb

from orchestration.errors import CrmWarehouseError
from orchestration.ml_assets.settings import (
    ATTRIBUTE_COVARIATES,
    DEFAULT_COVARIATES,
    DEFAULT_OUTCOMES,
    EVENT_OUTCOME_COLUMNS,
    PRE_PERIOD_COVARIATES,
    MlSettings,
)

if TYPE_CHECKING:  # the frames are pandas; importing the asset definitions does not import pandas
    import pandas as pd

INPUT_SCHEMA = "ml_inputs"  # the dbt models' schema (work file only: not a published schema)
SETTINGS_MODEL = "ml_input_settings"
SEGMENT_MODEL = "ml_segment_features"
UNITS_MODEL = "ml_campaign_units"
COST_MODEL = "ml_campaign_cost_population"
CHURN_MODEL = "ml_churn_features"
CLV_MODEL = "ml_clv_purchases"
#: the dbt models each family reads (its asset depends on their asset keys)
FAMILY_INPUTS: dict[str, tuple[str, ...]] = {
    "segments": (SETTINGS_MODEL, SEGMENT_MODEL),
    "campaign_effects": (SETTINGS_MODEL, UNITS_MODEL, COST_MODEL),
    "uplift": (SETTINGS_MODEL, UNITS_MODEL),
    "churn_risk": (SETTINGS_MODEL, CHURN_MODEL),
    "lifetime_value": (SETTINGS_MODEL, CLV_MODEL),
}

#: k-means features of ml_segment_features (the rest of its columns are the RFM inputs)
# Chosen on generated data (issue 6) for k-means that finds the planted archetypes (tenure: new; inactivity
# and trend: lapsing; discounted lines: bargain hunters; value and engagement rates: champions vs loyal)
# with boundaries a depth-4 tree can still explain; more rate features (orders, likes and shares apart)
# added little separation and cost tree fidelity. Tenure enters as `observed_tenure_days` (bounded by the
# warehouse history): the true tenure_days (years for customers older than the history) spread the
# established customers and pulled short-tenure ones into "new" (scale 0.1: ARI ratio 0.899 -> 0.916).
SEGMENT_FEATURES = [
    "revenue_per_year",
    "events_per_year",
    "social_per_year",
    "discounted_line_ratio",
    "days_since_last_activity",
    "activity_trend",
    "observed_tenure_days",
]
#: columns of ml_segment_features published in ml.customer_segments beside the model features (raw
#: values, never model inputs): the true tenure, days since sign-up
SEGMENT_PUBLISHED = ["tenure_days"]
RFM_COLUMNS = ("recency_days", "frequency", "monetary")
#: the default pre-assignment covariates and outcomes (crm.yml `ml.campaign_covariates` / `campaign_outcomes`)
CAMPAIGN_COVARIATES = list(DEFAULT_COVARIATES)
CAMPAIGN_OUTCOMES = list(DEFAULT_OUTCOMES)
#: every covariate column of ml_campaign_units (numeric pre-period features, then attributes)
CAMPAIGN_COVARIATE_COLUMNS = [*PRE_PERIOD_COVARIATES, *ATTRIBUTE_COVARIATES]
#: the columns of ml_segment_features, in frame order
SEGMENT_COLUMNS = ("customer_id", *SEGMENT_FEATURES, *SEGMENT_PUBLISHED, *RFM_COLUMNS)
#: the columns of ml_campaign_units, in frame order (the event counts: one per event type of the contract)
UNIT_COLUMNS = ("campaign_id", "design", "customer_id", "master_customer_id", "treated", "assigned_at", "conversion",
                "revenue", *CAMPAIGN_COVARIATE_COLUMNS, *EVENT_OUTCOME_COLUMNS.values())


def _select(model: str, columns: tuple[str, ...], order_by: tuple[str, ...]) -> str:
    """`SELECT <columns> FROM ml_inputs.<model> ORDER BY <order_by>`: every name from the fixed lists above."""
    names = (model, *columns, *order_by)
    assert all(n.isidentifier() for n in names) and model in (SEGMENT_MODEL, UNITS_MODEL, COST_MODEL, CHURN_MODEL,
                                                               CLV_MODEL), names
    return (f"SELECT {', '.join(columns)} FROM {INPUT_SCHEMA}.{model} ORDER BY {', '.join(order_by)}")


def _read(con: duckdb.DuckDBPyConnection, model: str, columns: tuple[str, ...], order_by: tuple[str, ...]) -> pd.DataFrame:
    try:
        return con.execute(_select(model, columns, order_by)).df()
    except duckdb.CatalogException as error:  # the model (or a column) is missing: dbt has not built it yet
        raise CrmWarehouseError(
            f"ML input {INPUT_SCHEMA}.{model} cannot be read from the work file ({str(error).splitlines()[0]}): build the dbt models "
            f"first (a nightly `crm-warehouse run`, or materialize {INPUT_SCHEMA}/{model} in Dagster)"
        ) from error


def check_built_for(con: duckdb.DuckDBPyConnection, as_of: date, rfm_window_days: int | None = None,
                    check_window: bool = False) -> None:
    """Raise CrmWarehouseError unless the ML input models were built for `as_of` (and, with `check_window`,
    for the RFM window `rfm_window_days`, None = full history), naming both and what to do. `as_of` may be a
    datetime (a pandas Timestamp read from a DATE column): its date counts."""
    as_of = as_of.date() if isinstance(as_of, datetime) else as_of
    try:
        row = con.execute(f"SELECT as_of_date, rfm_window_days FROM {INPUT_SCHEMA}.{SETTINGS_MODEL}").fetchall()
    except duckdb.CatalogException as error:
        raise CrmWarehouseError(
            f"ML input {INPUT_SCHEMA}.{SETTINGS_MODEL} is missing from the work file: build the dbt models first "
            "(a nightly `crm-warehouse run`, or materialize the ml_inputs models in Dagster)"
        ) from error
    if len(row) != 1:
        raise CrmWarehouseError(f"{INPUT_SCHEMA}.{SETTINGS_MODEL} holds {len(row)} rows, expected one: rebuild it")
    built_as_of, built_window = row[0]
    if built_as_of != as_of:
        raise CrmWarehouseError(
            f"the ML input models ({INPUT_SCHEMA}) were built for as_of {built_as_of}, this run is for {as_of}: "
            "rebuild the dbt models for this as_of first (run the nightly job, or materialize the ml_inputs "
            "models with the ML assets)"
        )
    if check_window and built_window != rfm_window_days:
        said = lambda days: "the full history" if days is None else f"{days} days"  # noqa: E731
        raise CrmWarehouseError(
            f"{INPUT_SCHEMA}.{SEGMENT_MODEL} was built with an RFM window of {said(built_window)}, crm.yml "
            f"ml.rfm_window_days says {said(rfm_window_days)}: rebuild the dbt models (they read it from "
            "CRM_ML_RFM_WINDOW_DAYS, which the dbt step exports from crm.yml)"
        )


def segment_features(
    con: duckdb.DuckDBPyConnection, as_of: date, rfm_window_days: int | None = None
) -> pd.DataFrame:
    """customer_id (master id), SEGMENT_FEATURES, SEGMENT_PUBLISHED, RFM_COLUMNS of ml_segment_features;
    sorted by customer_id. recency_days is NULL for a customer without a completed order in the RFM window
    (`rfm_window_days`, None = full history), which must be the window the model was built with."""
    check_built_for(con, as_of, rfm_window_days, check_window=True)
    return _read(con, SEGMENT_MODEL, SEGMENT_COLUMNS, ("customer_id",))


def campaign_treatment_members(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """campaign_id -> current treatment-group members (ml_campaign_cost_population): the population the
    campaign's cost paid for, analysed or not."""
    frame = _read(con, COST_MODEL, ("campaign_id", "treatment_members"), ("campaign_id",))
    return frame.set_index("campaign_id")["treatment_members"].astype("int64")


def campaign_units(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """campaign_id, design, customer_id (source id), master_customer_id, treated, assigned_at, conversion,
    revenue, CAMPAIGN_COVARIATE_COLUMNS, then one count column per behaviour event type (`visits`, ...)
    in the attribution window (UNIT_COLUMNS of ml_campaign_units); sorted by campaign_id, customer_id."""
    check_built_for(con, as_of)
    frame = _read(con, UNITS_MODEL, UNIT_COLUMNS, ("campaign_id", "customer_id"))
    counts = list(EVENT_OUTCOME_COLUMNS.values())
    return frame.astype({c: "float64" for c in counts})


#: columns of ml_churn_features: key, cut-off, the model features (orchestration/ml_assets/churn.py), label
CHURN_FEATURE_COLUMNS = ("days_since_last_engagement", "tenure_days", "orders_365d", "revenue_365d", "events_90d",
                         "events_91_365d", "tickets_180d")
CHURN_COLUMNS = ("customer_id", "cut_off_date", *CHURN_FEATURE_COLUMNS, "churned_within_horizon")
#: columns of ml_clv_purchases
CLV_COLUMNS = ("customer_id", "purchase_date", "orders", "net_revenue")


def churn_features(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """CHURN_COLUMNS of ml_churn_features (one row per master customer and cut-off; the label is NULL on
    the as_of rows), sorted by cut_off_date, customer_id; money as float."""
    check_built_for(con, as_of)
    frame = _read(con, CHURN_MODEL, CHURN_COLUMNS, ("cut_off_date", "customer_id"))
    return frame.astype({c: "float64" for c in CHURN_FEATURE_COLUMNS})


def clv_purchases(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """CLV_COLUMNS of ml_clv_purchases (one row per master customer and purchase day up to as_of), sorted by
    customer_id, purchase_date; net_revenue as float."""
    check_built_for(con, as_of)
    frame = _read(con, CLV_MODEL, CLV_COLUMNS, ("customer_id", "purchase_date"))
    return frame.astype({"net_revenue": "float64"})


def covariate_matrix(settings: MlSettings) -> dict:
    """How the campaign models turn the configured covariates into a design matrix (`ml.covariates`):
    categorical ones one-hot encoded (rarer than `covariate_min_frequency` grouped), a missing numeric value
    (recency of a never-purchasing customer) imputed with a missing indicator."""
    return {
        "categorical": list(settings.categorical_covariates),
        "min_frequency": settings.covariate_min_frequency,
        "impute_missing": True,
    }


def campaign_model_inputs(units: pd.DataFrame, settings: MlSettings) -> pd.DataFrame:
    """The columns of `units` the campaign models see (hashed into their ml.model_runs row): campaign_id,
    customer_id, design, treated, the configured outcomes, then the configured covariates."""
    return units[
        ["campaign_id", "customer_id", "design", "treated", *settings.campaign_outcomes, *settings.campaign_covariates]
    ]
