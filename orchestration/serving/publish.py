"""Publish the BI-facing schemas of the work file as a new serving file, switched in atomically.

The work file (private, holds staging and plaintext personal data) is never read by BI tools. Publishing

1. copies every TABLE of the published schemas (marts, ml, reports, ops; `restricted`, which holds
   plaintext personal data, only with CRM_PUBLISH_RESTRICTED=1) into a brand-new DuckDB file
   next to the serving file, plus `ops.run_history` (from the append-only Parquet records) and
   `ops.publish_log` (history carried over); with the keep-previous policy, the tables of a failed domain
   are copied from the current serving file instead of the work file; every table and column gets its
   description as a DuckDB comment (`orchestration/serving/comments.py`: dbt manifest, ml_tables, the ops
   catalogues), so BI tools show them;
2. exports the new file's tables as Parquet into `parquet/<publish_id>/<schema>/<table>.parquet`,
   written under a temporary name and renamed as a whole;
3. `os.replace`s the new file over `crm.duckdb` (readers that already opened the old file keep their
   snapshot, new readers get the new one), then switches the `parquet/current` symlink the same way
   (a new link under a temporary name, renamed over `current`);
4. hard-links the published file as `snapshots/<publish_id>.duckdb` and prunes snapshots and Parquet
   folders to the last N publishes.

A crash at any point leaves the previous serving file and the previous `current` link untouched; the
next publish deletes the leftovers (it runs under the warehouse lock, so nobody else is publishing).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.durable import atomic_write, remove_partials
from orchestration.errors import CrmWarehouseError
from orchestration.raw.sqlnames import execute
from orchestration.serving import run_history
from orchestration.serving.comments import write_comments

PUBLISHED_SCHEMAS = ("marts", "ml", "reports", "ops")
RESTRICTED_SCHEMA = "restricted"  # full personal data: published only with CRM_PUBLISH_RESTRICTED=1
# Columns that may hold raw extract text (and so personal data) never leave the work file.
WITHHELD_COLUMNS = {("ops", "quarantine"): ("raw_text", "detail")}
# Tables publishing writes itself; a work-file table of the same name is ignored.
PUBLISH_OWN_TABLES = {("ops", "publish_log"), ("ops", "run_history")}
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
NEW_FILE_PREFIX = ".crm.duckdb.new-"
PUBLISHED_FILE_MODE = 0o444  # the serving file and its snapshots: read-only, so no BI tool opens them read-write
CURRENT_LINK = "current"
# dbt descriptions of the published models (tables and columns become DuckDB comments)
DBT_MANIFEST = Path(__file__).resolve().parents[2] / "dbt_project" / "target" / "manifest.json"


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


@dataclass(frozen=True)
class ServingLayout:
    """Where one warehouse's published artefacts live (all next to the serving file)."""

    serving_db: Path

    @property
    def root(self) -> Path:
        return self.serving_db.parent

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def current_link(self) -> Path:
        return self.parquet_dir / CURRENT_LINK

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def run_history_dir(self) -> Path:
        return self.root / "ops" / "run_history"

    def snapshot(self, publish_id: str) -> Path:
        return self.snapshots_dir / f"{publish_id}.duckdb"


# --- keep-previous patterns -----------------------------------------------------------------------

