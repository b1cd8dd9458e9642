"""`ops.run_history`: an append-only record of runs, alerts and restores, kept outside the DuckDB files.

Each record is one small Parquet file `WAREHOUSE/ops/run_history/<record_id>.parquet`, so it can be
written at any time (by a failing run, the run-failure sensor in the daemon, `crm-warehouse restore`)
without the warehouse lock and without opening the work or serving file. A record is claimed first with
an exclusive marker file (`.claims/<record_id>`, O_CREAT|O_EXCL): whoever claims a record id first sends
its alert, everybody else sees it is taken, so a failed run gets exactly one alert even when both the run
itself and the sensor notice the failure. Publishing copies all records into `ops.run_history`.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.durable import atomic_write

SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),  # run-<run_id> | stale-<tick date> | restore-<publish_id>-<time>
        ("kind", pa.string()),  # run | stale_extract | restore
        ("status", pa.string()),  # success | failure | stale | restored
        ("run_id", pa.string()),
        ("job_name", pa.string()),
        ("failed_asset", pa.string()),
        ("reason", pa.string()),
        ("log_location", pa.string()),
        ("message", pa.string()),  # the one line sent to the log and the webhook
        ("webhook", pa.string()),  # not configured | sent (HTTP 200) | failed: ...
        ("recorded_at", pa.timestamp("us")),
    ]
)
COLUMNS_SQL = ", ".join(f"NULL::{'TIMESTAMP' if f.type == pa.timestamp('us') else 'VARCHAR'} AS {f.name}"
                        for f in SCHEMA)

# ops.run_history as a DuckDB comment at publish (orchestration/serving/comments.py): (table, columns).
DESCRIPTION: tuple[str, dict[str, str]] = (
    "One row per run, stale-extract alert and restore (append-only history, all records so far).",
    {
        "record_id": "record id: run-<dagster run id>, stale-<tick date> or restore-<publish id>-<time>",
        "kind": "run (a pipeline run), stale_extract (no new extract in time) or restore (a snapshot restored)",
        "status": "success, failure, stale or restored",
        "run_id": "Dagster run id; NULL for records not made by a run",
        "job_name": "Dagster job of the run (e.g. warehouse_refresh)",
        "failed_asset": "the asset (step) that failed; NULL unless status = failure",
        "reason": "why the run failed or the record was written (one line)",
        "log_location": "path of the run's log file",
        "message": "the one line sent to the log and to the alert webhook",
        "webhook": "alert delivery: not configured, sent (HTTP 200) or failed: <why>",
        "recorded_at": "when the record was written: wall clock of the warehouse machine in UTC "
                       "(TIMESTAMP without time zone, UTC)",
    },
)

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class RunRecord:
    record_id: str
    kind: str
    status: str
    run_id: str | None = None
    job_name: str | None = None
    failed_asset: str | None = None
    reason: str | None = None
    log_location: str | None = None
    message: str | None = None
    webhook: str | None = None
    recorded_at: datetime = field(  # UTC, naive (TIMESTAMP)
        default_factory=lambda: datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    )


def _file_id(record_id: str) -> str:
    return _SAFE_ID.sub("_", record_id)[:200]


def claim(history_dir: Path, record_id: str) -> bool:
    """Atomically claim `record_id`; False when somebody already did (its alert was already sent)."""
    claims = history_dir / ".claims"
    claims.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(claims / _file_id(record_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    return True


def is_claimed(history_dir: Path, record_id: str) -> bool:
    return (history_dir / ".claims" / _file_id(record_id)).exists()


def write(history_dir: Path, record: RunRecord) -> Path:
    """Write one record as its own Parquet file (`durable.atomic_write`: readers never see half a file)."""
    history_dir.mkdir(parents=True, exist_ok=True)
    final = history_dir / f"{_file_id(record.record_id)}.parquet"
    table = pa.Table.from_pylist([asdict(record)], schema=SCHEMA)
    return atomic_write(final, lambda tmp: pq.write_table(table, tmp))


def files(history_dir: Path) -> list[Path]:
    if not history_dir.is_dir():
        return []
    return sorted(p for p in history_dir.glob("*.parquet") if not p.name.startswith("."))


def read_all(history_dir: Path) -> list[dict]:
    """Every record, oldest first (for tests and the CLI)."""
    paths = files(history_dir)
    if not paths:
        return []
    rows = pa.concat_tables([pq.read_table(p, schema=SCHEMA) for p in paths]).to_pylist()
    return sorted(rows, key=lambda r: (r["recorded_at"], r["record_id"]))
