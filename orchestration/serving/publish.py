"""Publish the BI-facing schemas of the work file as a new serving file, switched in atomically.

The work file (private, holds staging and plaintext personal data) is never read by BI tools. Publishing

1. copies every TABLE of the published schemas (marts, ml, reports, ops; `restricted`, which holds
   plaintext personal data, only with CRM_PUBLISH_RESTRICTED=1) into a brand-new DuckDB file
   next to the serving file, plus `ops.run_history` (from the append-only Parquet records) and
   `ops.publish_log` (history carried over); with the keep-previous policy, the tables of a failed domain
   are copied from the current serving file instead of the work file; every table and column gets its
   description as a DuckDB comment (`orchestration/serving/comments.py`: dbt manifest, ml_tables, the ops
   catalogues), so BI tools show them; outside `restricted`, a column whose dbt meta says it holds
   plaintext personal data is withheld (`withheld_columns`, orchestration/column_roles.py);
2. exports the new file's tables as Parquet into `parquet/<publish_id>/<schema>/<table>.parquet`,
   written under a temporary name and renamed as a whole;
3. `os.replace`s the new file over `crm.duckdb` (readers that already opened the old file keep their
   snapshot, new readers get the new one), then switches the `parquet/current` symlink the same way
   (a new link under a temporary name, renamed over `current`);
4. hard-links the published file as `snapshots/<publish_id>.duckdb` and prunes snapshots and Parquet
   folders to the last N publishes.

A crash at any point leaves the previous serving file and the previous `current` link untouched; the
next publish deletes the leftovers (it runs under the warehouse lock, so nobody else is publishing).

This module writes the new file and its Parquet copy; `selection.py` says which tables go in,
`layout.py` owns the files around it (current link, snapshots, pruning, leftovers). The copy is DuckDB
to DuckDB (CREATE TABLE AS, COPY TO Parquet) within CRM_DUCKDB_MEMORY_LIMIT, spilling beyond it: no
table passes through Python.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.column_roles import roles
from orchestration.durable import atomic_write
from orchestration.errors import CrmWarehouseError
from orchestration.raw.sqlnames import execute
from orchestration.serving import run_history
from orchestration.serving.comments import write_comments
from orchestration.serving.layout import (  # re-exported: privacy/ and tests import them from here
    NEW_FILE_PREFIX,
    PUBLISHED_FILE_MODE,
    ServingLayout,
    current_publish_id,
    link_or_copy,
    new_publish_id,
    prune,
    remove_leftovers,
    switch_current,
    take_snapshot,
)
from orchestration.serving.selection import (
    PUBLISH_OWN_TABLES,
    RESTRICTED_SCHEMA,
    WITHHELD_COLUMNS,
    check_patterns,
    ident,
    matches,
    published_schemas,
    published_tables,
)
from orchestration.settings import connect_duckdb, dbt_manifest_path

__all__ = [
    "NEW_FILE_PREFIX", "PUBLISHED_FILE_MODE", "PublishResult", "ServingLayout", "current_publish_id",
    "export_parquet", "link_or_copy", "publish",
]

# ops.publish_log as a DuckDB comment (orchestration/serving/comments.py): (table, columns).
PUBLISH_LOG_DESCRIPTION: tuple[str, dict[str, str]] = (
    "One row per published table per publish (history of every publish kept in this file).",
    {
        "publish_id": "publish id <UTC time YYYYmmddTHHMMSS>[.n]-asof<as_of>; names the snapshot and Parquet folder",
        "as_of": "the run's logical date (DATE, no clock)",
        "published_at": "when the publish started: wall clock of the warehouse machine in UTC "
                        "(TIMESTAMP without time zone, UTC)",
        "table_name": "published table, schema.table",
        "row_count": "rows of the table in this publish (count)",
        "source": "where the table came from: work (this build), previous (kept from the last publish after a "
                  "failed domain), run_history or publish",
    },
)


@dataclass(frozen=True)
class PublishResult:
    publish_id: str
    path: Path
    tables: dict[str, int]  # "schema.table" -> rows
    as_of: date | None = None
    parquet_dir: Path | None = None  # this publish's Parquet folder (parquet/<publish_id>)
    snapshot: Path | None = None
    kept_previous: tuple[str, ...] = ()  # tables copied from the previous serving file
    seconds: float = 0.0
    table_sources: dict[str, str] = field(default_factory=dict)  # "schema.table" -> work | previous


def withheld_columns(schema: str, table: str, columns: Sequence[str], say) -> set[str]:
    """Columns that stay in the work file: WITHHELD_COLUMNS, and outside `restricted` every column whose
    role (dbt meta, orchestration/column_roles.py) is plaintext personal data (`pii` without a hashed,
    masked or redacted `pii_form`): a model that forgot to mask is published without that column."""
    withheld = set(WITHHELD_COLUMNS.get((schema, table), ()))
    if schema != RESTRICTED_SCHEMA:
        plain = roles().pii_columns(schema, table, columns, form="plain")
        if plain:
            say(f"{schema}.{table}: {', '.join(plain)} withheld: plaintext personal data (meta pii) is "
                f"published only in {RESTRICTED_SCHEMA}")
        withheld.update(plain)
    return withheld


# --- publish ----------------------------------------------------------------------------------------

def publish(
    work_db: Path,
    serving_db: Path,
    as_of: date | None,
    *,
    keep_previous: Sequence[str] = (),
    keep_snapshots: int = 7,
    log=None,
    before_switch: Callable[[], None] | None = None,
) -> PublishResult:
    """Write a new serving file from `work_db` and atomically replace `serving_db` with it.

    `keep_previous`: patterns (`schema`, `schema.table`, `schema.prefix*`) of tables to copy from the
    current serving file instead of the work file (the keep-previous policy for a failed domain).
    Call it while holding the warehouse lock."""
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    patterns = check_patterns(keep_previous)
    layout = ServingLayout(serving_db)
    layout.root.mkdir(parents=True, exist_ok=True)
    for p in remove_leftovers(layout):
        say(f"removed leftover of an interrupted publish: {p}")

    published_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # UTC, naive (TIMESTAMP)
    publish_id = new_publish_id(layout, published_at, as_of)
    staging_parquet = layout.parquet_dir / f".tmp-{publish_id}"
    parquet_dir = layout.parquet_dir / publish_id
    tables: dict[str, int] = {}
    sources: dict[str, str] = {}
    kept: list[str] = []

    def write_new_file(new_file: Path) -> None:
        """The new serving file at `new_file` and its Parquet folder; then `before_switch`."""
        con = connect_duckdb(new_file)
        try:
            execute(con, "ATTACH $work AS work (READ_ONLY)", {"work": str(work_db)})
            has_previous = serving_db.exists()
            if has_previous:
                try:
                    execute(con, "ATTACH $old AS previous (READ_ONLY)", {"old": str(serving_db)})
                except duckdb.Error as exc:
                    raise CrmWarehouseError(
                        f"{serving_db}: the current serving file cannot be read ({exc}); restore a snapshot "
                        "(`crm-warehouse snapshots`, `crm-warehouse restore ID`) or move it away"
                    ) from None
            for schema in published_schemas():
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")

            for schema, table, columns in published_tables(con, "work"):
                if (schema, table) in PUBLISH_OWN_TABLES or matches(schema, table, patterns):
                    continue
                withheld = withheld_columns(schema, table, columns, say)
                cols = ", ".join(ident(c) for c in columns if c not in withheld)
                target = f"{ident(schema)}.{ident(table)}"
                con.execute(f"CREATE TABLE {target} AS SELECT {cols} FROM work.{target}")
                sources[f"{schema}.{table}"] = "work"
            if patterns and has_previous:
                for schema, table, _columns in published_tables(con, "previous"):
                    if not matches(schema, table, patterns):
                        continue
                    target = f"{ident(schema)}.{ident(table)}"
                    con.execute(f"CREATE TABLE {target} AS SELECT * FROM previous.{target}")
                    sources[f"{schema}.{table}"] = "previous"
                    kept.append(f"{schema}.{table}")
            if patterns and not kept:
                say(f"keep-previous {list(patterns)}: no such table in the current serving file; nothing kept")

            _write_run_history(con, layout.run_history_dir)
            sources["ops.run_history"] = "run_history"
            for name in sources:
                schema, table = name.split(".", 1)
                tables[name] = con.execute(f"SELECT count(*) FROM {ident(schema)}.{ident(table)}").fetchall()[0][0]
            _write_publish_log(con, has_previous, publish_id, as_of, published_at, tables, sources)
            tables["ops.publish_log"] = con.execute("SELECT count(*) FROM ops.publish_log").fetchall()[0][0]
            n_tables, n_columns, undescribed = write_comments(con, published_schemas(), dbt_manifest_path())  # the built project's
            # descriptions (CRM_DBT_PROJECT_DIR: a site's copy with its own marts), not the repo's
            say(f"commented {n_tables} tables and {n_columns} columns")
            if undescribed:
                say(f"no description for {len(undescribed)} published tables/columns: {', '.join(undescribed[:20])}")
            con.execute("DETACH work")
            if has_previous:
                con.execute("DETACH previous")
            con.execute("CHECKPOINT")
            export_parquet(con, sorted(tables), staging_parquet)
        except BaseException:
            shutil.rmtree(staging_parquet, ignore_errors=True)
            raise
        finally:
            con.close()
        os.rename(staging_parquet, parquet_dir)  # the whole folder appears at once
        if before_switch is not None:  # an observer (RunHooks.reached("publish")): everything written, nothing switched
            before_switch()

    # BI tools cannot open it read-write by mistake (snapshots share the inode); a killed publish leaves
    # `NEW_FILE_PREFIX<pid>`, which the next publish removes
    atomic_write(serving_db, write_new_file, mode=PUBLISHED_FILE_MODE, temp_name=f"{NEW_FILE_PREFIX}{os.getpid()}")
    switch_current(layout, publish_id)
    snapshot = take_snapshot(layout, publish_id)
    prune(layout, keep_snapshots, log=say)
    return PublishResult(
        publish_id=publish_id,
        path=serving_db,
        tables=tables,
        as_of=as_of,
        parquet_dir=parquet_dir,
        snapshot=snapshot,
        kept_previous=tuple(kept),
        seconds=round(time.perf_counter() - t0, 3),
        table_sources={**sources, "ops.publish_log": "publish"},
    )


def _write_run_history(con: duckdb.DuckDBPyConnection, history_dir: Path) -> None:
    """`ops.run_history` from the append-only Parquet records (one file per record)."""
    paths = [str(p) for p in run_history.files(history_dir)]
    if paths:
        execute(
            con,
            "CREATE TABLE ops.run_history AS SELECT * FROM read_parquet($files, union_by_name = true) "
            "ORDER BY recorded_at, record_id",
            {"files": paths},
        )
    else:
        con.execute(f"CREATE TABLE ops.run_history AS SELECT {run_history.COLUMNS_SQL} WHERE false")


def _write_publish_log(
    con: duckdb.DuckDBPyConnection,
    has_previous: bool,
    publish_id: str,
    as_of: date | None,
    published_at: datetime,
    tables: dict[str, int],
    sources: dict[str, str],
) -> None:
    """`ops.publish_log`: one row per published table per publish, history carried over."""
    con.execute(
        "CREATE TABLE ops.publish_log (publish_id VARCHAR, as_of DATE, published_at TIMESTAMP, "
        "table_name VARCHAR, row_count BIGINT, source VARCHAR)"
    )
    if has_previous:
        has_log = con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = 'previous' AND schema_name = 'ops' AND table_name = 'publish_log'"
        ).fetchall()[0][0]
        if has_log:
            con.execute("INSERT INTO ops.publish_log BY NAME SELECT * FROM previous.ops.publish_log")
    con.executemany(
        "INSERT INTO ops.publish_log VALUES (?, ?, ?, ?, ?, ?)",
        [(publish_id, as_of, published_at, name, rows, sources.get(name)) for name, rows in sorted(tables.items())],
    )


def export_parquet(con: duckdb.DuckDBPyConnection, names: list[str], folder: Path) -> None:
    """Every published table as `folder/<schema>/<table>.parquet` (the folder is renamed in afterwards)."""
    shutil.rmtree(folder, ignore_errors=True)
    for name in names:
        schema, table = name.split(".", 1)
        out = folder / schema / f"{table}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        con.sql(f"SELECT * FROM {ident(schema)}.{ident(table)}").write_parquet(str(out), compression="zstd")