_PATTERN = re.compile(r"^(?P<schema>[a-z_]+)(?:\.(?P<table>[A-Za-z0-9_]+)(?P<star>\*)?)?$")


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Validate keep-previous patterns: `schema`, `schema.table` or `schema.prefix*`."""
    out = []
    for p in patterns:
        m = _PATTERN.match(p.strip())
        if not m or m["schema"] not in PUBLISHED_SCHEMAS:
            raise CrmWarehouseError(
                f"keep-previous pattern {p!r}: expected SCHEMA, SCHEMA.TABLE or SCHEMA.PREFIX* with SCHEMA one of "
                f"{', '.join(PUBLISHED_SCHEMAS)}"
            )
        out.append(p.strip())
    return tuple(out)


def matches(schema: str, table: str, patterns: Sequence[str]) -> bool:
    if (schema, table) in PUBLISH_OWN_TABLES:
        return False
    for p in patterns:
        m = _PATTERN.match(p)
        if not m or m["schema"] != schema:
            continue
        if m["table"] is None or (table.startswith(m["table"]) if m["star"] else table == m["table"]):
            return True
    return False


# --- helpers --------------------------------------------------------------------------------------

def published_schemas() -> tuple[str, ...]:
    """The schemas a publish copies: PUBLISHED_SCHEMAS, plus `restricted` (plaintext personal data) only
    with the explicit opt-in CRM_PUBLISH_RESTRICTED=1."""
    from orchestration.settings import publish_restricted

    return PUBLISHED_SCHEMAS + ((RESTRICTED_SCHEMA,) if publish_restricted() else ())


def _ident(name: str) -> str:
    """Quote an identifier read from our own files' catalogs."""
    return '"' + name.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, list[str]]]:
    """(schema, table, columns) of every TABLE (not view) of the published schemas in `database`."""
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name, list(c.column_name ORDER BY c.column_index)
        FROM duckdb_columns() c
        JOIN duckdb_tables() t
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db AND list_contains($schemas, c.schema_name)
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"db": database, "schemas": list(published_schemas())},
    ).fetchall()
    return [(s, t, cols) for s, t, cols in rows]


