"""Erase forgotten rows from the private work file and rebuild what is derived from the raw zone.

Reads and writes `WAREHOUSE/work/crm_work.duckdb`: forgotten rows are deleted from every TABLE of every
schema (views such as staging read the raw zone, already scrubbed) in a private copy, the ops tables are
rebuilt from the raw zone (`raw.ops_tables.rebuild_ops_tables`, the loader's own builder) and
`ops.forget_log` from the forget records, and the copy is switched in as a brand-new file
(`serving.rewrite.rewrite_duckdb`: no deleted bytes survive). When nothing is deleted and the raw zone did
not change, only `ops.forget_log` is rebuilt in place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from orchestration.privacy import forget_log
from orchestration.privacy.matching import Sweeper
from orchestration.privacy.targets import FileOutcome, delete_from, plan_duckdb
from orchestration.raw.ops_tables import rebuild_ops_tables
from orchestration.serving.rewrite import rewrite_duckdb
from orchestration.settings import connect_duckdb

# Rebuilt from their sources instead of scrubbed row by row.
REBUILT_TABLES = {("ops", "quarantine"), ("ops", "data_issues"), ("ops", "load_audit"), ("ops", "forget_log")}


def scrub_work(work: Path, raw_root: Path, sweeper: Sweeper, raw_changed: bool, log_folder: Path,
               before_write: Callable[[int, dict[str, int]], None], say) -> FileOutcome:
    """`before_write(rows, detail)` writes the forget's record (it needs the counts) before the log
    table is rebuilt from the records."""
    if not work.is_file():
        before_write(0, {})
        return FileOutcome()
    targets, plan = plan_duckdb(work, sweeper, skip=REBUILT_TABLES)
    before_write(plan.rows, plan.removed)
    if not targets and not raw_changed:  # nothing personal to delete: only the log table changes
        with connect_duckdb(work) as con:
            forget_log.build_table(con, log_folder)
        return plan
    delete = delete_from(targets, sweeper)

    def edit(con: duckdb.DuckDBPyConnection) -> None:
        delete(con)
        rebuild_ops_tables(con, raw_root)
        forget_log.build_table(con, log_folder)

    rewrite_duckdb(work, edit)
    plan.rewritten = True
    say(f"{work}: removed {plan.rows} rows ({len(plan.removed)} tables); ops tables rebuilt")
    return plan
