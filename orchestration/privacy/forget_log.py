"""The forget log: one record per `crm-warehouse forget`, and `ops.forget_log` built from the records.

Writes `WAREHOUSE/ops/forget_log/<forget_id>.parquet` (one row, LOG_SCHEMA; `durable.atomic_write`), and
`ops.forget_log` (grain: one row per forget) in a DuckDB connection from all records; the next run
publishes it. No personal data: the requested id only as a keyed hash, otherwise counts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.durable import atomic_write
from orchestration.raw.sqlnames import execute
from orchestration.serving.rewrite import quote_ident
from orchestration.settings import Settings

LOG_SCHEMA = pa.schema(
    [
        ("forget_id", pa.string()),
        ("forgotten_at", pa.timestamp("s")),
        ("customer_hash", pa.string()),  # HMAC-SHA256(CRM_PII_KEY, "customer_id:<requested id>")
        ("status", pa.string()),  # forgotten | already_forgotten
        ("source_records", pa.int64()),  # source customer records of the person (duplicates included)
        ("orders", pa.int64()),
        ("rows_published", pa.int64()),  # crm.duckdb
        ("rows_snapshots", pa.int64()),
        ("snapshot_files", pa.int64()),
        ("rows_parquet", pa.int64()),
        ("parquet_files", pa.int64()),
        ("rows_raw", pa.int64()),  # accepted, released and orphan rows of the raw zone
        ("raw_quarantine_rows", pa.int64()),  # quarantined records holding the person's ids or emails
        ("raw_forgotten_rows", pa.int64()),  # `forgotten` quarantine rows added
        ("raw_files", pa.int64()),
        ("rows_work", pa.int64()),
        ("text_files", pa.int64()),
        ("scratch_files", pa.int64()),
        ("landing_lines_remaining", pa.int64()),  # null when the landing folder was not scanned
        ("detail", pa.string()),  # JSON: place -> table -> rows removed
        ("seconds", pa.float64()),
    ]
)

# ops.forget_log as a DuckDB comment at publish (orchestration/serving/comments.py): (table, columns).
FORGET_LOG_DESCRIPTION: tuple[str, dict[str, str]] = (
    "One row per `crm-warehouse forget` (right to be forgotten): when, a keyed hash of the id, and how many "
    "rows and files were scrubbed where. Holds no personal data.",
    {
        "forget_id": "forget id: forget-<UTC time YYYYmmddTHHMMSS>-<process id>",
        "forgotten_at": "when the forget ran: wall clock of the warehouse machine in UTC (TIMESTAMP without "
                        "time zone, UTC)",
        "customer_hash": "HMAC-SHA256 (key CRM_PII_KEY) of the requested customer id, hex",
        "status": "forgotten, or already_forgotten (nothing left to remove)",
        "source_records": "source customer records of the person, duplicates included (count)",
        "orders": "orders of the person (count)",
        "rows_published": "rows removed from the serving file crm.duckdb (count)",
        "rows_snapshots": "rows removed from the kept snapshots (count)",
        "snapshot_files": "snapshot files rewritten (count)",
        "rows_parquet": "rows removed from the Parquet exports (count)",
        "parquet_files": "Parquet files rewritten (count)",
        "rows_raw": "accepted, released and orphan rows removed from the raw zone (count)",
        "raw_quarantine_rows": "quarantined records holding the person's ids or emails removed (count)",
        "raw_forgotten_rows": "`forgotten` quarantine rows added (count)",
        "raw_files": "raw-zone files rewritten (count)",
        "rows_work": "rows removed from the work file (count)",
        "text_files": "text files (logs, reports) redacted (count)",
        "scratch_files": "scratch files removed (count)",
        "landing_lines_remaining": "lines of the landing folder still holding the person (count); NULL when "
                                   "the landing folder was not scanned",
        "detail": "JSON: place -> table -> rows removed",
        "seconds": "duration of the forget (seconds)",
    },
)

# DuckDB type of each LOG_SCHEMA type (the empty table has the types read_parquet gives the records)
DUCKDB_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.timestamp("s"): "TIMESTAMP"}


def log_dir(settings: Settings) -> Path:
    return settings.warehouse_dir / "ops" / "forget_log"


def log_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))


def write_record(folder: Path, record: dict) -> Path:
    """`<folder>/<forget_id>.parquet` holding `record` (every LOG_SCHEMA field)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([record], schema=LOG_SCHEMA)
    return atomic_write(folder / f"{record['forget_id']}.parquet", lambda tmp: pq.write_table(table, tmp))


def build_table(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """`ops.forget_log` in `con`'s current database from the records in `folder`."""
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    files = log_files(folder)
    if files:
        execute(con, "CREATE OR REPLACE TABLE ops.forget_log AS SELECT * FROM read_parquet($files, "
                "union_by_name = true) ORDER BY forgotten_at, forget_id", {"files": [str(p) for p in files]})
    else:  # identifiers and types from LOG_SCHEMA (fixed here), quoted
        cols = ", ".join(f"NULL::{DUCKDB_TYPES[f.type]} AS {quote_ident(f.name)}" for f in LOG_SCHEMA)
        con.execute(f"CREATE OR REPLACE TABLE ops.forget_log AS SELECT {cols} WHERE false")
