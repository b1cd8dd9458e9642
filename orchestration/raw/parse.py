"""Parse one extract file with DuckDB `read_csv` (explicit types, `store_rejects`).

Columns are matched by header name: the header is read first, each known column gets its contract type
and unknown extra columns are read as text and kept, as a map column name -> text value, in the raw column
`extra_fields` (schema evolution: reported in ops.load_audit and on the console, reachable in staging; a
site may promote one to a typed mart column, see docs/sites.md). Contract columns a file lacks (optional
ones only: a missing required column refuses the file) load as NULL and are reported. Rows DuckDB cannot parse land in its
reject table with their record number; accepted rows get their record number as the complement of the
rejected ones (DuckDB keeps insertion order, and both count records, header = 1).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import duckdb

from orchestration import contract
from orchestration.errors import CrmWarehouseError
from orchestration.raw.sqlnames import quote, scalar
from orchestration.raw.transcode import PreparedFile

PARSED = "parsed_rows"  # temp table: accepted rows with _source_line
REJECTS = "parse_rejects"  # temp table: one row per rejected record (first error)


@dataclass(frozen=True)
class ParseResult:
    records: int  # data records in the file (accepted + rejected by the parser)
    accepted: int
    rejected: int
    extra_columns: tuple[str, ...]  # header columns the contract does not know, in header order
    missing_columns: tuple[str, ...] = ()  # optional contract columns the header lacks (loaded as NULL)


EXTRA_FIELDS = "extra_fields"  # raw column: MAP(VARCHAR, VARCHAR) of the extra columns, NULL when none


def header_columns(prepared: PreparedFile, ent: contract.Entity, display_name: str) -> list[str]:
    """Column names from the header; a missing required column is an error naming file and column."""
    try:
        names = next(csv.reader([prepared.header]))
    except (csv.Error, StopIteration):
        names = []
    names = [n.strip() for n in names]
    if not names or names == [""]:
        raise CrmWarehouseError(f"{display_name}: line 1: the header row is empty")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CrmWarehouseError(f"{display_name}: line 1: header repeats column(s) {', '.join(dupes)}")
    missing = [c for c in ent.required_columns if c not in names]
    if missing:
        col = missing[0]
        more = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise CrmWarehouseError(
            f"{display_name}: line 1, column {col!r}: required column is missing from the header{more}; "
            f"nothing of {ent.name} was loaded for this extract"
        )
    return names


def parse_file(
    con: duckdb.DuckDBPyConnection, prepared: PreparedFile, ent: contract.Entity, names: list[str]
) -> ParseResult:
    """Create temp tables PARSED (typed contract columns + _source_line) and REJECTS."""
    known = set(ent.column_names)
    types = {n: (ent.column(n).type if n in known else "VARCHAR") for n in names}
    for table in (PARSED, REJECTS, "csv_rejects", "csv_scans", "csv_raw"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(
        """
        CREATE TEMP TABLE csv_raw AS
        SELECT * FROM read_csv(
            $path, header = true, columns = $columns, auto_detect = false,
            delim = ',', quote = '"', escape = '"', store_rejects = true,
            rejects_table = 'csv_rejects', rejects_scan = 'csv_scans', max_line_size = 10000000
        )
        """,
        {"path": str(prepared.readable), "columns": types},
    )
    # One reject row per record: the first error by column position.
    con.execute(
        f"""
        CREATE TEMP TABLE {REJECTS} AS
        SELECT line, error_type::VARCHAR AS error_type, column_name, csv_line, error_message
        FROM csv_rejects
        QUALIFY row_number() OVER (PARTITION BY line ORDER BY column_idx NULLS LAST, byte_position) = 1
        """
    )
    accepted = scalar(con, "SELECT count(*) FROM csv_raw")
    rejected = scalar(con, f"SELECT count(*) FROM {REJECTS}")
    records = accepted + rejected
    present = [c for c in ent.column_names if c in types]
    absent = [c for c in ent.column_names if c not in types]  # optional columns not delivered
    extra = tuple(n for n in names if n not in known)
    select_cols = [quote(ent, c) for c in present] + [
        f"CAST(NULL AS {ent.column(c).type}) AS {quote(ent, c)}" for c in absent
    ]
    # The extra columns' names come from the file: they are bound as a parameter and selected with
    # COLUMNS(lambda), never written into the SQL (csv_raw holds them in header order, like `extra`).
    select_cols.append(
        f"map(CAST($extra AS VARCHAR[]), list_value(*COLUMNS(lambda c: list_contains($extra, c)))) AS {EXTRA_FIELDS}"
        if extra else f"NULL::MAP(VARCHAR, VARCHAR) AS {EXTRA_FIELDS}"
    )
    con.execute(
        f"""
        CREATE TEMP TABLE {PARSED} AS
        WITH numbered_rows AS (
            SELECT *, row_number() OVER (ORDER BY rowid) AS ordinal FROM csv_raw
        ),
        accepted_lines AS (
            SELECT line, row_number() OVER (ORDER BY line) AS ordinal
            FROM range(2, $records + 2) AS t(line)
            WHERE line NOT IN (SELECT line FROM {REJECTS})
        )
        SELECT {", ".join(select_cols)}, accepted_lines.line::BIGINT AS _source_line
        FROM numbered_rows JOIN accepted_lines USING (ordinal)
        """,
        {"records": records, **({"extra": list(extra)} if extra else {})},
    )
    con.execute("DROP TABLE csv_raw")
    return ParseResult(records, accepted, rejected, extra, tuple(absent))
