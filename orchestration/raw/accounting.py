"""Every record of a loaded extract file stays accounted for: loaded, or quarantined with a reason.

The loader makes this true when it writes a file (its audit row: rows_in_file = rows_accepted +
rows_quarantined_at_load; ops.load_audit: rows_in_file = rows_loaded + rows_quarantined). Something that
later takes rows out of the raw zone (`crm-warehouse forget`) keeps it true with `reconcile_file`:

* quarantined records it names (`drop_where`, SQL over the quarantine file's columns with its values as
  parameters) are removed;
* every record that is now neither accepted nor quarantined gets a quarantine row with `reason`, holding
  only the file and line (no raw text), as the loader writes a `forgotten` row;
* data issues of the lines quarantined with `reason` are removed (no loaded row carries them any more);
* the audit row's counts are recomputed from the accepted file.

`drop_releases` removes the orphan-release entries of such lines (otherwise ops.quarantine would call
them released and ops.load_audit would count them as loaded).

Grain of what it writes: the zone's own files (one quarantine/data-issues/audit file per entity and
extract date), rewritten atomically with `RawZone.write`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from orchestration.raw.ops_tables import EMPTY_QUARANTINE
from orchestration.raw.sqlnames import execute, scalar
from orchestration.raw.zone import RawZone

NO_LINES = "SELECT NULL::BIGINT AS line WHERE false"


@dataclass
class Reconciled:
    """What `reconcile_file` changed in one extract file's metadata."""

    file: str = ""  # the extract file, relative to the landing folder
    quarantine_removed: int = 0
    quarantined_added: int = 0  # records given a `reason` quarantine row
    data_issues_removed: int = 0
    files: int = 0  # metadata files rewritten
    reason_lines: list[int] = field(default_factory=list)  # every line now quarantined with `reason`


def reconcile_file(
    con: duckdb.DuckDBPyConnection,
    zone: RawZone,
    entity: str,
    d: date,
    *,
    reason: str,
    drop_where: str | None = None,
    drop_params: dict | None = None,
) -> Reconciled | None:
    """Reconcile the file of `entity` loaded from extract `d` (see the module docstring); None when it
    is not loaded. `drop_where` never removes rows already quarantined with `reason`. Its parameters must
    not start with `rec_` (this function's own)."""
    audit = zone.meta("audit", entity, d)
    if not audit.is_file():
        return None
    row = execute(con, "SELECT file, rows_in_file, rows_accepted FROM read_parquet($rec_audit, "
                  "hive_partitioning = false)", {"rec_audit": str(audit)}).fetchall()
    if not row:
        return None
    file, rows_in_file, rows_accepted = row[0]
    out = Reconciled(file=file)
    accepted, q_path = zone.accepted(entity, d), zone.meta("quarantine", entity, d)
    params = {**(drop_params or {}), "rec_file": file, "rec_entity": entity, "rec_date": d,
              "rec_records": rows_in_file, "rec_acc": str(accepted), "rec_q": str(q_path), "rec_reason": reason}
    accepted_sql = ("SELECT _source_line AS line FROM read_parquet($rec_acc, hive_partitioning = false) "
                    "WHERE _source_file = $rec_file") if accepted.is_file() else NO_LINES
    if q_path.is_file():
        drop = f"(reason IS DISTINCT FROM $rec_reason AND ({drop_where}))" if drop_where else "false"
        quarantine = "read_parquet($rec_q, hive_partitioning = false)"
        kept_sql = f"SELECT * FROM {quarantine} WHERE NOT coalesce({drop}, false)"
        out.quarantine_removed = scalar(con, f"SELECT count(*) FROM {quarantine} WHERE {drop}", params)
    else:
        kept_sql = EMPTY_QUARANTINE
    gaps_sql = f"""
        SELECT r.range AS line FROM range(2, $rec_records + 2) r
        WHERE r.range NOT IN (SELECT line FROM ({accepted_sql}) WHERE line IS NOT NULL)
          AND r.range NOT IN (SELECT line FROM ({kept_sql}) WHERE line IS NOT NULL)
    """
    out.quarantined_added = scalar(con, f"SELECT count(*) FROM ({gaps_sql})", params)
    if out.quarantine_removed or out.quarantined_added:
        zone.write(con, f"""
            SELECT * FROM ({kept_sql})
            UNION ALL
            SELECT CAST($rec_entity AS VARCHAR), CAST($rec_date AS DATE), CAST($rec_file AS VARCHAR),
                   line::BIGINT, NULL::VARCHAR, CAST($rec_reason AS VARCHAR), NULL::VARCHAR, NULL::VARCHAR
            FROM ({gaps_sql})
            ORDER BY line
            """, params, q_path)
        out.files += 1
    if q_path.is_file():
        out.reason_lines = [r[0] for r in execute(
            con, "SELECT line FROM read_parquet($rec_q, hive_partitioning = false) WHERE reason = $rec_reason",
            params).fetchall()]
    out.data_issues_removed = _drop_issues(con, zone, entity, d, file, out.reason_lines)
    out.files += int(out.data_issues_removed > 0)
    accepted_now = scalar(con, f"SELECT count(*) FROM ({accepted_sql})", params)
    if accepted_now != rows_accepted:
        zone.write(con, "SELECT * REPLACE (CAST($rec_n AS BIGINT) AS rows_accepted, CAST($rec_q_n AS BIGINT) "
                   "AS rows_quarantined_at_load) FROM read_parquet($rec_audit, hive_partitioning = false)",
                   {"rec_audit": str(audit), "rec_n": accepted_now, "rec_q_n": rows_in_file - accepted_now}, audit)
        out.files += 1
    return out


def _drop_issues(con: duckdb.DuckDBPyConnection, zone: RawZone, entity: str, d: date, file: str,
                 lines: list[int]) -> int:
    path = zone.meta("data_issues", entity, d)
    if not lines or not path.is_file():
        return 0
    params = {"rec_path": str(path), "rec_lines": lines, "rec_file": file}
    hit = "file = $rec_file AND list_contains($rec_lines::BIGINT[], line)"
    src = "read_parquet($rec_path, hive_partitioning = false)"
    n = scalar(con, f"SELECT count(*) FROM {src} WHERE {hit}", params)
    if n:
        zone.write(con, f"SELECT * FROM {src} WHERE NOT ({hit})", params, path)
    return n


def drop_releases(con: duckdb.DuckDBPyConnection, zone: RawZone, lines: list[tuple[str, str, int]]) -> tuple[int, int]:
    """Remove the orphan-release entries of `lines` ((entity, file, line)) from every releases file;
    returns (entries removed, files rewritten)."""
    con.execute("CREATE OR REPLACE TEMP TABLE rec_lines (entity VARCHAR, file VARCHAR, line BIGINT)")
    if lines:
        con.executemany("INSERT INTO rec_lines VALUES (?, ?, ?)", lines)
    removed = files = 0
    src = "read_parquet($rec_path, hive_partitioning = false) r"
    on = "ON f.entity = r.entity AND f.file = r.file AND f.line = r.line"
    for path in zone.meta_files("releases"):
        params = {"rec_path": str(path)}
        n = scalar(con, f"SELECT count(*) FROM {src} SEMI JOIN rec_lines f {on}", params)
        if n:
            zone.write(con, f"SELECT r.* FROM {src} ANTI JOIN rec_lines f {on}", params, path)
            removed += n
            files += 1
    return removed, files
