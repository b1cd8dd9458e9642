"""docs/metrics.md lists every measure of the published `marts` and `reports` (issue 13, acceptance 2), read
from the catalog of the session build's serving file. A measure is a numeric column (integer, decimal,
double: `duckdb_columns().numeric_precision` is set) whose name does not end in `_id` (keys). The doc names
it in backticks in the first cell (the measure) of one of its tables, whose row gives the definition, grain,
additivity and industry practice: exactly (`net_amount`) or by a glob pattern with `*` (`past_due_*`),
matched with fnmatch. A name only mentioned in some definition does not count.
The reverse check catches typos: every column-like name in backticks in the doc's tables is a published
column or table, a dbt model, seed or macro, or one of the few outside terms listed here."""

from __future__ import annotations

import fnmatch
import re

import pytest

from tests.conftest import REPO, Built

DOC = REPO / "docs" / "metrics.md"
DBT = REPO / "dbt_project"
COLUMN_LIKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")  # lowercase with an underscore
GLOB = re.compile(r"(?=[*_]*[a-z])[a-z0-9_]*\*[a-z0-9_*]*")  # `past_due_*`, `*_hash`; not the mask `****`
# Backticked in the measure tables, yet no column, table or dbt resource of ours: the Fivetran column and
# model names a measure is compared with, and code values of our columns.
OUTSIDE_TERMS = {
    # fivetran/dbt_salesforce (salesforce__sales_snapshot, salesforce__owner_performance)
    "bookings_amount_closed_this_month", "bookings_count_closed_this_month", "lost_count_this_month",
    "total_pipeline_forecast_amount", "total_pipeline_amount", "total_number_pipeline",
    "win_percent_this_month",
    # fivetran/dbt_zendesk (zendesk__ticket_metrics and its intermediate models)
    "first_reply_time_calendar_minutes", "final_resolution_calendar_minutes",
    "first_resolution_calendar_minutes", "full_resolution_business_minutes", "count_reopens",
    "is_one_touch_resolution", "count_agent_replies", "zendesk__ticket_metrics", "zendesk__sla_policies",
    "int_zendesk__reply_time_combined",
    # fivetran/dbt_hubspot (hubspot__email_campaigns)
    "total_unique_opens", "total_unique_clicks", "total_deliveries",
    # code values: effect methods, RFM segment, closed_at sources
    "lin_hc2", "aipw_att", "no_purchase", "stage_change",
}


def _columns(built: Built):
    """Every column of the serving file's own schemas (not the system catalogs), with a measure flag."""
    return built.query(
        "SELECT schema_name, table_name, column_name, "
        "numeric_precision IS NOT NULL AND NOT ends_with(column_name, '_id') "
        "AND schema_name IN ('marts', 'reports') AS is_measure "
        "FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal "
        "AND schema_name NOT IN ('information_schema', 'pg_catalog', 'main') "
        "ORDER BY schema_name, table_name, column_index"
    )


def _backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def _table_rows() -> list[str]:
    """The body rows of the doc's markdown tables (no separator rows)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith("|") and not line.startswith("|---")]


def _measure_cells() -> str:
    """The first cell of every table row: the measure (or measures) the row defines."""
    return "\n".join(row.split("|")[1] for row in _table_rows())


def _dbt_resources() -> set[str]:
    """Names of our dbt models, seeds and macros (the doc says where a measure is defined) and of the extract's
    entities (`stg_crm__<entity>`)."""
    files = [*DBT.glob("models/**/*.sql"), *DBT.glob("models/**/*.py"), *DBT.glob("seeds/*.csv")]
    macros = {
        name for path in DBT.glob("macros/**/*.sql")
        for name in re.findall(r"\{%-?\s*macro\s+(\w+)", path.read_text(encoding="utf-8"))
    }
    stems = {path.stem for path in files}
    entities = {stem.removeprefix("stg_crm__") for stem in stems if stem.startswith("stg_crm__")}
    return stems | entities | macros


@pytest.fixture(scope="module")
def columns(built: Built):
    frame = _columns(built)
    assert frame.is_measure.sum() > 150  # the catalog was read (215 measures at scale 0.01)
    return frame


def test_every_measure_of_marts_and_reports_is_in_the_doc(columns):
    named = _backticked(_measure_cells())
    globs = [term for term in named if GLOB.fullmatch(term)]
    missing = [
        f"{r.schema_name}.{r.table_name}.{r.column_name}"
        for r in columns[columns.is_measure].itertuples()
        if r.column_name not in named and not any(fnmatch.fnmatchcase(r.column_name, g) for g in globs)
    ]
    assert not missing, (
        f"{len(missing)} of {int(columns.is_measure.sum())} measures of marts/reports are in no measure cell "
        f"of {DOC.name} (add a table row naming it in backticks, or a glob, with its definition, grain, "
        f"additivity and industry practice): {missing}"
    )


def test_names_in_the_doc_tables_exist(columns):
    """A backticked column-like name (or a part of `table.column`) in a table row of the doc, or a glob,
    is something we publish or define: a typo or a renamed column fails here."""
    published = set(columns.column_name)
    known = published | set(columns.table_name) | _dbt_resources() | OUTSIDE_TERMS
    unknown = []
    for term in sorted(_backticked("\n".join(_table_rows()))):
        if GLOB.fullmatch(term):
            if not any(fnmatch.fnmatchcase(name, term) for name in published):
                unknown.append(term)
            continue
        parts = term.split(".") if re.fullmatch(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+", term) else [term]
        unknown += [part for part in parts if COLUMN_LIKE.fullmatch(part) and part not in known]
    assert not unknown, f"names in the tables of {DOC.name} that are no published column or table: {unknown}"
