"""Are the pandas way's three outputs (bench/pandas_way.py) equal to the published warehouse's tables?

Each output is compared with `EXCEPT ALL` both ways on the same projection of the published file (money as
integer cents, so equal means equal to the cent): per output the row counts, how many rows only one side
has, `equal`, and the first difference (the first row only one side has, ours first). File paths go to DuckDB as parameters; the SQL is fixed text.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.pandas_way import EVENT_TYPES, WINDOWS

_COUNTS = [f"{t}_count_{w}d" for t in EVENT_TYPES for w in WINDOWS] + [f"{t}_count_all_time" for t in EVENT_TYPES]
_COUNTS.append("event_count_all_time")
_LASTS = [f"last_{t}_at" for t in EVENT_TYPES] + ["last_event_at"]

# (ours, pandas): SELECTs of the same columns; `$p` is the pandas output file.
QUERIES: dict[str, tuple[str, str]] = {
    "customer_behavior": (
        "SELECT master_customer_id, " + ", ".join(f"{k}::BIGINT" for k in _COUNTS) + ", "
        + ", ".join(f"{k}::TIMESTAMP" for k in _LASTS) + " FROM pub.marts.customer_behavior",
        "WITH rolled AS (SELECT m.master_customer_id, " + ", ".join(f"sum(b.{k}) AS {k}" for k in _COUNTS) + ", "
        + ", ".join(f"max(b.{k}) AS {k}" for k in _LASTS)
        + " FROM read_parquet($p) b JOIN pub.marts.customer_id_map m USING (customer_id) GROUP BY 1), "
        "masters AS (SELECT DISTINCT master_customer_id FROM pub.marts.customer_id_map) "
        "SELECT masters.master_customer_id, " + ", ".join(f"coalesce(rolled.{k}, 0)::BIGINT" for k in _COUNTS)
        + ", " + ", ".join(f"rolled.{k}::TIMESTAMP" for k in _LASTS)
        + " FROM masters LEFT JOIN rolled USING (master_customer_id)",
    ),
    "order_nets": (
        "SELECT order_id, rep_id, status, n_lines::BIGINT, units::BIGINT, (gross_amount * 100)::BIGINT, "
        "(discount_amount * 100)::BIGINT, (net_amount * 100)::BIGINT, order_month::DATE FROM pub.marts.fct_orders",
        "SELECT order_id, rep_id, status, n_lines, units, gross_cents, discount_cents, net_cents, "
        "order_month::DATE FROM read_parquet($p)",
    ),
    "monthly_sales": (
        "SELECT month::DATE, rep_id, (sum(net_amount) * 100)::BIGINT, (sum(net_revenue) * 100)::BIGINT "
        "FROM pub.reports.rpt_sales GROUP BY ALL",
        "SELECT order_month::DATE, rep_id, net_cents::BIGINT, net_revenue_cents::BIGINT FROM read_parquet($p)",
    ),
}


def _first_difference(con: duckdb.DuckDBPyConnection, name: str) -> dict:
    """The first row (in column order) only one side has, as {"side": ..., "row": {column: value}}."""
    for side, a, b in (("ours", "ours", "pandas"), ("pandas", "pandas", "ours")):
        cur = con.execute(f"FROM (FROM {a}_{name} EXCEPT ALL FROM {b}_{name}) ORDER BY ALL LIMIT 1")
        row = cur.fetchone()
        if row is not None:
            return {"only_in": side, "row": {d[0]: str(v) for d, v in zip(cur.description, row, strict=True)}}
    return {}


def compare(pandas_dir: Path, published_db: Path) -> dict:
    """{output: {rows_ours, rows_pandas, only_ours, only_pandas, equal, first_difference}} and `equal` over
    all three. Table names come from the fixed QUERIES keys (an allow-list), never from data."""
    result: dict = {}
    with duckdb.connect() as con:
        con.execute("ATTACH $db AS pub (READ_ONLY)", {"db": str(published_db)})
        for name, (ours, theirs) in QUERIES.items():
            p = {"p": str(pandas_dir / f"{name}.parquet")}
            con.execute(f"CREATE TEMP TABLE ours_{name} AS {ours}")
            con.execute(f"CREATE TEMP TABLE pandas_{name} AS {theirs}", p)
            counts = con.execute(
                f"SELECT (SELECT count(*) FROM ours_{name}), (SELECT count(*) FROM pandas_{name}), "
                f"(SELECT count(*) FROM (FROM ours_{name} EXCEPT ALL FROM pandas_{name})), "
                f"(SELECT count(*) FROM (FROM pandas_{name} EXCEPT ALL FROM ours_{name}))"
            ).fetchone()
            rows_ours, rows_pandas, only_ours, only_pandas = (int(x) for x in counts)
            result[name] = {"rows_ours": rows_ours, "rows_pandas": rows_pandas, "only_ours": only_ours,
                            "only_pandas": only_pandas, "equal": only_ours == 0 and only_pandas == 0,
                            "first_difference": _first_difference(con, name) if only_ours or only_pandas else None}
    result["equal"] = all(v["equal"] for v in result.values())
    return result
