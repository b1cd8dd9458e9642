"""Publish the BI-facing schemas of the work file as a new serving file, switched in atomically.

The work file (private, holds staging and plaintext personal data) is never read by BI tools. Publishing
copies the published schemas into a brand-new DuckDB file next to the serving file and `os.replace`s it
over `crm.duckdb`: readers that already opened the old file keep their snapshot, new readers get the new
one, and a crash at any point leaves the previous serving file untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.raw.sqlnames import execute

PUBLISHED_SCHEMAS = ("marts", "ml", "reports", "ops")
# Columns that may hold raw extract text (and so personal data) never leave the work file.
WITHHELD_COLUMNS = {("ops", "quarantine"): ("raw_text", "detail")}


@dataclass(frozen=True)
class PublishResult:
    publish_id: str
    path: Path
    tables: dict[str, int]  # "schema.table" -> rows


def _ident(name: str) -> str:
    """Quote an identifier read from our own work file's catalog."""
    return '"' + name.replace('"', '""') + '"'


def _work_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str]]]:
    rows = execute(
        con,
        """
        SELECT schema_name, table_name, list(column_name ORDER BY column_index)
        FROM duckdb_columns()
        WHERE database_name = 'work' AND list_contains($schemas, schema_name)
          AND table_name IN (SELECT table_name FROM duckdb_tables() t
                             WHERE t.database_name = 'work' AND t.schema_name = schema_name)
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"schemas": list(PUBLISHED_SCHEMAS)},
    ).fetchall()
    return [(s, t, cols) for s, t, cols in rows]


def publish(work_db: Path, serving_db: Path, as_of: date | None) -> PublishResult:
    """Write a new serving file from `work_db` and atomically replace `serving_db` with it."""
    published_at = datetime.now().replace(microsecond=0)
    publish_id = published_at.strftime("%Y%m%dT%H%M%S") + (f"-asof{as_of.isoformat()}" if as_of else "")
    serving_db.parent.mkdir(parents=True, exist_ok=True)
    new_file = serving_db.with_name(f".{serving_db.name}.new-{os.getpid()}")
    new_file.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    con = duckdb.connect(str(new_file))
    try:
        execute(con, "ATTACH $work AS work (READ_ONLY)", {"work": str(work_db)})
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
        for schema, table, columns in _work_tables(con):
            withheld = WITHHELD_COLUMNS.get((schema, table), ())
            cols = ", ".join(_ident(c) for c in columns if c not in withheld)
            target = f"{_ident(schema)}.{_ident(table)}"
            con.execute(f"CREATE TABLE {target} AS SELECT {cols} FROM work.{target}")
            tables[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]
        _write_publish_log(con, serving_db, publish_id, as_of, published_at, tables)
        con.execute("DETACH work")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        new_file.unlink(missing_ok=True)
        raise
    con.close()
    with open(new_file, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(new_file, serving_db)
    return PublishResult(publish_id, serving_db, tables)


def _write_publish_log(
    con: duckdb.DuckDBPyConnection,
    serving_db: Path,
    publish_id: str,
    as_of: date | None,
    published_at: datetime,
    tables: dict[str, int],
) -> None:
    """`ops.publish_log`: one row per published table per publish, history carried over."""
    con.execute(
        "CREATE TABLE ops.publish_log (publish_id VARCHAR, as_of DATE, published_at TIMESTAMP, "
        "table_name VARCHAR, row_count BIGINT)"
    )
    if serving_db.exists():
        execute(con, "ATTACH $old AS previous (READ_ONLY)", {"old": str(serving_db)})
        has_log = con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = 'previous' AND schema_name = 'ops' AND table_name = 'publish_log'"
        ).fetchall()[0][0]
        if has_log:
            con.execute("INSERT INTO ops.publish_log SELECT * FROM previous.ops.publish_log")
        con.execute("DETACH previous")
    con.executemany(
        "INSERT INTO ops.publish_log VALUES (?, ?, ?, ?, ?)",
        [(publish_id, as_of, published_at, name, rows) for name, rows in sorted(tables.items())],
    )
