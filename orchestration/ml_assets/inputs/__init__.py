"""Input frames of the ML stage, built with DuckDB SQL from the marts of the work file.

| file                      | frame                                                           | feeds                          |
|---------------------------|-----------------------------------------------------------------|--------------------------------|
| `segment_features.sql`    | one row per master customer: behaviour features at `as_of`     | ml.customer_segments & co.     |
| `campaign_units.sql`      | one row per campaign and unit: treatment, outcomes, covariates  | ml.campaign_effects, uplift    |
|                           | measured before each unit's assigned_at                         |                                |
| `campaign_cost_population.sql` | one row per campaign: treatment-group members (the members | ml.campaign_effects            |
|                           | its cost paid for; scales the incremental revenue)              | (incremental_revenue)          |

The SQL takes the run's logical date `$as_of` (never the clock) and, for the segment features, the RFM
window `$rfm_window_days` (NULL = the full history; `ml.rfm_window_days` of crm.yml). No value is ever
formatted into it: the only generated SQL is the list of behaviour-event outcome columns of
`campaign_units.sql`, built from the contract's allow-list of event types (`orchestration.ml_assets.
settings.EVENT_OUTCOME_COLUMNS`: identifiers from the allow-list, the type values passed as parameters).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.ml_assets.settings import (
    ATTRIBUTE_COVARIATES,
    DEFAULT_COVARIATES,
    DEFAULT_OUTCOMES,
    EVENT_OUTCOME_COLUMNS,
    PRE_PERIOD_COVARIATES,
    MlSettings,
)

SQL_DIR = Path(__file__).resolve().parent

#: k-means features of `segment_features.sql` (the rest of its columns are the RFM inputs)
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
#: columns of `segment_features.sql` published in ml.customer_segments beside the model features (raw
#: values, never model inputs): the true tenure, days since sign-up
SEGMENT_PUBLISHED = ["tenure_days"]
RFM_COLUMNS = ("recency_days", "frequency", "monetary")
#: the default pre-assignment covariates and outcomes (crm.yml `ml.campaign_covariates` / `campaign_outcomes`)
CAMPAIGN_COVARIATES = list(DEFAULT_COVARIATES)
CAMPAIGN_OUTCOMES = list(DEFAULT_OUTCOMES)
#: every covariate column `campaign_units.sql` returns (numeric pre-period features, then attributes)
CAMPAIGN_COVARIATE_COLUMNS = [*PRE_PERIOD_COVARIATES, *ATTRIBUTE_COVARIATES]
EVENT_COLUMNS_MARKER = "/* event outcome columns */"


@cache
def sql(name: str) -> str:
    """The text of `<name>.sql` in this folder (a fixed name, never user input)."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def segment_features(
    con: duckdb.DuckDBPyConnection, as_of: date, rfm_window_days: int | None = None
) -> pd.DataFrame:
    """customer_id (master id), SEGMENT_FEATURES, SEGMENT_PUBLISHED, RFM_COLUMNS; sorted by customer_id.
    recency_days is NULL for a customer without a completed order in the RFM window (`rfm_window_days`,
    None = full history)."""
    params = {"as_of": as_of, "rfm_window_days": rfm_window_days}
    return con.execute(sql("segment_features"), params).df()


@cache
def campaign_units_sql() -> tuple[str, tuple[str, ...]]:
    """`campaign_units.sql` with its event outcome columns, and the names of their type parameters.

    One `count(...) filter (where event_type = $event_type_<i>) as <column>` per event type of the
    contract: the column name comes from the allow-list (`EVENT_OUTCOME_COLUMNS`), the type is a parameter.
    """
    lines, names = [], []
    for i, (event_type, column) in enumerate(EVENT_OUTCOME_COLUMNS.items()):
        assert column.isidentifier() and event_type.isidentifier(), column  # allow-list only
        names.append(f"event_type_{i}")
        lines.append(
            f"count(behaviour_events.occurred_at) filter (where behaviour_events.event_type = $event_type_{i})"
            f" as {column},"
        )
    text = sql("campaign_units")
    assert text.count(EVENT_COLUMNS_MARKER) == 1
    return text.replace(EVENT_COLUMNS_MARKER, "\n        ".join(lines)), tuple(names)


def campaign_treatment_members(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """campaign_id -> current treatment-group members (`campaign_cost_population.sql`): the population
    the campaign's cost paid for, analysed or not."""
    frame = con.execute(sql("campaign_cost_population")).df()
    return frame.set_index("campaign_id")["treatment_members"].astype("int64")


def campaign_units(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """campaign_id, design, customer_id (source id), master_customer_id, treated, assigned_at, conversion,
    revenue, CAMPAIGN_COVARIATE_COLUMNS, then one count column per behaviour event type (`visits`, ...)
    in the attribution window; sorted by campaign_id, customer_id."""
    text, names = campaign_units_sql()
    params = {"as_of": as_of, **dict(zip(names, EVENT_OUTCOME_COLUMNS, strict=True))}
    frame = con.execute(text, params).df()
    counts = list(EVENT_OUTCOME_COLUMNS.values())
    return frame.astype({c: "float64" for c in counts})


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
