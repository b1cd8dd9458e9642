"""The report's SQL: small aggregate queries over the PUBLISHED warehouse file (opened read-only).

Every query names the tables and columns it needs; a query whose tables or columns are missing from
the published file (e.g. the `ml` schema before the models run) is not executed and is reported as
missing instead, so the report still renders. Table names come from the fixed allow-list `TABLES`;
no value is ever formatted into SQL (there are no parameters at all: the queries aggregate whole
tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.errors import CrmWarehouseError
from orchestration.settings import connect_duckdb

# table -> columns the report reads from it (the allow-list: nothing else is ever queried)
TABLES: dict[str, tuple[str, ...]] = {
    "reports.rpt_customer": ("month", "source", "customers_total", "customers_new", "customers_active",
                             "customers_churned", "customers_churned_total"),
    "reports.rpt_sales": ("month", "rep_id", "region", "product_category", "net_units", "net_amount",
                          "discount_amount", "net_revenue"),
    "reports.rpt_sales_rep_month": ("month", "rep_id", "target_amount", "revenue_amount"),
    "reports.rpt_campaign": ("campaign_id", "campaign_name", "channel", "design", "start_date", "members",
                             "sent", "open_rate", "click_rate", "response_rate", "treatment_conversion_rate",
                             "control_conversion_rate", "cost", "attributed_revenue", "attributed_roi"),
    "reports.rpt_service": ("month", "category", "priority", "tickets", "resolved_tickets",
                            "first_response_minutes_median", "first_response_minutes_p90",
                            "unresolved_tickets", "full_resolution_minutes_median_solved",
                            "full_resolution_minutes_p90_solved", "first_response_breaches",
                            "resolution_breaches", "one_touch_tickets", "rated_tickets", "satisfied_tickets",
                            "avg_satisfaction_score", "avg_satisfaction_score_target"),
    "ml.campaign_effects": ("campaign_id", "outcome", "method", "estimate", "ci_low", "ci_high", "p_value",
                            "lift_pct", "n_treated", "n_control", "design", "is_primary"),
    "ml.customer_segments": ("segment_name", "rfm_segment"),
    "ml.segment_profiles": ("segment_name", "feature", "centroid_z", "mean"),
    "ml.customer_churn_risk": ("risk_band", "churn_probability", "reason_1"),
    "ml.churn_calibration": ("bin_low", "bin_high", "customers", "mean_predicted", "observed_rate"),
    "ml.customer_lifetime_value": ("expected_value_12m", "expected_purchases_12m", "probability_alive"),
    "ml.clv_calibration": ("decile", "customers", "predicted_purchases", "realised_purchases", "predicted_value",
                           "realised_value"),
    "ml.model_runs": ("model", "as_of", "run_id", "metrics_json"),
    "ops.quarantine": ("entity", "reason", "status"),
    "ops.data_issues": ("entity", "reason"),
    "ops.load_audit": ("extract_date", "entity", "rows_in_file", "rows_loaded", "rows_quarantined",
                       "rows_released", "loaded_at"),
    "ops.publish_log": ("publish_id", "as_of", "published_at", "table_name", "row_count"),
    "ops.module_status": ("module", "status", "entities_not_delivered", "site", "currency"),
}


@dataclass(frozen=True)
class Query:
    """A named aggregate query and the allow-listed tables it reads."""

    name: str
    tables: tuple[str, ...]
    sql: str


QUERIES: tuple[Query, ...] = (
    # --- the site: which CRM modules it delivers, its currency -----------------------------------
    Query("module_status", ("ops.module_status",), """
        SELECT module, status, entities_not_delivered, site, currency FROM ops.module_status ORDER BY module
    """),
    # --- freshness ---------------------------------------------------------------------------------
    Query("publishes", ("ops.publish_log",), """
        SELECT publish_id, as_of, published_at, count(*) AS tables, sum(row_count)::BIGINT AS rows
        FROM ops.publish_log GROUP BY ALL ORDER BY published_at DESC, publish_id DESC LIMIT 10
    """),
    Query("extracts", ("ops.load_audit",), """
        SELECT max(extract_date) AS newest_extract, min(extract_date) AS first_extract,
               count(DISTINCT extract_date) AS extract_days, max(loaded_at) AS last_loaded_at
        FROM ops.load_audit
    """),
    # --- customers ---------------------------------------------------------------------------------
    Query("customer_monthly", ("reports.rpt_customer",), """
        SELECT month, sum(customers_total)::BIGINT AS customers_total,
               sum(customers_new)::BIGINT AS customers_new,
               sum(customers_active)::BIGINT AS customers_active,
               sum(customers_churned)::BIGINT AS customers_churned,
               sum(customers_churned_total)::BIGINT AS customers_churned_total
        FROM reports.rpt_customer GROUP BY month ORDER BY month
    """),
    Query("customer_new_by_source", ("reports.rpt_customer",), """
        SELECT month, source, customers_new FROM reports.rpt_customer ORDER BY month, source
    """),
    # --- sales -------------------------------------------------------------------------------------
    Query("sales_by_category", ("reports.rpt_sales",), """
        SELECT month, coalesce(product_category, '(not in catalogue)') AS product_category,
               sum(net_revenue)::DOUBLE AS net_revenue
        FROM reports.rpt_sales GROUP BY ALL ORDER BY month, product_category
    """),
    Query("sales_monthly", ("reports.rpt_sales",), """
        SELECT month, sum(net_amount)::DOUBLE AS net_amount, sum(discount_amount)::DOUBLE AS discount_amount,
               sum(net_revenue)::DOUBLE AS net_revenue, sum(net_units)::BIGINT AS net_units
        FROM reports.rpt_sales GROUP BY month ORDER BY month
    """),
    Query("sales_by_region", ("reports.rpt_sales",), """
        SELECT coalesce(region, '(no rep)') AS region, sum(net_revenue)::DOUBLE AS net_revenue,
               sum(net_units)::BIGINT AS net_units
        FROM reports.rpt_sales GROUP BY ALL ORDER BY net_revenue DESC
    """),
    Query("rep_attainment", ("reports.rpt_sales_rep_month",), """
        SELECT month, rep_id, target_amount::DOUBLE AS target, revenue_amount::DOUBLE AS net_revenue
        FROM reports.rpt_sales_rep_month
        WHERE rep_id IS NOT NULL AND target_amount > 0 AND revenue_amount IS NOT NULL
        ORDER BY month, rep_id
    """),
    # --- campaigns ---------------------------------------------------------------------------------
    Query("campaigns", ("reports.rpt_campaign",), """
        SELECT campaign_id, campaign_name, channel, design, start_date, members, sent,
               open_rate::DOUBLE AS open_rate, click_rate::DOUBLE AS click_rate,
               response_rate::DOUBLE AS response_rate,
               treatment_conversion_rate::DOUBLE AS treatment_conversion_rate,
               control_conversion_rate::DOUBLE AS control_conversion_rate,
               cost::DOUBLE AS cost, attributed_revenue::DOUBLE AS attributed_revenue,
               attributed_roi::DOUBLE AS attributed_roi
        FROM reports.rpt_campaign ORDER BY start_date, campaign_id
    """),
    Query("campaign_effects", ("ml.campaign_effects",), """
        SELECT campaign_id::VARCHAR AS campaign_id, outcome, method, design, is_primary,
               estimate::DOUBLE AS estimate, ci_low::DOUBLE AS ci_low, ci_high::DOUBLE AS ci_high,
               p_value::DOUBLE AS p_value, lift_pct::DOUBLE AS lift_pct, n_treated, n_control
        FROM ml.campaign_effects ORDER BY outcome, campaign_id, is_primary DESC, method
    """),
    # --- segments ----------------------------------------------------------------------------------
    Query("segment_sizes", ("ml.customer_segments",), """
        SELECT segment_name, count(*) AS customers FROM ml.customer_segments
        GROUP BY ALL ORDER BY customers DESC, segment_name
    """),
    Query("rfm_sizes", ("ml.customer_segments",), """
        SELECT rfm_segment, count(*) AS customers FROM ml.customer_segments
        GROUP BY ALL ORDER BY customers DESC, rfm_segment
    """),
    Query("segment_profiles", ("ml.segment_profiles",), """
        SELECT segment_name, feature, avg(centroid_z)::DOUBLE AS centroid_z, avg(mean)::DOUBLE AS mean
        FROM ml.segment_profiles GROUP BY ALL ORDER BY segment_name, feature
    """),
    # --- churn risk and lifetime value (ml) ---------------------------------------------------------
    Query("churn_bands", ("ml.customer_churn_risk",), """
        SELECT risk_band, count(*) AS customers, avg(churn_probability)::DOUBLE AS mean_probability
        FROM ml.customer_churn_risk GROUP BY ALL ORDER BY mean_probability DESC
    """),
    Query("churn_reasons", ("ml.customer_churn_risk",), """
        SELECT reason_1 AS reason, count(*) AS customers FROM ml.customer_churn_risk
        WHERE risk_band <> 'low' AND reason_1 IS NOT NULL GROUP BY ALL ORDER BY customers DESC, reason
    """),
    Query("churn_calibration", ("ml.churn_calibration",), """
        SELECT bin_low, bin_high, customers, mean_predicted, observed_rate FROM ml.churn_calibration ORDER BY bin_low
    """),
    Query("churn_metrics", ("ml.model_runs",), """
        SELECT as_of, CAST(json_extract(metrics_json, '$.auc') AS DOUBLE) AS auc,
               CAST(json_extract(metrics_json, '$.brier') AS DOUBLE) AS brier,
               CAST(json_extract(metrics_json, '$.brier_base_rate') AS DOUBLE) AS brier_base_rate,
               CAST(json_extract(metrics_json, '$.expected_calibration_error') AS DOUBLE) AS calibration_error,
               json_extract_string(metrics_json, '$.evaluation_cut_off') AS evaluation_cut_off,
               json_extract_string(metrics_json, '$.skipped') AS skipped
        FROM ml.model_runs WHERE model = 'churn_risk' ORDER BY as_of DESC, run_id DESC LIMIT 1
    """),
    Query("clv_summary", ("ml.customer_lifetime_value",), """
        SELECT count(*) AS customers, sum(expected_value_12m)::DOUBLE AS expected_value_12m,
               sum(expected_purchases_12m)::DOUBLE AS expected_purchases_12m,
               avg(probability_alive)::DOUBLE AS mean_probability_alive
        FROM ml.customer_lifetime_value HAVING count(*) > 0
    """),
    Query("clv_calibration", ("ml.clv_calibration",), """
        SELECT decile, customers, predicted_purchases::DOUBLE AS predicted_purchases,
               realised_purchases::DOUBLE AS realised_purchases, predicted_value::DOUBLE AS predicted_value,
               realised_value::DOUBLE AS realised_value
        FROM ml.clv_calibration ORDER BY decile
    """),
    # --- service -----------------------------------------------------------------------------------
    Query("service_by_priority", ("reports.rpt_service",), """
        SELECT month, coalesce(priority, '(none)') AS priority, sum(tickets)::BIGINT AS tickets
        FROM reports.rpt_service GROUP BY ALL ORDER BY month, priority
    """),
    Query("service_monthly", ("reports.rpt_service",), """
        SELECT month, sum(tickets)::BIGINT AS tickets, sum(resolved_tickets)::BIGINT AS resolved_tickets,
               sum(first_response_breaches) / nullif(sum(tickets), 0) AS first_response_breaches_per_ticket,
               sum(resolution_breaches) / nullif(sum(tickets), 0) AS resolution_breaches_per_ticket,
               sum(one_touch_tickets) / nullif(sum(resolved_tickets), 0) AS one_touch_rate,
               (sum(satisfied_tickets) / nullif(sum(rated_tickets), 0))::DOUBLE AS csat_share_satisfied
        FROM reports.rpt_service GROUP BY month ORDER BY month
    """),
    Query("service_latest", ("reports.rpt_service",), """
        SELECT month, category, priority, tickets, unresolved_tickets,
               first_response_minutes_median::DOUBLE / 60 AS first_response_hours_median,
               first_response_minutes_p90::DOUBLE / 60 AS first_response_hours_p90,
               full_resolution_minutes_median_solved::DOUBLE / 60 AS full_resolution_hours_median_solved,
               full_resolution_minutes_p90_solved::DOUBLE / 60 AS full_resolution_hours_p90_solved,
               avg_satisfaction_score::DOUBLE AS avg_satisfaction_score,
               avg_satisfaction_score_target::DOUBLE AS avg_satisfaction_score_target
        FROM reports.rpt_service
        WHERE month = (SELECT max(month) FROM reports.rpt_service)
        ORDER BY category, priority
    """),
    # --- data quality ------------------------------------------------------------------------------
    Query("quarantine", ("ops.quarantine",), """
        SELECT entity, reason, count(*) FILTER (status = 'quarantined') AS quarantined,
               count(*) FILTER (status = 'released') AS released
        FROM ops.quarantine GROUP BY ALL ORDER BY entity, reason
    """),
    Query("data_issues", ("ops.data_issues",), """
        SELECT entity, reason, count(*) AS issues FROM ops.data_issues GROUP BY ALL ORDER BY entity, reason
    """),
    Query("reconciliation", ("ops.load_audit",), """
        SELECT extract_date, count(*) AS files, sum(rows_in_file)::BIGINT AS rows_in_file,
               sum(rows_loaded)::BIGINT AS rows_loaded, sum(rows_quarantined)::BIGINT AS rows_quarantined,
               sum(rows_released)::BIGINT AS rows_released,
               count(*) FILTER (rows_in_file <> rows_loaded + rows_quarantined) AS files_not_reconciled
        FROM ops.load_audit GROUP BY extract_date ORDER BY extract_date DESC
    """),
)


@dataclass
class ReportData:
    """Query results by name; `missing` maps a query name to what the published file lacks for it."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame | None:
        """The frame of query `name`, or None when its tables are missing."""
        return self.frames.get(name)


