"""Where a person's identifiers are: the tables (of a DuckDB file) and Parquet files with identifier
columns, and the SQL that finds, counts and deletes their forgotten rows.

An identifier column is a VARCHAR column whose role (orchestration/column_roles.py) is a customer or an
order key: for a dbt model its yml `meta` (customer_key / order_key) decides, for a raw-zone file the
extract contract (`suppress.id_kind`, the rule the raw loader's filter uses too), for a table dbt does
not own (ml, ops) the naming convention; a table with `entity` and `key` columns (ops.data_issues) also
identifies a customer or an order by its key.

Identifiers in the SQL come from allow-lists and are quoted: raw-zone columns from the extract contract
(`sqlnames.quote`), DuckDB tables and columns from the catalog of the file being read (names that exist
there), Parquet columns from the file's own schema. Values are parameters or the Sweeper's temp tables.

Reads: the catalog and identifier columns of one file. Writes: nothing (`delete_rows` deletes in the
connection it is given, a private copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.column_roles import roles
from orchestration.privacy.matching import Sweeper, in_forgotten
from orchestration.privacy.suppress import id_kind
from orchestration.raw.sqlnames import execute, quote, scalar
from orchestration.serving.rewrite import quote_ident
from orchestration.settings import connect_duckdb

# ops.data_issues-like tables: (parameter holding the entity a `key` belongs to, the kind it then is)
ENTITY_KEYS = (("$key_entity_customers", "customer_id"), ("$key_entity_orders", "order_id"))
ENTITY_PARAMS = {"key_entity_customers": "customers", "key_entity_orders": "orders"}
PARQUET = "read_parquet($path, hive_partitioning = false)"


@dataclass(frozen=True)
class Target:
    """A table (or Parquet file) with identifier columns."""

    name: str  # schema.table (or entity / schema.table of a Parquet file)
    relation: str  # SQL: a quoted qualified table name, or PARQUET (with $path)
    id_columns: tuple[tuple[str, str], ...]  # (quoted column, kind)
    entity_key: bool  # has `entity` + `key` columns: the key is a customer or an order id

    def predicate(self) -> str:
        """SQL: the row holds a forgotten identifier (reads the Sweeper's temp tables; ENTITY_PARAMS)."""
        parts = [in_forgotten(col, kind) for col, kind in self.id_columns]
        if self.entity_key:
            parts += [f"(entity = {param} AND {in_forgotten('key', kind)})" for param, kind in ENTITY_KEYS]
        return "(" + " OR ".join(parts) + ")"

    def learn(self, con: duckdb.DuckDBPyConnection, sweeper: Sweeper, params: dict | None = None) -> None:
        """Hash every identifier value of the target against the forgotten list."""
        for col, kind in self.id_columns:
            sweeper.learn(con, kind, f"SELECT DISTINCT trim(CAST({col} AS VARCHAR)) FROM {self.relation} "
                          f"WHERE {col} IS NOT NULL", params)
        if self.entity_key:
            for param, kind in ENTITY_KEYS:
                sweeper.learn(con, kind, f"SELECT DISTINCT trim(key) FROM {self.relation} "
                              f"WHERE entity = {param} AND key IS NOT NULL", {**(params or {}), **ENTITY_PARAMS})

    def count(self, con: duckdb.DuckDBPyConnection, params: dict | None = None) -> int:
        """Rows holding a forgotten identifier (after `Sweeper.load_into`)."""
        return scalar(con, f"SELECT count(*) FROM {self.relation} WHERE {self.predicate()}",
                      {**(params or {}), **ENTITY_PARAMS})

    def kept_rows_sql(self) -> str:
        """SQL: the rows to keep."""
        return f"SELECT * FROM {self.relation} WHERE NOT coalesce({self.predicate()}, false)"

    def delete_rows(self, con: duckdb.DuckDBPyConnection) -> None:
        execute(con, f"DELETE FROM {self.relation} WHERE {self.predicate()}", ENTITY_PARAMS)


def _target(name: str, relation: str, columns: Iterable[tuple[str, str, str]],
            kind_of: Callable[[str], str | None]) -> Target | None:
    """From (column, quoted column, type) triples and each column's key kind; None when nothing
    identifies a person."""
    cols = list(columns)
    id_cols = tuple((q, kind_of(c)) for c, q, t in cols if kind_of(c) and t.upper() == "VARCHAR")
    entity_key = {"entity", "key"} <= {c for c, _, _ in cols}
    if not id_cols and not entity_key:
        return None
    return Target(name, relation, id_cols, entity_key)


def duckdb_targets(con: duckdb.DuckDBPyConnection, database: str,
                   skip: Iterable[tuple[str, str]] = ()) -> list[Target]:
    """Every TABLE (not view) of the attached `database` with identifier columns, except `skip`."""
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name, list(c.column_name ORDER BY c.column_index),
               list(c.data_type ORDER BY c.column_index)
        FROM duckdb_columns() c
        JOIN duckdb_tables() t
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"db": database},
    ).fetchall()
    skipped = set(skip)
    book = roles()
    out = []
    for schema, table, cols, types in rows:
        if (schema, table) in skipped:
            continue
        relation = ".".join(quote_ident(p) for p in (database, schema, table))
        keys = book.id_columns(schema, table, cols)
        t = _target(f"{schema}.{table}", relation,
                    ((c, quote_ident(c), typ) for c, typ in zip(cols, types, strict=True)), keys.get)
        if t:
            out.append(t)
    return out


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in execute(con, f"DESCRIBE SELECT * FROM {PARQUET}", {"path": str(path)}).fetchall()]


