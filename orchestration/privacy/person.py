"""Who is forgotten: the person behind a requested source customer id.

Reads: the work file's identity maps (every TABLE with both customer_id and master_customer_id, e.g.
`marts.customer_id_map`, `int_customer_id_map`) and tables with customer_id + order_id; the raw zone's
customer and order rows. Writes nothing.

Result grain: one Person: every source customer id the identity map resolves to the same master customer
(duplicate exports of the same person), their order ids (so order lines, which carry no customer id, go
too) and their emails (trimmed, lower-cased; used to find them in quarantined raw text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration import contract
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


def work_tables_with(con: duckdb.DuckDBPyConnection, database: str, *columns: str) -> list[str]:
    """Quoted relations of the TABLES (not views: staging reads the raw zone, searched directly) of
    `database` that have all of `columns`."""
    rows = execute(
        con,
        """
        SELECT c.schema_name, c.table_name
        FROM duckdb_columns() c
        JOIN duckdb_tables() t
          ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
        WHERE c.database_name = $db AND list_contains($cols, c.column_name)
        GROUP BY ALL HAVING count(DISTINCT c.column_name) = $n ORDER BY 1, 2
        """,
        {"db": database, "cols": list(columns), "n": len(columns)},
    ).fetchall()
    return [".".join(quote_ident(p) for p in (database, s, t)) for s, t in rows]


def _strings(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> set[str]:
    return {r[0] for r in execute(con, sql, params).fetchall() if r[0]}


def resolve(work_db: Path, raw_root: Path, requested: str) -> Person:
    """The person behind `requested`: all their source customer ids, their order ids and emails."""
    cid = requested.strip()
    zone = RawZone(raw_root)
    ids: set[str] = set()
    with connect_duckdb() as con:
        maps: list[str] = []
        if work_db.is_file():
            execute(con, "ATTACH $p AS work (READ_ONLY)", {"p": str(work_db)})
            maps = work_tables_with(con, "work", "customer_id", "master_customer_id")
        for rel in maps:
            masters = _strings(con, f"SELECT DISTINCT master_customer_id FROM {rel} "
                               "WHERE trim(customer_id) = $id OR trim(master_customer_id) = $id", {"id": cid})
            if masters:
                ids.add(cid)
                ids.update(m.strip() for m in masters)
        for rel in maps:
            ids.update(v.strip() for v in _strings(
                con, f"SELECT DISTINCT customer_id FROM {rel} WHERE trim(master_customer_id) IN "
                "(SELECT unnest($ids::VARCHAR[])) AND customer_id IS NOT NULL", {"ids": sorted(ids)}))
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
                for rel in work_tables_with(con, "work", "customer_id", "order_id"):
                    orders |= _strings(con, f"SELECT DISTINCT trim(order_id) FROM {rel} WHERE {mine} "
                                       "AND order_id IS NOT NULL", params)
            if files := zone.row_files("customers", orphans=False):
                emails |= _strings(con, f"SELECT DISTINCT lower(trim(email)) FROM {RAW_ROWS} WHERE {mine} "
                                   "AND email LIKE '%@%'", {**params, "f": [str(p) for p in files]})
    return Person(cid, sorted(ids), sorted(orders), sorted(emails))


def _in_raw_zone(con: duckdb.DuckDBPyConnection, zone: RawZone, cid: str) -> bool:
    """Whether any raw row of any entity holds `cid` in a customer-id column (contract allow-list)."""
    for ent in contract.ENTITIES:
        cols = [quote(ent, c.name) for c in ent.columns if id_kind(c.name) == "customer_id"]
        files = zone.row_files(ent.name)
        if not cols or not files:
            continue
        cond = " OR ".join(f"trim({c}) = $id" for c in cols)
        if execute(con, f"SELECT count(*) FROM {RAW_ROWS} WHERE {cond}",
                   {"f": [str(p) for p in files], "id": cid}).fetchall()[0][0]:
            return True
    return False
