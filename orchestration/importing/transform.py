"""Apply a mapping: DuckDB SQL turning loaded source tables into contract text, one table per entity.

Each contract column becomes one SQL expression over the positional source columns (`c<i>`): the base
value (source column / first non-empty / concatenation / constant), then `split`, `codes`, `format`, the
boolean spelling and `default`; derived columns are computed over the mapped ones in an outer query.
Every value from the mapping is a bound parameter; identifiers come from the contract (`sqlnames.quote`)
or are generated (`c<i>`, `src_<n>`, `out_<entity>`). Values that do not convert (an unmapped code, a date
in another format) pass through unchanged, so the loader quarantines them with a reason: nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from orchestration import contract
from orchestration.importing.columns import FALSE_WORDS, TRUE_WORDS, ColumnSpec
from orchestration.importing.source import LoadedSource
from orchestration.raw.sqlnames import quote

OUT_FORMAT = {contract.TS: "%Y-%m-%d %H:%M:%S", contract.DATE: "%Y-%m-%d"}


@dataclass
class Params:
    """Named SQL parameters; `add` returns the placeholder of a new one."""

    values: dict = field(default_factory=dict)

    def add(self, value: object, cast: str = "VARCHAR") -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"CAST(${name} AS {cast})"


@dataclass(frozen=True)
class EntityOutput:
    """The contract-text rows of one entity in temp table `table` (ordered by `_src`, `_rn`)."""

    entity: str
    table: str
    columns: tuple[str, ...]  # contract columns, in contract order
    rows: int
    skipped: dict[str, int]  # source file -> rows left out by the mapping's `skip`


def _code_map(expr: str, codes: tuple[tuple[str, str | None], ...], p: Params, keep: bool) -> str:
    keys = p.add([k for k, _ in codes], "VARCHAR[]")
    values = p.add([v for _, v in codes], "VARCHAR[]")
    pos = f"list_position({keys}, lower({expr}))"
    otherwise = f" ELSE {expr}" if keep else ""
    return f"CASE WHEN {pos} IS NOT NULL THEN list_extract({values}, {pos}){otherwise} END"


def column_expr(spec: ColumnSpec, col: contract.Column, src: LoadedSource, p: Params) -> str:
    """SQL of one mapped (not derived) contract column over source table columns c<i>."""
    def source(name: str) -> str:
        return f"nullif(trim(c{src.position[name]}), '')"

    if spec.kind == "empty":
        return "CAST(NULL AS VARCHAR)"
    if spec.kind == "value":
        return p.add(spec.value)
    if spec.kind == "from":
        parts = [source(n) for n in spec.sources]
        expr = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
    else:  # concat
        expr = f"nullif(concat_ws({p.add(spec.sep)}, {', '.join(source(n) for n in spec.sources)}), '')"
    if spec.split:
        expr = f"nullif(trim(split_part({expr}, {p.add(spec.split)}, 1)), '')"
    if spec.codes:
        expr = _code_map(expr, spec.codes, p, keep=True)
    if spec.formats:
        out = p.add(OUT_FORMAT[col.type])
        if spec.formats[0] in ("epoch_ms", "epoch_s"):
            scale = 1000 if spec.formats[0] == "epoch_ms" else 1_000_000
            parsed = f"make_timestamp(try_cast(try_cast({expr} AS DOUBLE) * {scale} AS BIGINT))"
        else:
            parsed = f"CAST(try_strptime({expr}, {p.add(list(spec.formats), 'VARCHAR[]')}) AS TIMESTAMP)"
        expr = f"coalesce(strftime({parsed}, {out}), {expr})"
    if col.type == contract.BOOL:
        t, f = p.add(list(TRUE_WORDS), "VARCHAR[]"), p.add(list(FALSE_WORDS), "VARCHAR[]")
        expr = (f"CASE WHEN list_contains({t}, lower({expr})) THEN 'true' "
                f"WHEN list_contains({f}, lower({expr})) THEN 'false' ELSE {expr} END")
    if spec.default is not None:
        expr = f"coalesce({expr}, {p.add(spec.default)})"
    return expr


def build_entity(con: duckdb.DuckDBPyConnection, name: str, sources: list[LoadedSource]) -> EntityOutput:
    """Create temp table `out_<entity>` from the entity's loaded sources (UNION ALL, in mapping order)."""
    ent = contract.entity(name)
    mapped = {s.column for src in sources for s in src.spec.columns}
    columns = tuple(c for c in ent.column_names if c in mapped)
    p = Params()
    selects, skipped = [], {}
    for n, src in enumerate(sources):
        specs = {s.column: s for s in src.spec.columns}
        inner = [f"{column_expr(s, ent.column(s.column), src, p)} AS {quote(ent, s.column)}"
                 for s in src.spec.columns if s.kind != "derive"]
        outer = []
        for c in columns:
            s = specs.get(c)
            if s is None:
                outer.append(f"CAST(NULL AS VARCHAR) AS {quote(ent, c)}")
            elif s.kind == "derive":
                expr = _code_map(f"lower(trim({quote(ent, s.derive_from)}))", s.codes, p, keep=False)
                if s.default is not None:
                    expr = f"coalesce({expr}, {p.add(s.default)})"
                outer.append(f"{expr} AS {quote(ent, c)}")
            else:
                outer.append(quote(ent, c))
        conditions = [
            f"NOT coalesce(list_contains({p.add(list(values), 'VARCHAR[]')}, "
            f"lower(nullif(trim(c{src.position[column]}), ''))), false)"
            for column, values in src.spec.skip
        ]
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        selects.append(
            f"SELECT {n} AS _src, _rn, {', '.join(outer)} FROM "
            f"(SELECT rowid AS _rn, {', '.join(inner)} FROM {src.table}{where})"
        )
    table = f"out_{ent.name}"
    con.execute(f"CREATE TEMP TABLE {table} AS {' UNION ALL '.join(selects)} ORDER BY _src, _rn", p.values)
    counts = dict(con.execute(f"SELECT _src, count(*) FROM {table} GROUP BY 1").fetchall())
    for n, src in enumerate(sources):
        left_out = src.rows - counts.get(n, 0)
        if left_out:
            skipped[src.spec.file] = skipped.get(src.spec.file, 0) + left_out
    rows = sum(counts.values())
    return EntityOutput(ent.name, table, columns, rows, skipped)


