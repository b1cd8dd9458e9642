"""Rebuild `ops.quarantine`, `ops.data_issues` and `ops.load_audit` from the raw zone's metadata files.

They are rebuilt from scratch each run (never appended), so a re-run never doubles them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.raw.sqlnames import scalar

EMPTY_QUARANTINE = """
    SELECT NULL::VARCHAR AS entity, NULL::DATE AS extract_date, NULL::VARCHAR AS file, NULL::BIGINT AS line,
           NULL::VARCHAR AS "column", NULL::VARCHAR AS reason, NULL::VARCHAR AS detail,
           NULL::VARCHAR AS raw_text WHERE false
"""
EMPTY_ISSUES = """
    SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS key, NULL::VARCHAR AS "column", NULL::VARCHAR AS reason,
           NULL::VARCHAR AS file, NULL::BIGINT AS line, NULL::DATE AS extract_date WHERE false
"""
EMPTY_RELEASES = """
    SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS file, NULL::BIGINT AS line, NULL::VARCHAR AS key,
           NULL::DATE AS released_on WHERE false
"""
EMPTY_AUDIT = """
    SELECT NULL::DATE AS extract_date, NULL::VARCHAR AS entity, NULL::VARCHAR AS file, NULL::VARCHAR AS sha256,
           NULL::VARCHAR AS encoding, NULL::BIGINT AS rows_in_file, NULL::BIGINT AS rows_accepted,
           NULL::BIGINT AS rows_quarantined_at_load, NULL::VARCHAR[] AS extra_columns,
           NULL::VARCHAR[] AS missing_columns, NULL::TIMESTAMP AS loaded_at WHERE false
"""


def _source(files: list[Path], empty_sql: str, name: str) -> tuple[str, dict]:
    if not files:
        return empty_sql, {}
    # union_by_name: files written before a column was added (e.g. audit.missing_columns) read it as NULL
    return f"SELECT * EXCLUDE (_batch) FROM read_parquet(${name}, hive_partitioning = true, union_by_name = true)", {
        name: [str(f) for f in files]
    }


def rebuild_ops_tables(con: duckdb.DuckDBPyConnection, raw_root: Path) -> dict[str, int]:
    """Create or replace the three ops tables in `con`'s database; return their row counts."""
    meta = raw_root / "_meta"
    q_sql, q_params = _source(sorted(meta.glob("quarantine/*/*.parquet")), EMPTY_QUARANTINE, "q_files")
    i_sql, i_params = _source(sorted(meta.glob("data_issues/*/*.parquet")), EMPTY_ISSUES, "i_files")
    a_sql, a_params = _source(sorted(meta.glob("audit/*/*.parquet")), EMPTY_AUDIT, "a_files")
    if a_params:  # audit files of older loaders lack later columns (missing_columns): NULL for them
        a_sql = f"({EMPTY_AUDIT}) UNION ALL BY NAME ({a_sql})"
    release_files = sorted(meta.glob("releases/*.parquet"))
    r_sql = (
        "SELECT * FROM read_parquet($r_files)" if release_files else EMPTY_RELEASES
    )
    r_params = {"r_files": [str(f) for f in release_files]} if release_files else {}

    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ops.quarantine AS
        WITH q AS ({q_sql}), r AS ({r_sql})
        SELECT q.entity, q.extract_date, q.file, q.line, q."column", q.reason,
               CASE WHEN r.released_on IS NULL THEN 'quarantined' ELSE 'released' END AS status,
               r.released_on, q.detail, q.raw_text
        FROM q LEFT JOIN r ON r.entity = q.entity AND r.file = q.file AND r.line = q.line
        ORDER BY q.extract_date, q.entity, q.line
        """,
        {**q_params, **r_params},
    )
    con.execute(f"CREATE OR REPLACE TABLE ops.data_issues AS {i_sql} ORDER BY extract_date, entity, line", i_params)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ops.load_audit AS
        WITH a AS ({a_sql}),
        released AS (
            SELECT entity, file, count(*) AS n FROM ops.quarantine WHERE status = 'released' GROUP BY ALL
        )
        SELECT a.extract_date, a.entity, a.file, a.sha256, a.encoding, a.rows_in_file,
               a.rows_accepted + coalesce(r.n, 0) AS rows_loaded,
               a.rows_quarantined_at_load - coalesce(r.n, 0) AS rows_quarantined,
               coalesce(r.n, 0) AS rows_released, a.extra_columns, a.missing_columns, a.loaded_at
        FROM a LEFT JOIN released r USING (entity, file)
        ORDER BY a.extract_date, a.entity
        """,
        a_params,
    )
    return {
        t: scalar(con, f"SELECT count(*) FROM ops.{t}")
        for t in ("quarantine", "data_issues", "load_audit")
    }


