"""BI readers for tests: threads that query the published warehouse in a loop the way BI tools do.

Six-ish threads read `crm.duckdb`; every loop opens its own read-only connection (half with
`duckdb.connect(path, read_only=True)`, half from a fresh in-memory database with ATTACH ... READ_ONLY, which
always opens the newest file), runs mart and report queries and checks that the file is one consistent
publish: the row counts ops.publish_log recorded for its newest publish_id are the row counts of the tables.
Parquet readers resolve `parquet/current` once, then read every table from that folder; its
ops/publish_log.parquet must name that folder's publish and match the row counts of the files next to it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import duckdb

CHECKED = ("marts.fct_orders", "marts.dim_customers", "marts.fct_tickets", "reports.rpt_sales", "ops.load_audit")
QUERIES = (  # what a dashboard asks; the answers are not compared, they must simply work
    "SELECT order_month, sum(net_revenue), count(*) FROM marts.fct_orders GROUP BY 1 ORDER BY 1",
    "SELECT region, count(*) FROM marts.dim_customers GROUP BY 1",
    "SELECT month, sum(net_amount) FROM reports.rpt_sales GROUP BY 1 ORDER BY 1",
    "SELECT category, avg(first_response_minutes) FROM marts.fct_tickets GROUP BY 1",
)


class Readers:
    def __init__(self, published: Path):
        self.published = published
        self.current = published.parent / "parquet" / "current"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.loops = {"file": 0, "attach": 0, "parquet": 0}
        self.seen = {"file": set(), "attach": set(), "parquet": set()}

    def _record(self, kind: str, publish_id: str) -> None:
        with self.lock:
            self.loops[kind] += 1
            self.seen[kind].add(publish_id)

    def _fail(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")

    def _connect(self, attach: bool) -> duckdb.DuckDBPyConnection:
        if not attach:
            return duckdb.connect(str(self.published), read_only=True, config={"threads": 1})
        con = duckdb.connect(config={"threads": 1})
        con.execute("ATTACH $p AS crm (READ_ONLY)", {"p": str(self.published)})
        con.execute("USE crm")
        return con

    def file_reader(self, attach: bool) -> None:
        kind = "attach" if attach else "file"
        while not self.stop.is_set():
            try:
                with self._connect(attach) as con:
                    publish_id = con.execute("SELECT max(publish_id) FROM ops.publish_log").fetchall()[0][0]
                    logged = dict(con.execute(
                        "SELECT table_name, row_count FROM ops.publish_log WHERE publish_id = $id",
                        {"id": publish_id}).fetchall())
                    for sql in QUERIES:
                        assert con.execute(sql).fetchall(), sql
                    for name in CHECKED:
                        schema, table = name.split(".")
                        n = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0]
                        assert n == logged[name], f"{name}: {n} rows, publish_log of {publish_id} says {logged[name]}"
                self._record(kind, publish_id)
            except Exception as exc:  # any error at all breaks the publishing contract
                self._fail(kind, exc)
            time.sleep(0.3)  # paced: 8 readers must leave the 2-core machine to the build

    def parquet_reader(self) -> None:
        while not self.stop.is_set():
            try:
                folder = Path(os.path.realpath(self.current))  # resolve `current` once per refresh
                with duckdb.connect(config={"threads": 1}) as con:
                    log = str(folder / "ops" / "publish_log.parquet")
                    publish_id = con.execute("SELECT max(publish_id) FROM read_parquet($p)", {"p": log}).fetchall()[0][0]
                    assert publish_id == folder.name, f"{folder} holds the publish_log of {publish_id}"
                    logged = dict(con.execute("SELECT table_name, row_count FROM read_parquet($p) WHERE publish_id = $id",
                                              {"p": log, "id": publish_id}).fetchall())
                    for name in CHECKED:
                        schema, table = name.split(".")
                        n = con.execute("SELECT count(*) FROM read_parquet($p)",
                                        {"p": str(folder / schema / f"{table}.parquet")}).fetchall()[0][0]
                        assert n == logged[name], f"{folder.name}/{name}: {n} rows, publish_log says {logged[name]}"
                self._record("parquet", publish_id)
            except Exception as exc:
                self._fail("parquet", exc)
            time.sleep(0.3)

    def start(self, file_readers: int = 6, parquet_readers: int = 2) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.file_reader, args=(i % 2 == 1,), daemon=True)
                   for i in range(file_readers)]
        threads += [threading.Thread(target=self.parquet_reader, daemon=True) for _ in range(parquet_readers)]
        for t in threads:
            t.start()
        return threads

    def finish(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        for t in threads:
            t.join(timeout=60)
