"""Erase forgotten rows from what BI reads: the serving file, every kept snapshot, every Parquet export.

Reads and writes through publishing's own API (orchestration/serving/rewrite.py): the published copies
it lists, rewritten into brand-new read-only files (hard-linked snapshots re-linked), their
`ops.publish_log` row counts refreshed. A file without forgotten rows is not touched.

Grain of the counts: rows removed per file and table (PlaceCounts.detail: file -> schema.table -> rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestration.privacy.matching import Sweeper
from orchestration.privacy.targets import delete_from, parquet_target, plan_duckdb, scrub_parquet_rows
from orchestration.serving import rewrite
from orchestration.serving.publish import ServingLayout
from orchestration.settings import connect_duckdb


@dataclass
class PlaceCounts:
    rows: int = 0
    files: int = 0
    detail: dict[str, dict[str, int]] = field(default_factory=dict)  # file -> table -> rows


def scrub_published(layout: ServingLayout, sweeper: Sweeper, say) -> tuple[PlaceCounts, PlaceCounts]:
    """The serving file and every snapshot (files sharing an inode are scrubbed once and re-linked):
    (serving counts, snapshot counts)."""
    serving, snapshots = PlaceCounts(), PlaceCounts()
    for group in rewrite.published_copies(layout):
        targets, outcome = plan_duckdb(group[0], sweeper)
        if targets:
            rewrite.rewrite_published(group, delete_from(targets, sweeper), outcome.removed)
            outcome.rewritten = True
        for p in group:
            place = serving if p == layout.serving_db else snapshots
            place.rows += outcome.rows
            place.files += int(outcome.rewritten)
            if outcome.removed:
                place.detail[p.name] = dict(outcome.removed)
                say(f"{p}: removed {outcome.rows} rows ({len(outcome.removed)} tables)")
    return serving, snapshots


def scrub_parquet_exports(layout: ServingLayout, sweeper: Sweeper, say) -> PlaceCounts:
    """Every `parquet/<publish_id>/<schema>/<table>.parquet`, then each changed folder's publish log."""
    counts = PlaceCounts()
    with connect_duckdb() as con:
        for folder, files in rewrite.parquet_exports(layout):
            changed: dict[str, int] = {}
            for name, path in files:
                removed = scrub_parquet_rows(con, sweeper, parquet_target(con, path, name), path,
                                             rewrite.rewrite_export)
                if removed:
                    changed[name] = removed
                    counts.rows += removed
                    counts.files += 1
            if changed:
                counts.detail[folder.name] = changed
                rewrite.refresh_parquet_publish_log(con, folder, changed)
                say(f"{folder}: removed {sum(changed.values())} rows from {len(changed)} files")
    return counts