# Descriptions of the tables above, written as DuckDB comments at publish (orchestration/serving/comments.py).
# table -> (table description, column -> description). Clocks: extract_date/released_on are dates (no
# clock); loaded_at is the loader's wall clock in UTC.
DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "quarantine": (
        "One row per extract row refused at load or by a raw gate, with its reason (nothing is dropped "
        "silently); status says whether a later correction released it. The raw text and detail stay in the "
        "private work file.",
        {
            "entity": "extract entity (file) the row came from, e.g. customers, orders",
            "extract_date": "date of the nightly extract folder the row came from (DATE, no clock)",
            "file": "extract file, relative to the landing folder",
            "line": "line number of the row in the file (1 = first line after the header)",
            "column": "the column at fault; NULL when the whole row is at fault (e.g. wrong field count)",
            "reason": "reason code (docs/extract_contract.md), e.g. bad_date, missing_key, duplicate_key, "
                      "orphan_reference, forgotten",
            "status": "quarantined (still refused) or released (a later extract or reload delivered it correctly)",
            "released_on": "extract date that released the row (DATE, no clock); NULL while quarantined",
            "detail": "the parser's message (kept in the work file only)",
            "raw_text": "the raw line as delivered (kept in the work file only: may hold personal data)",
        },
    ),
    "data_issues": (
        "One row per accepted extract row with a suspicious but loadable value (kept, flagged, not quarantined).",
        {
            "entity": "extract entity (file) the row came from",
            "key": "the row's business key (e.g. customer_id, order_id)",
            "column": "the column with the issue",
            "reason": "issue code (docs/extract_contract.md), e.g. future_date, negative_amount",
            "file": "extract file, relative to the landing folder",
            "line": "line number of the row in the file",
            "extract_date": "date of the nightly extract folder (DATE, no clock)",
        },
    ),
    "load_audit": (
        "One row per extract file loaded: checksum, encoding and the reconciliation rows_in_file = rows_loaded "
        "+ rows_quarantined.",
        {
            "extract_date": "date of the nightly extract folder (DATE, no clock)",
            "entity": "extract entity of the file",
            "file": "extract file, relative to the landing folder",
            "sha256": "SHA-256 of the file as delivered (hex)",
            "encoding": "text encoding the file was read with (from _manifest.json, default utf-8)",
            "rows_in_file": "data rows in the file (count, header excluded)",
            "rows_loaded": "rows accepted into the raw zone, including rows released later (count)",
            "rows_quarantined": "rows still in ops.quarantine (count)",
            "rows_released": "rows first quarantined, then released by a later correction (count)",
            "extra_columns": "columns in the file that the extract contract does not know, as a list; their values "
                             "are kept in the raw column extra_fields (a map name -> text) and reach staging",
            "missing_columns": "optional contract columns the file's header lacks, as a list; loaded as NULL",
            "loaded_at": "when the loader read the file: wall clock of the warehouse machine in UTC "
                         "(TIMESTAMP without time zone, UTC)",
        },
    ),
}