def published_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """`schema.table` -> its column names, for every table and view of the connected database."""
    rows = con.execute(
        """
        SELECT schema_name || '.' || table_name, list(column_name)
        FROM duckdb_columns() WHERE database_name = current_database() GROUP BY ALL
        """
    ).fetchall()
    return {name: set(cols) for name, cols in rows}


def _lacking(query: Query, columns: dict[str, set[str]]) -> str | None:
    """Why `query` cannot run on a file with these `columns` (None: it can)."""
    for table in query.tables:
        if table not in columns:
            return f"table {table} is not published yet"
        absent = [c for c in TABLES[table] if c not in columns[table]]
        if absent:
            return f"table {table} lacks column(s) {', '.join(absent)}"
    return None


def load(published_db: Path) -> ReportData:
    """Run every query whose tables exist in the published file; record why the others were skipped."""
    if not published_db.is_file():
        raise CrmWarehouseError(
            f"{published_db}: no published warehouse here "
            "(run `crm-warehouse run` first, or pass --warehouse)"
        )
    data = ReportData()
    try:
        with connect_duckdb(published_db, read_only=True) as con:
            columns = published_columns(con)
            for query in QUERIES:
                reason = _lacking(query, columns)
                if reason:
                    data.missing[query.name] = reason
                else:
                    data.frames[query.name] = con.execute(query.sql).df()
    except duckdb.Error as exc:
        raise CrmWarehouseError(f"{published_db}: cannot read the published warehouse ({exc})") from None
    return data