def parquet_target(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> Target | None:
    """A published Parquet export file `name` ("schema.table": its roles are the table's; columns from
    its own schema); use with {"path": str(path)}."""
    cols = _parquet_columns(con, path)
    schema, _, table = name.partition(".")
    keys = roles().id_columns(schema, table, [c for c, _ in cols])
    return _target(name, PARQUET, ((c, quote_ident(c), t) for c, t in cols), keys.get)


def raw_target(con: duckdb.DuckDBPyConnection, ent: contract.Entity, path: Path) -> Target | None:
    """A raw-zone file of `ent` (accepted, released or orphan rows): only contract columns identify."""
    cols = [(c, quote(ent, c), t) for c, t in _parquet_columns(con, path) if c in ent.column_names]
    return _target(ent.name, PARQUET, cols, lambda c: id_kind(ent, c))


@dataclass
class FileOutcome:
    """Rows found (and, once `rewritten`, removed) per table of one file."""

    removed: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    rewritten: bool = False

    @property
    def rows(self) -> int:
        return sum(self.removed.values())


def plan_duckdb(path: Path, sweeper: Sweeper, skip: Iterable[tuple[str, str]] = ()) -> tuple[list[Target], FileOutcome]:
    """Learn the forgotten values of a DuckDB file (attached read-only as `src`, the name a rewrite
    attaches its private copy under) and count their rows: (targets with rows to delete, outcome)."""
    out = FileOutcome()
    with connect_duckdb() as con:
        execute(con, "ATTACH $p AS src (READ_ONLY)", {"p": str(path)})
        targets = duckdb_targets(con, "src", skip)
        for t in targets:
            t.learn(con, sweeper)
        sweeper.load_into(con)
        for t in targets:
            n = t.count(con)
            if n:
                out.removed[t.name] = n
    return [t for t in targets if t.name in out.removed], out


def delete_from(targets: list[Target], sweeper: Sweeper):
    """An editor for `serving.rewrite`: delete the forgotten rows of `targets` in the copy."""

    def edit(con: duckdb.DuckDBPyConnection) -> None:
        sweeper.load_into(con)
        for t in targets:
            t.delete_rows(con)

    return edit


def scrub_parquet_rows(con: duckdb.DuckDBPyConnection, sweeper: Sweeper, target: Target | None, path: Path,
                       write) -> int:
    """Learn, count and (when any) rewrite one Parquet file without its forgotten rows through
    `write(con, query, params, path)` (the owner's atomic writer); returns the rows removed."""
    if target is None:
        return 0
    params = {"path": str(path)}
    target.learn(con, sweeper, params)
    sweeper.load_into(con)
    removed = target.count(con, params)
    if removed:
        write(con, target.kept_rows_sql(), {**params, **ENTITY_PARAMS}, path)
    return removed
