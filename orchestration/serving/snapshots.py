"""Snapshots of the last published warehouses: list them, restore one atomically.

Each publish leaves `WAREHOUSE/snapshots/<publish_id>.duckdb` (a hard link of the published file) and
`WAREHOUSE/parquet/<publish_id>/`; publishing prunes both to the newest N (CRM_KEEP_SNAPSHOTS, default 7).
Restoring copies a snapshot to a temporary file next to `crm.duckdb` and `os.replace`s it in (the same
atomic switch a publish uses), points `parquet/current` at that publish's Parquet folder (re-exporting it
if it is gone) and records the restore in the run history.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.durable import atomic_write
from orchestration.errors import CrmWarehouseError
from orchestration.raw.sqlnames import execute
from orchestration.serving import run_history
from orchestration.serving.layout import (
    PUBLISHED_FILE_MODE,
    ServingLayout,
    current_publish_id,
    remove_leftovers,
    switch_current,
)
from orchestration.serving.publish import export_parquet
from orchestration.serving.selection import PUBLISHED_SCHEMAS, published_tables
from orchestration.settings import connect_duckdb


@dataclass(frozen=True)
class SnapshotInfo:
    publish_id: str
    path: Path
    as_of: date | None
    published_at: datetime | None
    size_bytes: int
    tables: int
    rows: int
    is_current: bool  # the serving file holds this publish
    has_parquet: bool


def serving_publish_id(serving_db: Path) -> str | None:
    """The newest publish_id in the serving file's ops.publish_log (what BI sees now)."""
    if not serving_db.exists():
        return None
    try:
        with duckdb.connect(str(serving_db), read_only=True) as con:
            rows = con.execute("SELECT max(publish_id) FROM ops.publish_log").fetchall()
    except duckdb.Error:
        return None
    return rows[0][0] if rows else None


def _describe(path: Path, publish_id: str) -> tuple[date | None, datetime | None, int, int]:
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = execute(
                con,
                "SELECT any_value(as_of), any_value(published_at), count(*), coalesce(sum(row_count), 0) "
                "FROM ops.publish_log WHERE publish_id = $id",
                {"id": publish_id},
            ).fetchall()[0]
    except duckdb.Error:
        return None, None, 0, 0
    return row[0], row[1], int(row[2]), int(row[3])


def list_snapshots(serving_db: Path) -> list[SnapshotInfo]:
    """The kept snapshots, newest first."""
    layout = ServingLayout(serving_db)
    if not layout.snapshots_dir.is_dir():
        return []
    current = serving_publish_id(serving_db)
    out = []
    for path in sorted(layout.snapshots_dir.glob("*.duckdb"), key=lambda p: p.stem, reverse=True):
        if path.name.startswith("."):
            continue
        pid = path.stem
        as_of, published_at, tables, rows = _describe(path, pid)
        out.append(
            SnapshotInfo(
                publish_id=pid,
                path=path,
                as_of=as_of,
                published_at=published_at,
                size_bytes=path.stat().st_size,
                tables=tables,
                rows=rows,
                is_current=pid == current,
                has_parquet=(layout.parquet_dir / pid).is_dir(),
            )
        )
    return out


def restore(serving_db: Path, publish_id: str, log=None) -> SnapshotInfo:
    """Make snapshot `publish_id` the published warehouse again (DuckDB file and Parquet `current`).

    Call it while holding the warehouse lock."""
    say = log or (lambda msg: None)
    layout = ServingLayout(serving_db)
    source = layout.snapshot(publish_id)
    if "/" in publish_id or publish_id.startswith(".") or not source.is_file():
        kept = ", ".join(s.publish_id for s in list_snapshots(serving_db)) or "none"
        raise CrmWarehouseError(
            f"{source}: no snapshot {publish_id!r}; kept snapshots: {kept} (`crm-warehouse snapshots` lists them)"
        )
    remove_leftovers(layout)
    as_of, _published_at, tables, _rows = _describe(source, publish_id)
    if tables == 0:
        raise CrmWarehouseError(f"{source}: not a readable published warehouse (no ops.publish_log rows for it)")

    def write_restored(tmp: Path) -> None:
        shutil.copyfile(source, tmp)  # a copy, not a link: the restored file gets its own inode
        parquet = layout.parquet_dir / publish_id
        if not parquet.is_dir():
            say(f"{parquet} was pruned; exporting it again from the snapshot")
            staging = layout.parquet_dir / f".tmp-{publish_id}"
            with connect_duckdb(source, read_only=True) as con:
                names = [f"{s}.{t}" for s, t, _ in published_tables(con, _database_name(con))
                         if s in PUBLISHED_SCHEMAS]
                export_parquet(con, names, staging)
            os.rename(staging, parquet)

    atomic_write(serving_db, write_restored, mode=PUBLISHED_FILE_MODE, temp_name=f".crm.duckdb.restore-{os.getpid()}")
    switch_current(layout, publish_id)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # UTC like every recorded_at
    message = f"restored snapshot {publish_id} (as_of {as_of}) as {serving_db}"
    run_history.write(
        layout.run_history_dir,
        run_history.RunRecord(
            record_id=f"restore-{publish_id}-{now:%Y%m%dT%H%M%S}-{os.getpid()}",
            kind="restore",
            status="restored",
            reason=f"crm-warehouse restore {publish_id}",
            message=message,
            recorded_at=now,
        ),
    )
    say(message)
    info = next(s for s in list_snapshots(serving_db) if s.publish_id == publish_id)
    return info


def _database_name(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchall()[0][0]


__all__ = ["SnapshotInfo", "current_publish_id", "list_snapshots", "restore", "serving_publish_id"]