def remove_leftovers(layout: ServingLayout) -> list[Path]:
    """Delete what a killed publish may have left (temporary files, half-written Parquet folders).

    Only call this while holding the warehouse lock."""
    removed: list[Path] = []
    for p in layout.root.glob(f"{NEW_FILE_PREFIX}*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    for p in layout.root.glob(".crm.duckdb.restore-*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    removed += remove_partials(layout.root, recursive=False)  # other atomic_write leftovers (forget's copies)
    if layout.parquet_dir.is_dir():
        for p in layout.parquet_dir.glob(".*"):
            if p.is_symlink() or p.is_file():
                p.unlink(missing_ok=True)
            else:
                shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    if layout.snapshots_dir.is_dir():
        for p in layout.snapshots_dir.glob(".*"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def new_publish_id(layout: ServingLayout, published_at: datetime, as_of: date | None) -> str:
    """`<YYYYmmddTHHMMSS>[.n]-asof<date>`: sorts chronologically; unique among kept publishes."""
    stamp = published_at.strftime("%Y%m%dT%H%M%S")
    suffix = f"-asof{as_of.isoformat()}" if as_of else ""
    n = 0
    while True:
        pid = stamp + (f".{n}" if n else "") + suffix
        if not layout.snapshot(pid).exists() and not (layout.parquet_dir / pid).exists():
            return pid
        n += 1


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
        con = duckdb.connect(str(new_file))
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
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")

            for schema, table, columns in _tables(con, "work"):
                if (schema, table) in PUBLISH_OWN_TABLES or matches(schema, table, patterns):
                    continue
                withheld = WITHHELD_COLUMNS.get((schema, table), ())
                cols = ", ".join(_ident(c) for c in columns if c not in withheld)
                target = f"{_ident(schema)}.{_ident(table)}"
                con.execute(f"CREATE TABLE {target} AS SELECT {cols} FROM work.{target}")
                sources[f"{schema}.{table}"] = "work"
            if patterns and has_previous:
                for schema, table, _columns in _tables(con, "previous"):
                    if not matches(schema, table, patterns):
                        continue
                    target = f"{_ident(schema)}.{_ident(table)}"
                    con.execute(f"CREATE TABLE {target} AS SELECT * FROM previous.{target}")
                    sources[f"{schema}.{table}"] = "previous"
                    kept.append(f"{schema}.{table}")
            if patterns and not kept:
                say(f"keep-previous {list(patterns)}: no such table in the current serving file; nothing kept")

            _write_run_history(con, layout.run_history_dir)
            sources["ops.run_history"] = "run_history"
            for name in sources:
                schema, table = name.split(".", 1)
                tables[name] = con.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}").fetchall()[0][0]
            _write_publish_log(con, has_previous, publish_id, as_of, published_at, tables, sources)
            tables["ops.publish_log"] = con.execute("SELECT count(*) FROM ops.publish_log").fetchall()[0][0]
            n_tables, n_columns, undescribed = write_comments(con, published_schemas(), DBT_MANIFEST)
            say(f"commented {n_tables} tables and {n_columns} columns")
            if undescribed:
                say(f"no description for {len(undescribed)} published tables/columns: {', '.join(undescribed[:20])}")
            con.execute("DETACH work")
            if has_previous:
                con.execute("DETACH previous")
            con.execute("CHECKPOINT")
            _export_parquet(con, sorted(tables), staging_parquet)
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


def _export_parquet(con: duckdb.DuckDBPyConnection, names: list[str], folder: Path) -> None:
    """Every published table as `folder/<schema>/<table>.parquet` (the folder is renamed in afterwards)."""
    shutil.rmtree(folder, ignore_errors=True)
    for name in names:
        schema, table = name.split(".", 1)
        out = folder / schema / f"{table}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        con.sql(f"SELECT * FROM {_ident(schema)}.{_ident(table)}").write_parquet(str(out), compression="zstd")


def switch_current(layout: ServingLayout, publish_id: str) -> None:
    """Point `parquet/current` at `parquet/<publish_id>` atomically (new link + rename over the old)."""
    if layout.current_link.is_dir() and not layout.current_link.is_symlink():
        # the warehouse was copied without preserving links (cp -r, copytree): make `current` a link again
        shutil.rmtree(layout.current_link)
    atomic_write(  # relative: the warehouse folder may move
        layout.current_link, lambda tmp: os.symlink(publish_id, tmp, target_is_directory=True),
        temp_name=f".current-{os.getpid()}",
    )


def current_publish_id(layout: ServingLayout) -> str | None:
    """The publish the `parquet/current` link points at."""
    try:
        return os.readlink(layout.current_link)
    except OSError:
        return None


def take_snapshot(layout: ServingLayout, publish_id: str) -> Path | None:
    """`snapshots/<publish_id>.duckdb`: a hard link to the just-published file (costs no space; the
    serving file is only ever replaced, never written in place), a copy where links are impossible."""
    layout.snapshots_dir.mkdir(parents=True, exist_ok=True)
    target = layout.snapshot(publish_id)
    atomic_write(target, lambda tmp: link_or_copy(layout.serving_db, tmp), temp_name=f".{publish_id}.{os.getpid()}")
    return target


def link_or_copy(source: Path, target: Path) -> None:
    """`target` as a hard link of `source` (a published file is only ever replaced, never written in place,
    so a link costs no space and cannot change), or a copy where links are impossible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def prune(layout: ServingLayout, keep: int, log=None) -> list[Path]:
    """Keep the newest `keep` snapshots and their Parquet folders (and whatever `current` points at)."""
    say = log or (lambda msg: None)
    removed: list[Path] = []
    snaps = sorted(layout.snapshots_dir.glob("*.duckdb"), key=lambda p: p.stem) if layout.snapshots_dir.is_dir() else []
    snaps = [p for p in snaps if not p.name.startswith(".")]
    for p in snaps[: max(0, len(snaps) - keep)]:
        p.unlink(missing_ok=True)
        removed.append(p)
    kept_ids = {p.stem for p in snaps[max(0, len(snaps) - keep):]}
    current = current_publish_id(layout)
    if layout.parquet_dir.is_dir():
        for d in sorted(layout.parquet_dir.iterdir()):
            if d.name.startswith(".") or d.name == CURRENT_LINK or d.is_symlink() or not d.is_dir():
                continue
            if d.name in kept_ids or d.name == current:
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    for p in removed:
        say(f"pruned {p}")
    return removed
