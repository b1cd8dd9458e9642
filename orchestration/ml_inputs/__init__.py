"""Input frames of the ML stage, built with DuckDB SQL from the marts of the work file.

| file                      | frame                                                           | feeds                          |
|---------------------------|-----------------------------------------------------------------|--------------------------------|
| `segment_features.sql`    | one row per master customer: behaviour features at `as_of`     | ml.customer_segments & co.     |
| `campaign_units.sql`      | one row per campaign and unit: treatment, outcomes, covariates  | ml.campaign_effects, uplift    |
|                           | measured before each unit's assigned_at                         |                                |

The SQL takes one parameter, `$as_of` (the run's logical date); no value is ever formatted into it.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

SQL_DIR = Path(__file__).resolve().parent

#: k-means features of `segment_features.sql` (the rest of its columns are the RFM inputs)
# Chosen on generated data (issue 6) for k-means that finds the planted archetypes (tenure: new; inactivity
# and trend: lapsing; discounted lines: bargain hunters; value and engagement rates: champions vs loyal)
# with boundaries a depth-4 tree can still explain; more rate features (orders, likes and shares apart)
# added little separation and cost tree fidelity.
SEGMENT_FEATURES = [
    "revenue_per_year",
    "events_per_year",
    "social_per_year",
    "discounted_line_ratio",
    "days_since_last_activity",
    "activity_trend",
    "tenure_days",
]
RFM_COLUMNS = ("recency_days", "frequency", "monetary")
#: pre-assignment covariates of `campaign_units.sql`
CAMPAIGN_COVARIATES = ["recency_days", "frequency", "monetary", "visits_90d", "tickets_365d"]
CAMPAIGN_OUTCOMES = ["conversion", "revenue"]


@cache
def sql(name: str) -> str:
    """The text of `<name>.sql` in this folder (a fixed name, never user input)."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def segment_features(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """customer_id (master id), SEGMENT_FEATURES, RFM_COLUMNS; sorted by customer_id."""
    return con.execute(sql("segment_features"), {"as_of": as_of}).df()


def campaign_units(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """campaign_id, design, customer_id (source id), master_customer_id, treated, assigned_at, conversion,
    revenue, CAMPAIGN_COVARIATES; sorted by campaign_id, customer_id."""
    return con.execute(sql("campaign_units"), {"as_of": as_of}).df()
