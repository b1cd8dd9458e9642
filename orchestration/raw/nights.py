"""Nights that did not pass the raw quality gates leave no trace in the raw zone.

The loader marks each extract day before it writes anything of it (`RawZone.mark_uncommitted`, durable);
the marks are removed by `commit` once every raw gate of the run has passed (the ops load tables step,
which runs only then). A day still marked was refused by a gate, failed while loading, or its run died:
`rollback` deletes everything loaded from it (rows, quarantine, audit, orphans) and recomputes the
released late arrivals, so the raw zone is as it was before that night. The next run then loads the day
again from the landing folder, so a corrected re-delivery needs a plain `crm-warehouse run`, no `reload`.

Crash safety: the mark is on disk before the first byte of the day, and removed only after the day's
files are deleted, so a crash at any point leaves either a committed day or a marked one; `rollback` is
idempotent and the loader calls it first, so a run that died is rolled back by the next run.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from orchestration.raw.zone import RawZone

log = logging.getLogger("crm_warehouse.ingest")


def begin(zone: RawZone, d: date, reload: bool) -> None:
    """Mark day `d` as loaded but not yet through the gates (before anything of it is written)."""
    zone.mark_uncommitted(d, "reload" if reload else "load")


def commit(raw_root: Path) -> list[date]:
    """The run's raw gates passed: its days stay. Returns the committed days."""
    zone = RawZone(raw_root)
    days = zone.uncommitted_dates()
    for d in days:
        zone.uncommitted_marker(d).unlink(missing_ok=True)
    return days


def rollback(raw_root: Path) -> list[date]:
    """Delete every day not committed (refused by a gate, or its run died) and recompute the released late
    arrivals; the raw zone is as before those nights. Returns the rolled-back days (oldest first)."""
    from orchestration.raw.loader import _connect, release_orphans

    zone = RawZone(raw_root)
    days = zone.uncommitted_dates()
    if not days:
        return []
    for d in days:
        # A reloaded day's previous version was removed (and a rebuild required) when the reload began.
        zone.remove_batch(d, rebuild=False)
    con = _connect()
    try:
        release_orphans(con, zone)
    finally:
        con.close()
    for d in days:  # last: a crash before this leaves the marks, and the next run rolls back again
        zone.uncommitted_marker(d).unlink(missing_ok=True)
    log.warning("rolled back extract day(s) that did not pass the raw gates: %s", ", ".join(map(str, days)))
    return days


def rollback_note(days: list[date]) -> str:
    """What the user reads after the run's error when nights were rolled back."""
    names = ", ".join(d.isoformat() for d in days)
    return (f"extract night {names} refused and rolled back (the raw zone is as before it): fix the file, "
            "deliver the day again (files and _manifest.json) and re-run `crm-warehouse run`; no `reload` needed")
