"""Who is forgotten: the person behind a requested source customer id.

Reads: the work file's identity maps (every TABLE with one source and one master customer key, by the
column roles of orchestration/column_roles.py, e.g. `marts.customer_id_map`, `int_customer_id_map`) and
tables with a source customer key and an order key; the raw zone's customer and order rows (contract
roles). Writes nothing.

Result grain: one Person: every source customer id the identity map resolves to the same master customer
(duplicate exports of the same person), their order ids (so order lines, which carry no customer id, go
too) and their emails (trimmed, lower-cased; used to find them in quarantined raw text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.column_roles import CUSTOMER, MASTER, ORDER, SOURCE, roles
from orchestration.privacy.suppress import id_kind
from orchestration.raw.sqlnames import execute, quote
from orchestration.raw.zone import RawZone
from orchestration.serving.rewrite import quote_ident
from orchestration.settings import connect_duckdb

RAW_ROWS = "read_parquet($f, hive_partitioning = false, union_by_name = true)"


@dataclass
class Person:
    requested: str
    customer_ids: list[str]
    order_ids: list[str]
    emails: list[str]

    @property
    def found(self) -> bool:
        return bool(self.customer_ids)


def _work_tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, str, list[str]]]:
    """(quoted relation, schema, table, columns) of the TABLES (not views: staging reads the raw zone,
    searched directly) of `database`."""
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name, list(c.column_name ORDER BY c.column_index)
        FROM duckdb_columns() c
        JOIN duckdb_tables() t
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db
        GROUP BY ALL ORDER BY 1, 2
        """,
        {"db": database},
    ).fetchall()
    return [(".".join(quote_ident(p) for p in (database, s, t)), s, t, cols) for s, t, cols in rows]


def identity_maps(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, str]]:
    """(relation, source id column, master id column), quoted, of every TABLE of `database` with exactly one
    source and one master customer key (column roles: e.g. marts.customer_id_map, int_customer_id_map)."""
    book, out = roles(), []
    for rel, schema, table, cols in _work_tables(con, database):
        source = book.customer_keys(schema, table, cols, SOURCE)
        master = book.customer_keys(schema, table, cols, MASTER)
        if len(source) == 1 and len(master) == 1:
            out.append((rel, quote_ident(source[0]), quote_ident(master[0])))
    return out


def order_tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, list[str], list[str]]]:
    """(relation, source customer id columns, order id columns), quoted, of every TABLE with both roles."""
    book, out = roles(), []
    for rel, schema, table, cols in _work_tables(con, database):
        source = book.customer_keys(schema, table, cols, SOURCE)
        orders = [c for c, k in book.id_columns(schema, table, cols).items() if k == ORDER]
        if source and orders:
            out.append((rel, [quote_ident(c) for c in source], [quote_ident(c) for c in orders]))
    return out


def _strings(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> set[str]:
    return {r[0] for r in execute(con, sql, params).fetchall() if r[0]}


def resolve(work_db: Path, raw_root: Path, requested: str) -> Person:
    """The person behind `requested`: all their source customer ids, their order ids and emails."""
    cid = requested.strip()
    zone = RawZone(raw_root)
    ids: set[str] = set()
    with connect_duckdb() as con:
        maps: list[tuple[str, str, str]] = []
        if work_db.is_file():
            execute(con, "ATTACH $p AS work (READ_ONLY)", {"p": str(work_db)})
            maps = identity_maps(con, "work")
        for rel, source, master in maps:
            masters = _strings(con, f"SELECT DISTINCT {master} FROM {rel} "
                               f"WHERE trim({source}) = $id OR trim({master}) = $id", {"id": cid})
            if masters:
                ids.add(cid)
                ids.update(m.strip() for m in masters)
        for rel, source, master in maps:
            ids.update(v.strip() for v in _strings(
                con, f"SELECT DISTINCT {source} FROM {rel} WHERE trim({master}) IN "
                f"(SELECT unnest($ids::VARCHAR[])) AND {source} IS NOT NULL", {"ids": sorted(ids)}))
        if not ids and _in_raw_zone(con, zone, cid):
            ids.add(cid)  # not (yet) in the identity map: a source record, or only referenced by other rows
        orders: set[str] = set()
        emails: set[str] = set()
        if ids:
            params = {"ids": sorted(ids)}
            mine = "trim(customer_id) IN (SELECT unnest($ids::VARCHAR[]))"
            if files := zone.row_files("orders"):
                orders |= _strings(con, f"SELECT DISTINCT trim(order_id) FROM {RAW_ROWS} WHERE {mine} "
                                   "AND order_id IS NOT NULL", {**params, "f": [str(p) for p in files]})
            if work_db.is_file():
                for rel, sources, order_cols in order_tables(con, "work"):
                    theirs = " OR ".join(f"trim({c}) IN (SELECT unnest($ids::VARCHAR[]))" for c in sources)
                    for o in order_cols:
                        orders |= _strings(con, f"SELECT DISTINCT trim({o}) FROM {rel} WHERE ({theirs}) "
                                           f"AND {o} IS NOT NULL", params)
            if files := zone.row_files("customers", orphans=False):
                emails |= _strings(con, f"SELECT DISTINCT lower(trim(email)) FROM {RAW_ROWS} WHERE {mine} "
                                   "AND email LIKE '%@%'", {**params, "f": [str(p) for p in files]})
    return Person(cid, sorted(ids), sorted(orders), sorted(emails))


def _in_raw_zone(con: duckdb.DuckDBPyConnection, zone: RawZone, cid: str) -> bool:
    """Whether any raw row of any entity holds `cid` in a customer-id column (contract allow-list)."""
    for ent in contract.ENTITIES:
        cols = [quote(ent, c.name) for c in ent.columns if id_kind(ent, c.name) == CUSTOMER]
        files = zone.row_files(ent.name)
        if not cols or not files:
            continue
        cond = " OR ".join(f"trim({c}) = $id" for c in cols)
        if execute(con, f"SELECT count(*) FROM {RAW_ROWS} WHERE {cond}",
                   {"f": [str(p) for p in files], "id": cid}).fetchall()[0][0]:
            return True
    return False
