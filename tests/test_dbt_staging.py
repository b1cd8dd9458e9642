"""dbt staging layer against a tiny hand-built raw zone.

Builds a raw zone the way the raw loader lays it out ($RAW_ROOT/<entity>/_batch=YYYY-MM-DD/*.parquet,
contract columns and types + lineage columns), runs `dbt build --select staging` in-process once per
session into a temp DuckDB file, then checks the staging views: latest version wins, deletes are
removed, snapshots shrink, phones and names normalise, line_net_amount is exact.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration import contract

REPO = Path(__file__).resolve().parents[1]
DBT_DIR = REPO / "dbt_project"


LINEAGE_COLUMNS = (
    ("_extract_date", "DATE"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_loaded_at", "TIMESTAMP"),
)

D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)
FULLWIDTH_PRINTABLE = "".join(chr(c) for c in range(0xFF01, 0xFF5F))  # ！ .. ～
ASCII_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))  # ! .. ~


def _ts(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour))


def _rows(extract: dt.date, entity: str, rows: list[dict], first_line: int = 2) -> list[dict]:
    """Add the lineage columns: consecutive CSV record numbers starting after the header."""
    return [
        {
            **row,
            "_extract_date": extract,
            "_source_file": f"{extract.isoformat()}/{entity}.csv",
            "_source_line": first_line + i,
            "_loaded_at": _ts(extract, 23),
        }
        for i, row in enumerate(rows)
    ]


def _customer(cid, name, phone, email, status, updated, deleted=False, **extra):
    return {
        "customer_id": cid,
        "name": name,
        "gender": "unknown",
        "phone": phone,
        "email": email,
        "customer_type": "individual",
        "source": "web",
        "status": status,
        "created_at": _ts(D1, 1),
        "updated_at": updated,
        "is_deleted": deleted,
        **extra,
    }


def _item(order_id, line_no, quantity, unit_price, discount, updated, deleted=False):
    return {
        "order_id": order_id,
        "line_no": line_no,
        "product_id": "P1",
        "quantity": quantity,
        "unit_price": Decimal(unit_price),
        "discount": Decimal(discount),
        "updated_at": updated,
        "is_deleted": deleted,
    }


# (entity, batch) -> rows. A batch folder normally holds the extract of the same date; the D3 batch
# holds a late-arriving customer row from the D2 extract.
RAW_DATA: dict[tuple[str, dt.date], list[dict]] = {
    ("customers", D1): _rows(
        D1,
        "customers",
        [
            _customer("C1", "Li  Lei", "+86 138-0013-8000", " Li.Lei@Example.COM ", "prospect", _ts(D1, 8)),
            _customer("C2", "ＷＡＮＧ　Ｆａｎｇ", "１３８００１３８０００", None, "prospect", _ts(D1, 9)),
            _customer("C3", "张 三", "13800138000", "zs@example.cn", "active", _ts(D1, 9)),
            _customer("C4", "To Delete", "(010) 6552.1234", None, "active", _ts(D1, 9)),
        ],
    ),
    ("customers", D2): _rows(
        D2,
        "customers",
        [
            # new version of C1: wins (later updated_at)
            _customer("C1", " Li Lei ", "+86 138-0013-8000", "li.lei@example.com", "ACTIVE ", _ts(D2, 8)),
            # an older version of C3 in a later extract: loses (updated_at first)
            _customer("C3", "Zhang San OLD", "13800138000", None, "prospect", _ts(D1, 7)),
            # C4 deleted
            _customer("C4", "To Delete", None, None, "inactive", _ts(D2, 9), deleted=True),
            # C2 twice with the same updated_at: the later record in the file wins
            _customer("C2", "Wang Fang (early)", "１３８００１３８０００", None, "active", _ts(D2, 10)),
            _customer("C2", "ＷＡＮＧ　　Ｆａｎｇ ", "１３８００１３８０００", None, "active", _ts(D2, 10)),
        ],
    ),
    ("customers", D3): _rows(
        D2,  # late-arriving: extract D2, released in batch D3
        "customers",
        [_customer("C5", FULLWIDTH_PRINTABLE, "8613912345678", None, "prospect", _ts(D2, 12))],
        first_line=7,
    ),
    ("products", D1): _rows(
        D1,
        "products",
        [
            {"product_id": "P1", "name": "Widget", "category": "tools", "list_price": Decimal("10.00")},
            {"product_id": "P2", "name": "Gadget", "category": "tools", "list_price": Decimal("20.00")},
            {"product_id": "P3", "name": "Gizmo", "category": "toys", "list_price": Decimal("30.00")},
        ],
    ),
    ("products", D2): _rows(
        D2,
        "products",
        [
            {"product_id": "P1", "name": "Widget", "category": "tools", "list_price": Decimal("12.50")},
            {"product_id": "P2", "name": "Gadget", "category": "tools", "list_price": Decimal("20.00")},
            # identical duplicate in the same file: collapses to one row
            {"product_id": "P2", "name": "Gadget", "category": "tools", "list_price": Decimal("20.00")},
            # P3 is missing: deleted
        ],
    ),
    ("orders", D1): _rows(
        D1,
        "orders",
        [
            {
                "order_id": "O1",
                "customer_id": "C1",
                "order_date": _ts(D1, 10),
                "status": "completed",
                "channel": "web",
                "currency": "CNY",
                "updated_at": _ts(D1, 10),
                "is_deleted": False,
            },
            {
                "order_id": "O2",
                "customer_id": "C3",
                "order_date": _ts(D1, 11),
                "status": "completed",
                "channel": "app",
                "currency": "CNY",
                "updated_at": _ts(D1, 11),
                "is_deleted": False,
            },
        ],
    ),
    ("orders", D2): _rows(
        D2,
        "orders",
        [
            {
                "order_id": "O2",
                "customer_id": "C3",
                "order_date": _ts(D1, 11),
                "status": "cancelled",
                "channel": "app",
                "currency": "CNY",
                "updated_at": _ts(D2, 9),
                "is_deleted": True,
            },
        ],
    ),
    ("order_items", D1): _rows(
        D1,
        "order_items",
        [
            _item("O1", 1, 3, "19.99", "0.1250", _ts(D1, 10)),
            _item("O1", 2, 1, "10.05", "0.5000", _ts(D1, 10)),
            _item("O1", 3, 2, "100.00", "0", _ts(D1, 10)),
            _item("O2", 1, 1, "5.00", "0", _ts(D1, 11)),  # its order gets deleted: FK test warns only
        ],
    ),
    ("order_items", D2): _rows(
        D2,
        "order_items",
        [
            _item("O1", 1, 4, "19.99", "0.1250", _ts(D2, 8)),  # 4 * 19.99 * 0.875 = 69.965 -> 69.97
            _item("O1", 3, 2, "100.00", "0", _ts(D2, 8), deleted=True),
        ],
    ),
}


def _write_parquet(con, path: Path, entity: contract.Entity, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [(c.name, c.type) for c in entity.columns] + list(LINEAGE_COLUMNS)
    con.execute("drop table if exists staging_rows")
    con.execute("create temp table staging_rows (" + ", ".join(f'"{n}" {t}' for n, t in columns) + ")")
    if rows:
        placeholders = ", ".join("?" for _ in columns)
        con.executemany(
            f"insert into staging_rows values ({placeholders})",
            [[row.get(n) for n, _ in columns] for row in rows],
        )
    con.execute(f"copy staging_rows to '{path.as_posix()}' (format parquet)")


def build_raw_zone(raw_root: Path) -> None:
    """Every entity gets at least one (possibly empty) file: a view over a glob with no files fails."""
    con = duckdb.connect()
    try:
        for entity in contract.ENTITIES:
            batches = sorted(b for (name, b) in RAW_DATA if name == entity.name) or [D1]
            for batch in batches:
                path = raw_root / entity.name / f"_batch={batch.isoformat()}" / f"{entity.name}.parquet"
                _write_parquet(con, path, entity, RAW_DATA.get((entity.name, batch), []))
    finally:
        con.close()


def _invoke_dbt(args: list[str], tmp: Path):
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    try:
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(DBT_DIR),
                "--profiles-dir",
                str(DBT_DIR),
                "--target-path",
                str(tmp / "target"),
                "--log-path",
                str(tmp / "logs"),
            ]
        )
    finally:
        # dbt-duckdb keeps its DuckDB instance open in-process after the run; close it so this
        # process can open the file again (read-only is a different configuration).
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager.close_all_connections()


@pytest.fixture(scope="session")
def staging_db(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("dbt_staging")
    raw_root = tmp / "raw"
    work_db = tmp / "work" / "crm_work.duckdb"
    work_db.parent.mkdir(parents=True)
    build_raw_zone(raw_root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAW_ROOT", str(raw_root))
        mp.setenv("CRM_WORK_DB", str(work_db))
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        result = _invoke_dbt(["build", "--select", "staging", "--indirect-selection", "cautious"], tmp)
    assert result.success, f"dbt build failed: {result.exception or result.result}"
    statuses = {r.node.name: str(r.status) for r in result.result.results}
    # 15 views + their tests ran; only the FK test on the deleted order may warn.
    assert sum(1 for r in result.result.results if r.node.resource_type == "model") == len(contract.ENTITIES)
    warned = sorted(name for name, status in statuses.items() if status == "warn")
    assert warned == ["relationships_stg_crm__order_items_order_id__order_id__ref_stg_crm__orders_"], warned
    return work_db


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_all_staging_views_exist_in_staging_schema(staging_db):
    rows = _query(
        staging_db,
        "select table_name, table_type from information_schema.tables where table_schema = 'staging' order by 1",
    )
    assert rows == sorted((f"stg_crm__{e.name}", "VIEW") for e in contract.ENTITIES)


def test_customers_latest_version_wins_and_deletes_are_dropped(staging_db):
    rows = _query(
        staging_db,
        "select customer_id, name, status, email, _extract_date, _source_line, _batch "
        "from staging.stg_crm__customers order by customer_id",
    )
    by_id = {r[0]: r[1:] for r in rows}
    assert sorted(by_id) == ["C1", "C2", "C3", "C5"]  # C4 deleted
    assert by_id["C1"] == ("Li Lei", "active", "li.lei@example.com", D2, 2, D2)
    assert by_id["C2"] == ("WANG Fang", "active", None, D2, 6, D2)  # later record of a tie
    assert by_id["C3"] == (
        "张 三",
        "active",
        "zs@example.cn",
        D1,
        4,
        D1,
    )  # older version in a later file lost
    assert by_id["C5"][3:] == (D2, 7, D3)  # late-arriving row keeps both dates


def test_phones_normalise_equal(staging_db):
    sql = "select customer_id, phone, phone_normalized from staging.stg_crm__customers"
    rows = {r[0]: r[1:] for r in _query(staging_db, sql)}
    assert rows["C1"] == ("+8613800138000", "13800138000")
    assert rows["C2"] == ("13800138000", "13800138000")  # full-width digits
    assert rows["C3"] == ("13800138000", "13800138000")
    assert rows["C5"] == ("8613912345678", "13912345678")


def test_names_fold_fullwidth_and_normalise(staging_db):
    sql = "select customer_id, name, name_normalized from staging.stg_crm__customers"
    rows = {r[0]: r[1:] for r in _query(staging_db, sql)}
    assert rows["C1"] == ("Li Lei", "lilei")
    assert rows["C2"] == ("WANG Fang", "wangfang")
    assert rows["C3"] == ("张 三", "张三")
    # the whole U+FF01..U+FF5E block folds to ASCII ! .. ~
    assert rows["C5"] == (ASCII_PRINTABLE, ASCII_PRINTABLE.lower())


def test_snapshot_shrinks_to_latest_extract(staging_db):
    rows = _query(
        staging_db, "select product_id, list_price, _extract_date from staging.stg_crm__products order by 1"
    )
    assert rows == [("P1", Decimal("12.50"), D2), ("P2", Decimal("20.00"), D2)]


def test_order_items_net_amount_exact(staging_db):
    rows = _query(
        staging_db,
        "select order_id, line_no, quantity, line_net_amount, typeof(line_net_amount) "
        "from staging.stg_crm__order_items order by 1, 2",
    )
    assert rows == [
        ("O1", 1, 4, Decimal("69.97"), "DECIMAL(18,2)"),  # 69.965: exact decimal, half away from zero
        ("O1", 2, 1, Decimal("5.03"), "DECIMAL(18,2)"),  # 5.025
        ("O2", 1, 1, Decimal("5.00"), "DECIMAL(18,2)"),  # order O2 deleted, the line stays (FK warns)
    ]
    assert _query(staging_db, "select order_id from staging.stg_crm__orders") == [("O1",)]


def test_campaign_members_group_renamed(staging_db):
    columns = [r[0] for r in _query(staging_db, "describe staging.stg_crm__campaign_members")]
    assert "member_group" in columns and "group" not in columns and "is_deleted" not in columns


def test_dbt_parse_without_env_vars(tmp_path, monkeypatch):
    for var in ("RAW_ROOT", "CRM_WORK_DB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result = _invoke_dbt(["parse"], tmp_path)
    assert result.success, result.exception
    source = result.result.sources["source.crm_warehouse.crm.customers"]
    assert source.meta["dagster"] == {"asset_key": ["raw", "customers"]}
    assert "read_parquet('raw/customers/*/*.parquet'" in source.meta["external_location"]

