"""The export folder: check each source file the mapping names and load it into DuckDB as text.

A source file is read with DuckDB `read_csv` (every column VARCHAR, the header skipped). Its columns get
generated names `c0, c1, ...` by position, so SQL never carries an identifier taken from a file; the header
is read once in Python to know which position holds which source column. Records DuckDB cannot read (wrong
field count, unbalanced quotes) are not loaded: they are counted and reported with their line numbers.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.errors import CrmWarehouseError
from orchestration.importing.spec import Mapping, SourceSpec


@dataclass(frozen=True)
class LoadedSource:
    """One source file loaded into temp table `table` (columns c0..cN, text, in file order)."""

    spec: SourceSpec
    path: Path
    table: str
    position: dict[str, int]  # source column -> index i of column c<i>
    rows: int  # records loaded
    unreadable: tuple[int, ...]  # line numbers (header = 1) of records DuckDB could not read


def read_header(path: Path, spec: SourceSpec, mapping: Mapping) -> list[str]:
    """The header names of a source file; a missing file or column is an error naming the file."""
    where = f"{mapping.path}: {spec.path}"
    if not path.is_file():
        raise CrmWarehouseError(f"{path}: source file not found (named in {where}.file); export it into the "
                                "source folder or remove the block from the mapping")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            names = next(csv.reader(fh, delimiter=spec.delimiter), [])
    except UnicodeDecodeError as exc:
        raise CrmWarehouseError(f"{path}: line 1: not UTF-8 (byte {exc.start}); export the file as UTF-8") from None
    except csv.Error as exc:
        raise CrmWarehouseError(f"{path}: line 1: the header cannot be read ({exc})") from None
    names = [n.strip() for n in names]
    if not names or names == [""]:
        raise CrmWarehouseError(f"{path}: line 1: the header row is empty")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CrmWarehouseError(f"{path}: line 1: header repeats column(s) {', '.join(dupes)}")
    for column, key_path in spec.source_columns():
        if column not in names:
            raise CrmWarehouseError(
                f"{path}: line 1: column {column!r} is not in the header (named in {mapping.path}: {key_path}); "
                f"the header has: {', '.join(names)}"
            )
    return names


def load_source(con: duckdb.DuckDBPyConnection, src_dir: Path, spec: SourceSpec, mapping: Mapping,
                index: int) -> LoadedSource:
    """Load one source file into temp table `src_<index>`; unreadable records go to `rej_<index>`."""
    path = src_dir / spec.file
    names = read_header(path, spec, mapping)
    table, rejects, scans = f"src_{index}", f"rej_{index}", f"scan_{index}"
    columns = {f"c{i}": "VARCHAR" for i in range(len(names))}
    try:
        con.execute(
            f"""
            CREATE TEMP TABLE {table} AS
            SELECT * FROM read_csv(
                $path, header = true, columns = $columns, auto_detect = false, delim = $delim,
                quote = '"', escape = '"', store_rejects = true, rejects_table = '{rejects}',
                rejects_scan = '{scans}', max_line_size = 10000000
            )
            """,
            {"path": str(path), "columns": columns, "delim": spec.delimiter},
        )
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        unreadable = tuple(r[0] for r in con.execute(f"SELECT DISTINCT line FROM {rejects} ORDER BY line").fetchall())
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise CrmWarehouseError(f"{path}: cannot be read as CSV ({message}); export it as UTF-8 CSV") from None
    return LoadedSource(spec, path, table, {n: i for i, n in enumerate(names)}, rows, unreadable)
