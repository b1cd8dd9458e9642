"""Erase forgotten rows from the raw zone, through the raw zone's own API (orchestration/raw/).

Reads and writes: every file of `RawZone.row_files` (accepted, released and orphan rows of each entity)
rewritten without rows holding a forgotten identifier (`RawZone.write`: atomic); then, per loaded extract
file, `accounting.reconcile_file` removes the quarantined records whose raw text holds a forgotten id or
email and gives every record that is now neither loaded nor quarantined a `forgotten` quarantine row
(file and line only; its data issues go, its audit counts are recomputed), so rows_in_file = rows_loaded +
rows_quarantined still holds; `accounting.drop_releases` removes the orphan releases of those lines.

Grain of the counts: RawCounts for the whole zone; `detail` is rows removed per entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from orchestration import contract
from orchestration.privacy.matching import PATTERN_PARAMS, RAW_TEXT_MATCHES, Sweeper, raw_text_params
from orchestration.privacy.suppress import FORGOTTEN_REASON
from orchestration.privacy.targets import raw_target, scrub_parquet_rows
from orchestration.raw import accounting
from orchestration.raw.zone import RawZone
from orchestration.settings import connect_duckdb

QUARANTINE = "read_parquet($files, hive_partitioning = false, union_by_name = true)"


@dataclass
class RawCounts:
    rows: int = 0  # accepted, released, orphan rows
    quarantine_removed: int = 0
    forgotten_added: int = 0
    data_issues_removed: int = 0
    releases_removed: int = 0
    files: int = 0
    detail: dict[str, int] = field(default_factory=dict)  # entity -> rows

    @property
    def changed(self) -> bool:
        return bool(self.rows or self.quarantine_removed or self.forgotten_added or self.data_issues_removed)


def scrub_rows(con: duckdb.DuckDBPyConnection, zone: RawZone, sweeper: Sweeper, counts: RawCounts) -> None:
    """Accepted, released and orphan rows holding a forgotten identifier."""
    for ent in contract.ENTITIES:
        for path in zone.row_files(ent.name):
            removed = scrub_parquet_rows(con, sweeper, raw_target(con, ent, path), path, zone.write)
            if removed:
                counts.rows += removed
                counts.files += 1
                counts.detail[ent.name] = counts.detail.get(ent.name, 0) + removed


def learn_quarantine(con: duckdb.DuckDBPyConnection, zone: RawZone, sweeper: Sweeper) -> None:
    """Ids and emails in the raw text of quarantined records that are on the forgotten list."""
    files = zone.meta_files("quarantine")
    if files:
        params = {**PATTERN_PARAMS, "files": [str(p) for p in files]}
        sweeper.learn_tokens(
            con,
            f"SELECT DISTINCT unnest(regexp_extract_all(raw_text, $token_pattern)) FROM {QUARANTINE}",
            f"SELECT DISTINCT unnest(regexp_extract_all(lower(raw_text), $email_pattern)) FROM {QUARANTINE}",
            params,
        )


def reconcile(con: duckdb.DuckDBPyConnection, zone: RawZone, sweeper: Sweeper, counts: RawCounts) -> None:
    """Every loaded extract file: drop quarantined records of forgotten people, account for the gaps."""
    forgotten_lines: list[tuple[str, str, int]] = []
    params = raw_text_params(sweeper)
    for ent in contract.ENTITIES:
        for d in zone.audits(ent.name):
            r = accounting.reconcile_file(con, zone, ent.name, d, reason=FORGOTTEN_REASON,
                                          drop_where=RAW_TEXT_MATCHES, drop_params=params)
            if r is None:
                continue
            counts.quarantine_removed += r.quarantine_removed
            counts.forgotten_added += r.quarantined_added
            counts.data_issues_removed += r.data_issues_removed
            counts.files += r.files
            forgotten_lines += [(ent.name, r.file, line) for line in r.reason_lines]
    # orphan releases of forgotten lines (recomputed by every run from the orphans anyway)
    counts.releases_removed, files = accounting.drop_releases(con, zone, forgotten_lines)
    counts.files += files


def scrub_raw_zone(zone: RawZone, sweeper: Sweeper, say) -> RawCounts:
    counts = RawCounts()
    if not zone.root.is_dir():
        return counts
    with connect_duckdb() as con:
        scrub_rows(con, zone, sweeper, counts)
        learn_quarantine(con, zone, sweeper)
        reconcile(con, zone, sweeper, counts)
    if counts.rows or counts.quarantine_removed or counts.forgotten_added:
        say(f"{zone.root}: removed {counts.rows} rows and {counts.quarantine_removed} quarantined records; "
            f"{counts.forgotten_added} lines quarantined as {FORGOTTEN_REASON!r}")
    return counts