def unmapped_codes(con: duckdb.DuckDBPyConnection, out: EntityOutput) -> list[tuple[str, str, int]]:
    """(column, value, rows) of code values outside the contract's set: the loader quarantines them."""
    ent = contract.entity(out.entity)
    found = []
    for col in ent.columns:
        if col.name not in out.columns or not (col.codes or col.type == contract.BOOL):
            continue
        allowed = [c.lower() for c in col.codes] if col.codes else ["true", "false"]
        q = quote(ent, col.name)
        rows = con.execute(
            f"SELECT {q}, count(*) FROM {out.table} WHERE {q} IS NOT NULL "
            f"AND NOT list_contains($allowed, lower(trim({q}))) GROUP BY 1 ORDER BY 1",
            {"allowed": allowed},
        ).fetchall()
        found.extend((col.name, value, n) for value, n in rows)
    return found


def newest_event_date(con: duckdb.DuckDBPyConnection, outputs: list[EntityOutput]):
    """The newest date in the mapped event-time columns (None when there is none)."""
    newest = None
    for out in outputs:
        ent = contract.entity(out.entity)
        for col in ent.columns:
            if col.event_time and col.name in out.columns:
                value = con.execute(
                    f"SELECT max(try_cast({quote(ent, col.name)} AS TIMESTAMP)) FROM {out.table}"
                ).fetchone()[0]
                if value is not None and (newest is None or value.date() > newest):
                    newest = value.date()
    return newest
