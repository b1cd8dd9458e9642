"""`crm-warehouse import`: one export folder + one mapping file -> one contract extract folder.

Steps: validate the mapping; check every source file and column it names; load the files into an
in-memory DuckDB (text); map them onto the contract (one table per entity); choose the extract date (the
newest mapped event time unless `--date`); write `DEST/<date>/` (manifest last) and merge `DEST/crm.yml`.
The same inputs give the same bytes. What the import reports (`ImportResult.notes`) accounts for every
source row: written, left out by the mapping's `skip`, or unreadable (with line numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from orchestration.errors import CrmWarehouseError
from orchestration.importing import output
from orchestration.importing.source import LoadedSource, load_source
from orchestration.importing.spec import Mapping, load_mapping
from orchestration.importing.transform import EntityOutput, build_entity, newest_event_date, unmapped_codes


@dataclass
class SourceCount:
    """How the records of one source file were accounted for."""

    file: str
    entity: str
    records: int  # data records in the file
    written: int
    skipped: int  # left out by the mapping's `skip`
    unreadable: tuple[int, ...]  # line numbers DuckDB could not read (not written)


@dataclass
class ImportResult:
    folder: Path
    extract_date: date
    status: str  # written | unchanged | replaced
    rows: dict[str, int]  # entity -> rows written
    sources: list[SourceCount]
    unmapped: list[tuple[str, str, str, int]]  # (entity, column, value, rows) passed through
    site_file: Path
    notes: list[str] = field(default_factory=list)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 1, "preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")  # timestamps with an offset convert to UTC, whatever the machine says
    return con


def import_export(mapping_file: Path, src: Path, dest: Path, extract_date: date | None = None,
                  replace: bool = False, log: Callable[[str], None] = lambda m: None) -> ImportResult:
    """Import export folder `src` into landing folder `dest` with `mapping_file`."""
    mapping: Mapping = load_mapping(mapping_file)
    if not src.is_dir():
        raise CrmWarehouseError(f"{src}: source folder does not exist (SRC)")
    output.check_site_currency(dest, mapping.currency)
    con = _connect()
    try:
        loaded = [load_source(con, src, spec, mapping, i) for i, spec in enumerate(mapping.sources)]
        outputs: list[EntityOutput] = []
        for name in mapping.entities:
            outputs.append(build_entity(con, name, [s for s in loaded if s.spec.entity == name]))
        day = extract_date or newest_event_date(con, outputs)
        if day is None:
            raise CrmWarehouseError(f"{mapping.path}: no event time found in the mapped data (created_at, "
                                    "occurred_at, updated_at, ...); pass --date YYYY-MM-DD")
        unmapped = [(out.entity, col, value, n) for out in outputs for col, value, n in unmapped_codes(con, out)]
        status = output.write_extract(con, outputs, dest, day, replace)
    finally:
        con.close()
    site_file = output.merge_site_config(dest, mapping.site, mapping.currency, mapping.entities)
    result = ImportResult(
        folder=dest / day.isoformat(),
        extract_date=day,
        status=status,
        rows={o.entity: o.rows for o in outputs},
        sources=_counts(loaded, outputs),
        unmapped=unmapped,
        site_file=site_file,
    )
    result.notes = summary_lines(result, mapping)
    for line in result.notes:
        log(line)
    return result


def _counts(loaded: list[LoadedSource], outputs: list[EntityOutput]) -> list[SourceCount]:
    skipped = {(o.entity, f): n for o in outputs for f, n in o.skipped.items()}
    counts = []
    for s in loaded:
        left_out = skipped.pop((s.spec.entity, s.spec.file), 0)  # a file feeding one entity twice: counted once
        counts.append(SourceCount(s.spec.file, s.spec.entity, s.rows + len(s.unreadable), s.rows - left_out,
                                  left_out, s.unreadable))
    return counts


def summary_lines(result: ImportResult, mapping: Mapping) -> list[str]:
    """What the import did, one line per source file, plus unmapped codes and unreadable lines."""
    lines = []
    for c in result.sources:
        extra = f", {c.skipped} left out by skip" if c.skipped else ""
        if c.unreadable:
            shown = ", ".join(map(str, c.unreadable[:10])) + (" ..." if len(c.unreadable) > 10 else "")
            extra += f", {len(c.unreadable)} unreadable (line {shown}), not written"
        lines.append(f"{c.file}: {c.records} row(s) -> {c.entity}: {c.written} written{extra}")
    by_column: dict[tuple[str, str], list[str]] = {}
    for entity, column, value, n in result.unmapped:
        by_column.setdefault((entity, column), []).append(f"{value!r} ({n})")
    for (entity, column), values in by_column.items():
        total = sum(n for e, c, _, n in result.unmapped if (e, c) == (entity, column))
        lines.append(f"unmapped codes: {entity}.{column}: {total} row(s) with {', '.join(values)} passed through; "
                     f"the loader quarantines them as unknown_code (add them to the codes of {mapping.path})")
    verb = {"written": "wrote", "unchanged": "unchanged (identical)", "replaced": "replaced"}[result.status]
    total = sum(result.rows.values())
    lines.append(f"{verb} {result.folder} ({len(result.rows)} file(s), {total} row(s), currency {mapping.currency}); "
                 f"site configuration {result.site_file}")
    return lines
