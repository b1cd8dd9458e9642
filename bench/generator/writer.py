"""Render one extract file: typed rows -> contract text -> CSV bytes, with dirty rows mixed in.

Text formatting happens in DuckDB (fast, multi-threaded), so the same SQL formats the bulk of a file,
the templates dirty rows are made from and the values quoted in `_truth/tricky_clean.csv`:
ids `C00000042`, timestamps `YYYY-MM-DD HH:MM:SS`, dates `YYYY-MM-DD`, money with 2 decimals, rates
with 4, booleans `true`/`false`, NULL as an empty field. Files are comma separated with minimal `"`
quoting. Most files are written by DuckDB's COPY; the three files with a special encoding or line
ending (GBK, BOM, CRLF) go through Python's csv module. Dirty rows (including the wrong-column-count
ones, which get one field more or one less) are rendered by Python's csv module and spliced in.

A file may be written in chunks (one per customer block): the first chunk creates it with the header
(and BOM), later ones append their records; line numbers and the sha256 run on over the chunks.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration import contract as c

from .common import id_prefix

SENTINEL = "\x1e"


@dataclass
class DirtyRow:
    """One injected row: formatted values for every contract column and the defect it carries."""

    values: dict[str, str | None]
    defect: str
    column: str = ""  # offending column for value-level defects
    tail: str = ""  # wrong_column_count: "extra" (one field more) or "drop" (one field less)


@dataclass
class WrittenFile:
    entity: str
    path: Path
    rows: int
    encoding: str
    sha256: str
    clean_lines: np.ndarray  # CSV record number (header = 1) of each clean row, in input order
    dirty_lines: list[int] = field(default_factory=list)  # same for each dirty row, in input order


def _expr(entity: c.Entity, col: c.Column) -> str:
    q = f'"{col.name}"'
    prefix = id_prefix(entity, col.name)
    if prefix:
        # at least 8 digits (lpad would cut longer ids); the prefix comes from the fixed ID_PREFIX list
        return f"CASE WHEN {q} >= 0 THEN printf('{prefix}%08d', {q}) END"
    if col.type == c.TS:
        return f"strftime(CAST({q} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S')"
    if col.type == c.DATE:
        return f"strftime(CAST({q} AS TIMESTAMP), '%Y-%m-%d')"
    if col.type == c.MONEY:
        return f"CAST(CAST({q} / 100 AS DECIMAL(18,2)) AS VARCHAR)"
    if col.type == c.RATE:
        return f"CAST(CAST({q} / 10000 AS DECIMAL(9,4)) AS VARCHAR)"
    if col.type == c.INT:
        return f"CAST({q} AS VARCHAR)"
    if col.type == c.BOOL:
        return f"CASE WHEN {q} IS NULL THEN NULL WHEN {q} THEN 'true' ELSE 'false' END"
    return f"NULLIF(CAST({q} AS VARCHAR), '')"


def _select(entity: c.Entity, columns: list[str]) -> str:
    return ", ".join(f'{_expr(entity, entity.column(n))} AS "{n}"' for n in columns)


class Writer:
    """Owns one in-memory DuckDB connection used for formatting and writing."""

    def __init__(self, threads: int = 2) -> None:
        self.con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
        self.con.execute("SET enable_progress_bar = false")

    def close(self) -> None:
        self.con.close()

    def format_rows(self, entity: c.Entity, df: pd.DataFrame) -> list[dict[str, str | None]]:
        """Contract text of a few typed rows (templates, tricky values)."""
        if df.empty:
            return []
        self.con.register("fmt_src", df[entity.column_names])
        rows = self.con.execute(f"SELECT {_select(entity, entity.column_names)} FROM fmt_src").fetchall()
        self.con.unregister("fmt_src")
        return [dict(zip(entity.column_names, r, strict=True)) for r in rows]

    def write(
        self,
        entity: c.Entity,
        path: Path,
        clean: pd.DataFrame,
        dirty: list[DirtyRow],
        positions: np.ndarray,
        columns: list[str],
        encoding: str = "utf-8",
        bom: bool = False,
        crlf: bool = False,
        header: bool = True,
        first_line: int = 2,
        digest=None,
    ) -> WrittenFile:
        """Write clean rows (in order) with dirty row j inserted before clean row `positions[j]`.

        `header` True creates the file (header, BOM), False appends a chunk to it; `first_line` is the
        record number of the chunk's first record, `digest` a running hashlib sha256 of the file.

        Bulk files: DuckDB COPY writes the clean rows, the first field of each clean row that has dirty
        rows before it carries a sentinel, and one pass over the bytes replaces each sentinel by the
        dirty rows' text (rendered by Python's csv module). No sort of the big file is needed.
        """
        n, m = len(clean), len(dirty)
        positions = np.asarray(positions, dtype=np.int64)
        keys = np.concatenate([np.arange(n), positions])
        tie = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(m, dtype=np.int64)])
        rank = np.empty(n + m, dtype=np.int64)
        rank[np.lexsort((np.arange(n + m), tie, keys))] = np.arange(n + m)
        term = "\r\n" if crlf else "\n"
        before: dict[int, str] = {}  # clean row position -> text of the dirty rows written before it
        for j in np.argsort(positions, kind="stable"):
            p = int(positions[j])
            before[p] = before.get(p, "") + _dirty_line(dirty[j], columns, term)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not header and n + m == 0:
            data = b""
        elif encoding == "utf-8" and not bom and not crlf:
            marks = np.full(n, -1, dtype=np.int64)
            inside = [p for p in before if p < n]
            marks[inside] = inside
            src = clean.assign(_mark=marks)
            exprs = [_expr(entity, entity.column(col)) for col in columns]
            exprs[0] = (
                f"CASE WHEN _mark >= 0 THEN chr(30) || CAST(_mark AS VARCHAR) || chr(30) || COALESCE({exprs[0]}, '') ELSE {exprs[0]} END"
            )
            select = ", ".join(f'{e} AS "{col}"' for e, col in zip(exprs, columns, strict=True))
            part = path.with_name(path.name + ".part")
            self.con.register("clean_src", src)
            self.con.execute(  # the path is a parameter: a folder name with a quote cannot break the SQL
                f"COPY (SELECT {select} FROM clean_src) TO $path "
                f"(HEADER {'true' if header else 'false'}, DELIMITER ',', QUOTE '\"', ESCAPE '\"')",
                {"path": str(part)},
            )
            self.con.unregister("clean_src")
            del src
            data = part.read_bytes()
            part.unlink()
            if before:
                data = _splice(data, {p: t.encode(encoding) for p, t in before.items()}, n)
        else:
            self.con.register("clean_src", clean)
            rows = self.con.execute(f"SELECT {_select(entity, columns)} FROM clean_src").fetchall()
            self.con.unregister("clean_src")
            buf = io.StringIO()
            out = csv.writer(buf, lineterminator=term, quoting=csv.QUOTE_MINIMAL)
            if header:
                out.writerow(columns)
            start = 0
            for p in sorted(before):
                out.writerows(rows[start:p])
                buf.write(before[p])
                start = p
            out.writerows(rows[start:])
            del rows
            data = (("\ufeff" if bom and header else "") + buf.getvalue()).encode(encoding)
        with path.open("wb" if header else "ab") as fh:
            fh.write(data)
        digest = digest if digest is not None else hashlib.sha256()
        digest.update(data)
        return WrittenFile(
            entity=entity.name,
            path=path,
            rows=n + m,
            encoding=encoding,
            sha256=digest.hexdigest(),
            clean_lines=rank[:n] + first_line,
            dirty_lines=[int(x) + first_line for x in rank[n:]],
        )


def _dirty_line(row: DirtyRow, columns: list[str], term: str) -> str:
    """One dirty record as text; wrong-column-count rows get one field more or one less."""
    values = [row.values[col] for col in columns]
    if row.tail == "extra":
        values.append("extra")
    elif row.tail == "drop":
        values.pop()
    buf = io.StringIO()
    csv.writer(buf, lineterminator=term, quoting=csv.QUOTE_MINIMAL).writerow(values)
    return buf.getvalue()


def _splice(data: bytes, before: dict[int, bytes], n: int) -> bytes:
    """Replace every sentinel by the dirty rows that go before that clean row; append those after the last.

    A sentinel sits at the start of a record, or right after the opening quote when the first field is
    quoted; the dirty rows then go before that quote.
    """
    mark = SENTINEL.encode()
    view, out, pos, seen = memoryview(data), [], 0, 0
    while (start := data.find(mark, pos)) >= 0:
        end = data.find(mark, start + 1)
        rows = before[int(data[start + 1 : end])]
        if data[start - 1 : start] == b'"':
            out.extend((view[pos : start - 1], rows, b'"'))
        else:
            out.extend((view[pos:start], rows))
        pos, seen = end + 1, seen + 1
    out.append(view[pos:])
    if n in before:
        out.append(before[n])
    assert seen == sum(p < n for p in before), "every sentinel must be written exactly once"
    return b"".join(out)
