"""`crm-warehouse forget CUSTOMER_ID`: erase one person from every copy of the data the warehouse keeps.

This module only coordinates; each step is a small module of orchestration/privacy/ working through the
API of the code that owns the place:

| step | module | through |
|---|---|---|
| who: the person's source customer ids (duplicates via the identity map), orders, emails | `person.py` | work file, `RawZone.row_files` |
| never again: their keyed hashes on the forgotten list, before anything is erased | `suppress.py` | the raw loader's filter |
| which values are forgotten (hashing each place's identifiers against the whole list) | `matching.py`, `targets.py` | `column_roles.py` (which columns are keys: dbt meta, the contract) |
| 1. the published file `crm.duckdb` and every snapshot; 2. the Parquet exports | `published.py` | `serving/rewrite.py` (publishing's rules: brand-new read-only file, re-linked snapshots, `ops.publish_log` counts) |
| 3. the raw zone: rows; quarantine, data issues, releases and audit counts reconciled | `raw_zone.py` | `RawZone.write`, `raw/accounting.py` |
| 4. the work file: rows deleted, ops tables rebuilt, brand-new file | `work_file.py` | `raw/ops_tables.py`, `serving/rewrite.py` |
| 5. text files (data docs, report, logs) redacted; scratch copies removed; landing lines counted | `text_files.py` | `durable.atomic_write` |
| the record: `WAREHOUSE/ops/forget_log/<id>.parquet`, `ops.forget_log`, a run-history record | `forget_log.py` | `serving/run_history.py` |

Order: what BI sees first, the private copies last. Every place is matched against the whole forgotten
list (so a forget is idempotent and also finishes an earlier, interrupted one), and every file is switched
with `durable.atomic_write`: a reader sees the old or the new file, never a mix.

The landing folder is the source system's delivery and is not rewritten (its manifests hold checksums
and row counts; raw lineage points at its line numbers). With `--landing` its files are scanned and the
lines still holding the person are counted, so the source system can be asked to purge them; the
forgotten list keeps them out of every later load.

The record holds no personal data: when, a keyed hash of the requested id, how many source records and
orders, and the rows removed per place.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.durable import remove_partials
from orchestration.errors import CrmWarehouseError
from orchestration.lock import warehouse_lock
from orchestration.privacy import forget_log
from orchestration.privacy.forget_log import FORGET_LOG_DESCRIPTION, LOG_SCHEMA
from orchestration.privacy.matching import Sweeper
from orchestration.privacy.person import Person, resolve
from orchestration.privacy.published import PlaceCounts, scrub_parquet_exports, scrub_published
from orchestration.privacy.raw_zone import RawCounts, scrub_raw_zone
from orchestration.privacy.suppress import Hasher, add_to_list, read_list
from orchestration.privacy.targets import FileOutcome
from orchestration.privacy.text_files import redact_text_files, remove_scratch, scan_landing
from orchestration.privacy.work_file import scrub_work
from orchestration.raw.zone import RawZone
from orchestration.serving import run_history
from orchestration.serving.publish import NEW_FILE_PREFIX, ServingLayout
from orchestration.settings import Settings, require_pii_key

# temporary names of forgets before durable.atomic_write (a warehouse may still hold them)
LEGACY_TMP_GLOBS = (".*.forget-*", f"{NEW_FILE_PREFIX}forget-*")


@dataclass
class ForgetResult:
    requested: str
    customer_hash: str
    status: str  # forgotten | already_forgotten
    source_records: int
    orders: int
    published: PlaceCounts
    snapshots: PlaceCounts
    parquet: PlaceCounts
    raw: RawCounts
    work: FileOutcome
    text_files: int
    scratch_files: int
    landing: dict[str, int] | None
    record: Path | None
    seconds: float


def forget_log_dir(settings: Settings) -> Path:
    return forget_log.log_dir(settings)


def remove_leftovers(warehouse: Path) -> list[Path]:
    """Temporary files of interrupted writers (a killed forget's may hold the person). Call under the lock."""
    removed = remove_partials(warehouse)
    for pattern in LEGACY_TMP_GLOBS:
        for p in warehouse.rglob(pattern):
            if p.is_file() or p.is_symlink():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def forget(settings: Settings, customer_id: str, *, landing_dir: Path | None = None, log=None) -> ForgetResult:
    """Erase one person (all their source records) everywhere; see the module docstring."""
    try:
        return _forget(settings, customer_id, landing_dir=landing_dir, log=log)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise CrmWarehouseError(
            f"{settings.warehouse_dir}: forget stopped: {type(exc).__name__}: {str(exc).splitlines()[0]}; every file "
            "is switched atomically, so nothing is half-written: fix the cause and run the same forget again to finish"
        ) from exc


def _who(settings: Settings, hasher: Hasher, requested: str, say) -> tuple[Person, str]:
    """The person and the status; puts them on the forgotten list (before anything is erased)."""
    forgotten = read_list(settings.raw_root)
    forgotten.check_key(hasher)
    person = resolve(settings.work_db, settings.raw_root, requested)
    if not person.found:
        if not forgotten.contains(hasher, "customer_id", requested):
            raise CrmWarehouseError(
                f"customer id {requested!r}: not in the warehouse {settings.warehouse_dir} (identity map, raw "
                "zone) nor among the forgotten; check the id (nothing was changed)"
            )
        say(f"customer {requested} was already forgotten; checking that nothing of them is left")
        return person, "already_forgotten"
    add_to_list(
        settings.raw_root, hasher,
        [("customer_id", v) for v in person.customer_ids] + [("order_id", v) for v in person.order_ids]
        + [("email", v) for v in person.emails],
    )
    return person, "forgotten"


def _forget(settings: Settings, customer_id: str, *, landing_dir: Path | None, log) -> ForgetResult:
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    require_pii_key()
    requested = customer_id.strip()
    if not requested:
        raise CrmWarehouseError("forget: the customer id is empty")
    if not settings.warehouse_dir.is_dir():
        raise CrmWarehouseError(f"{settings.warehouse_dir}: no warehouse here (--warehouse)")
    with warehouse_lock(settings.lock_file, "crm-warehouse forget"):
        for p in remove_leftovers(settings.warehouse_dir):
            say(f"removed leftover of an interrupted writer: {p}")
        hasher = Hasher()
        person, status = _who(settings, hasher, requested, say)
        sweeper = Sweeper(hasher, read_list(settings.raw_root), person.customer_ids, person.order_ids, person.emails)
        layout = ServingLayout(settings.published_db)

        published, snapshots = scrub_published(layout, sweeper, say)
        parquet = scrub_parquet_exports(layout, sweeper, say)
        raw = scrub_raw_zone(RawZone(settings.raw_root), sweeper, say)
        text_files = redact_text_files(settings.warehouse_dir, sweeper, say)
        scratch_files = remove_scratch(settings.scratch_dir)
        landing = scan_landing(landing_dir, sweeper) if landing_dir is not None else None

        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # UTC, naive (forgotten_at)
        record = {"forget_id": f"forget-{now:%Y%m%dT%H%M%S}-{os.getpid()}", "forgotten_at": now,
                  "customer_hash": hasher("customer_id", requested), "status": status,
                  "source_records": len(person.customer_ids), "orders": len(person.order_ids)}
        log_folder = forget_log.log_dir(settings)

        def write_record(work_rows: int, work_detail: dict[str, int]) -> None:
            detail = {
                "published": published.detail, "snapshots": snapshots.detail, "parquet": parquet.detail,
                "raw": {**raw.detail, "_quarantine_removed": raw.quarantine_removed,
                        "_forgotten_added": raw.forgotten_added, "_data_issues_removed": raw.data_issues_removed,
                        "_releases_removed": raw.releases_removed},
                "work": work_detail,
            }
            record.update(
                rows_published=published.rows, rows_snapshots=snapshots.rows, snapshot_files=snapshots.files,
                rows_parquet=parquet.rows, parquet_files=parquet.files, rows_raw=raw.rows,
                raw_quarantine_rows=raw.quarantine_removed, raw_forgotten_rows=raw.forgotten_added,
                raw_files=raw.files, rows_work=work_rows, text_files=text_files, scratch_files=scratch_files,
                landing_lines_remaining=None if landing is None else sum(landing.values()),
                detail=json.dumps(detail, sort_keys=True), seconds=round(time.perf_counter() - t0, 3),
            )
            forget_log.write_record(log_folder, record)

        work = scrub_work(settings.work_db, settings.raw_root, sweeper, raw.changed, log_folder, write_record, say)
        run_history.write(
            settings.run_history_dir,
            run_history.RunRecord(
                record_id=record["forget_id"],
                kind="forget",
                status=status,
                reason="crm-warehouse forget",
                message=(f"{status.replace('_', ' ')}: customer {record['customer_hash'][:12]}… "
                         f"({record['source_records']} source records, {record['orders']} orders); rows removed: "
                         f"published {published.rows}, snapshots {snapshots.rows}, parquet {parquet.rows}, "
                         f"raw {raw.rows}, work {work.rows}"),
                recorded_at=now,
            ),
        )
    return ForgetResult(
        requested=requested,
        customer_hash=record["customer_hash"],
        status=status,
        source_records=len(person.customer_ids),
        orders=len(person.order_ids),
        published=published,
        snapshots=snapshots,
        parquet=parquet,
        raw=raw,
        work=work,
        text_files=text_files,
        scratch_files=scratch_files,
        landing=landing,
        record=log_folder / f"{record['forget_id']}.parquet",
        seconds=round(time.perf_counter() - t0, 1),
    )


__all__ = ["FORGET_LOG_DESCRIPTION", "LOG_SCHEMA", "ForgetResult", "Person", "forget", "resolve"]
