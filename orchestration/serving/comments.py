"""Descriptions of every published table and column, written as DuckDB comments (`COMMENT ON`) into the
serving file, so BI tools (DBeaver, Metabase, ...) show them next to the names (issue 13).

Where a description comes from:

* dbt models (marts, reports, restricted): `description` of the node and of its columns in the dbt
  manifest (dbt_project/target/manifest.json, built at set-up);
* `ml` tables: orchestration/ml_assets/tables.py (ML_TABLES for the table, ML_COLUMNS for its columns);
* `ops` tables: the catalogue next to the code that builds each one (ops_tables.DESCRIPTIONS,
  site_scope.MODULE_STATUS_DESCRIPTION, publish.PUBLISH_LOG_DESCRIPTION, run_history.DESCRIPTION,
  forget.FORGET_LOG_DESCRIPTION).

Timestamp columns say which clock they use: event times from the extracts are CRM local time as delivered
(no time zone in the extract), load/publish/record times are the warehouse machine's clock in UTC. A
description that names neither gets the clock appended here (see `_with_clock`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from orchestration.raw.sqlnames import execute

#: Timestamp columns written from the warehouse machine's clock (UTC); every other timestamp is an event
#: time from the extracts.
UTC_COLUMNS = frozenset({"_loaded_at", "loaded_at", "published_at", "recorded_at", "forgotten_at"})
CRM_LOCAL = "CRM local time (as delivered)"
UTC = "UTC"


def _dbt_descriptions(manifest: Path) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    """(schema, table) -> (description, column -> description) of every dbt model, snapshot and seed."""
    nodes: dict = {}
    for attempt in range(3):  # `dbt parse` elsewhere may be rewriting it right now: read it again
        try:
            nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
            break
        except FileNotFoundError:
            return {}  # no manifest: the dbt tables stay undescribed (publish logs them)
        except json.JSONDecodeError:
            time.sleep(1 + attempt)
    out: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    for node in nodes.values():
        if node.get("resource_type") not in ("model", "snapshot", "seed"):
            continue
        cols = {name: (c.get("description") or "") for name, c in (node.get("columns") or {}).items()}
        out[(node["schema"], node.get("alias") or node["name"])] = (node.get("description") or "", cols)
    return out


def _ops_descriptions() -> dict[str, tuple[str, dict[str, str]]]:
    """table -> (description, columns) of every ops table, from the catalogues next to their builders."""
    from orchestration.privacy.forget import FORGET_LOG_DESCRIPTION
    from orchestration.raw.ops_tables import DESCRIPTIONS
    from orchestration.serving import run_history
    from orchestration.serving.publish import PUBLISH_LOG_DESCRIPTION
    from orchestration.site_scope import MODULE_STATUS_DESCRIPTION

    return {
        **DESCRIPTIONS,
        "module_status": MODULE_STATUS_DESCRIPTION,
        "publish_log": PUBLISH_LOG_DESCRIPTION,
        "run_history": run_history.DESCRIPTION,
        "forget_log": FORGET_LOG_DESCRIPTION,
    }


def descriptions(schema: str, table: str, columns: Sequence[str], manifest: Path) -> tuple[str, dict[str, str]]:
    """(table description, column -> description for `columns`) of one published table; '' when unknown."""
    if schema == "ml":
        from orchestration.ml_assets.tables import ML_TABLES, ml_column_description

        text = ML_TABLES[table][1] if table in ML_TABLES else ""
        return text, {c: ml_column_description(table, c) or "" for c in columns}
    if schema == "ops":
        text, cols = _ops_descriptions().get(table, ("", {}))
    else:
        text, cols = _dbt_descriptions(manifest).get((schema, table), ("", {}))
    return text, {c: cols.get(c) or "" for c in columns}


def _with_clock(text: str, column: str, data_type: str) -> str:
    """A timestamp column's description with its clock named (unless it already names one)."""
    if not text or not data_type.startswith("TIMESTAMP") or UTC in text or "CRM local time" in text:
        return text
    return f"{text}; clock: {UTC if column in UTC_COLUMNS else CRM_LOCAL}"


def _literal(text: str) -> str:
    """`text` as a SQL string literal. DuckDB's COMMENT ON accepts only a literal after IS, not a prepared
    parameter (`COMMENT ON TABLE t IS ?` is a parser error), so this is the one place a value is written
    into SQL: single quotes doubled, NUL removed; the value is our own description text, never extract data."""
    return "'" + text.replace("\x00", "").replace("'", "''") + "'"


def _ident(name: str) -> str:
    """An identifier read from the file's own catalog, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def write_comments(
    con: duckdb.DuckDBPyConnection, schemas: Sequence[str], manifest: Path
) -> tuple[int, int, list[str]]:
    """COMMENT ON every table and column of `schemas` in `con`'s current database.

    Tables and columns come from duckdb_tables()/duckdb_columns() of that database (so identifiers are
    only ever names the file itself holds). Returns (tables commented, columns commented, names of
    tables and columns left without a description)."""
    rows = execute(
        con,
        """
        SELECT t.schema_name, t.table_name, list((c.column_name, c.data_type) ORDER BY c.column_index)
        FROM duckdb_tables() t
        JOIN duckdb_columns() c
          ON c.database_name = t.database_name AND c.schema_name = t.schema_name AND c.table_name = t.table_name
        WHERE t.database_name = current_database() AND list_contains($schemas, t.schema_name)
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"schemas": list(schemas)},
    ).fetchall()
    n_tables = n_columns = 0
    missing: list[str] = []
    for schema, table, columns in rows:
        target = f"{_ident(schema)}.{_ident(table)}"
        text, cols = descriptions(schema, table, [c[0] for c in columns], manifest)
        if text.strip():
            con.execute(f"COMMENT ON TABLE {target} IS {_literal(text.strip())}")
            n_tables += 1
        else:
            missing.append(f"{schema}.{table}")
        for col in columns:
            name, data_type = col[0], col[1]
            ctext = _with_clock(cols[name].strip(), name, data_type)
            if ctext:
                con.execute(f"COMMENT ON COLUMN {target}.{_ident(name)} IS {_literal(ctext)}")
                n_columns += 1
            else:
                missing.append(f"{schema}.{table}.{name}")
    return n_tables, n_columns, missing
