"""Incremental parity of the sales, marketing and service models on a tiny hand-built raw zone: dbt builds
the commerce models batch by batch (changed keys, deletes, older versions arriving late, an order arriving
after the campaign member it converts, an identity merge) and the result must equal a --full-refresh build,
table by table, EXCEPT ALL both ways.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.test_dbt_staging import DBT_DIR, _rows, _ts, _write_parquet, contract
from tests.test_marts_commerce import GRAINS

D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)
# the commerce models (rpt_service also reads dim_customers, i.e. the whole customer domain: it is a plain
# table over fct_tickets, left out here to keep the test fast) and the staging views the parity tests read
SELECT = (
    "+marts.sales +marts.marketing +marts.service +rpt_sales +rpt_sales_rep_month +rpt_campaign "
    "stg_crm__orders stg_crm__order_items stg_crm__campaign_members stg_crm__service_tickets"
)
PARITY_TESTS = [
    "sales_orders_incremental_matches_staging",
    "sales_order_items_incremental_matches_staging",
    "campaign_members_incremental_matches_staging",
    "service_tickets_incremental_matches_staging",
]
COMMERCE_TABLES = [
    *(t for t in GRAINS if t != "reports.rpt_service"),
    "intermediate.int_orders_deduped",
    "intermediate.int_order_items_deduped",
    "intermediate.int_campaign_members_deduped",
    "intermediate.int_tickets_deduped",
]


def _customer(cid, email, updated, **extra):
    return {
        "customer_id": cid,
        "name": f"Name {cid}",
        "email": email,
        "customer_type": "individual",
        "source": "web",
        "status": "active",
        "created_at": _ts(D1, 1),
        "updated_at": updated,
        "is_deleted": False,
        **extra,
    }


def _order(oid, cid, status, placed, updated, deleted=False):
    return {
        "order_id": oid,
        "customer_id": cid,
        "rep_id": "R1",
        "order_date": placed,
        "status": status,
        "channel": "store",
        "currency": "CNY",
        "updated_at": updated,
        "is_deleted": deleted,
    }


def _line(oid, line_no, quantity, price, discount, updated, deleted=False):
    return {
        "order_id": oid,
        "line_no": line_no,
        "product_id": "P1",
        "quantity": quantity,
        "unit_price": Decimal(price),
        "discount": Decimal(discount),
        "updated_at": updated,
        "is_deleted": deleted,
    }


def _member(cust, group, updated, deleted=False):
    return {
        "campaign_id": "K1",
        "customer_id": cust,
        "group": group,
        "assigned_at": _ts(D1, 8),
        "sent_at": _ts(D1, 9) if group == "treatment" else None,
        "updated_at": updated,
        "is_deleted": deleted,
    }


def _ticket(tid, cust, status, updated, deleted=False, **extra):
    return {
        "ticket_id": tid,
        "customer_id": cust,
        "channel": "email",
        "category": "billing",
        "priority": "high",
        "opened_at": _ts(D1, 8),
        "status": status,
        "reopened_count": 0,
        "updated_at": updated,
        "is_deleted": deleted,
        **extra,
    }


# batch -> entity -> rows (extract date, rows). Late rows carry an older extract date than their batch.
BATCHES: dict[dt.date, dict[str, list[dict]]] = {
    D1: {
        "customers": _rows(
            D1,
            "customers",
            [
                _customer("C1", "a@x.cn", _ts(D1, 1)),
                _customer("C2", "a@x.cn", _ts(D1, 1)),  # same person as C1 -> master C1
                _customer("C3", "c@x.cn", _ts(D1, 1)),
            ],
        ),
        "products": _rows(D1, "products", [{"product_id": "P1", "name": "Widget", "category": "tools",
                                            "list_price": Decimal("10.00")}]),
        "sales_reps": _rows(D1, "sales_reps", [{"rep_id": "R1", "name": "Rep One", "region": "north",
                                               "team": "a", "hired_at": D1}]),
        "service_plans": _rows(D1, "service_plans", [{"priority": "high", "first_response_target_minutes": 60,
                                                     "resolution_target_hours": 8, "csat_target": Decimal("4.0"),
                                                     "valid_from": dt.date(2024, 1, 1)}]),
        "campaigns": _rows(D1, "campaigns", [{"campaign_id": "K1", "name": "New Year", "channel": "email",
                                             "start_date": D1, "end_date": D3, "budget": Decimal("100.00"),
                                             "attribution_days": 14}]),
        "sales_targets": _rows(D1, "sales_targets", [{"period": "2025-01", "rep_id": "R1", "region": "north",
                                                     "target_amount": Decimal("1000.00"), "target_units": 10,
                                                     "budget": Decimal("50.00")}]),
        "orders": _rows(
            D1,
            "orders",
            [
                _order("O1", "C1", "completed", _ts(D1, 10), _ts(D1, 10)),
                _order("O2", "C2", "completed", _ts(D1, 11), _ts(D1, 11)),
                _order("O3", "C3", "cancelled", _ts(D1, 12), _ts(D1, 12)),
            ],
        ),
        "order_items": _rows(
            D1,
            "order_items",
            [
                _line("O1", 1, 3, "19.99", "0.1250", _ts(D1, 10)),
                _line("O1", 2, 1, "10.05", "0.5000", _ts(D1, 10)),
                _line("O2", 1, 2, "5.00", "0", _ts(D1, 11)),
                _line("O3", 1, 1, "7.00", "0", _ts(D1, 12)),
            ],
        ),
        "campaign_spend": _rows(D1, "campaign_spend", [{"campaign_id": "K1", "date": D1, "spend": Decimal("40.00"),
                                                       "progress_pct": Decimal("30"), "status": "running",
                                                       "updated_at": _ts(D1, 20), "is_deleted": False}]),
        "campaign_members": _rows(D1, "campaign_members", [_member("C1", "treatment", _ts(D1, 8)),
                                                           _member("C3", "control", _ts(D1, 8))]),
        "service_tickets": _rows(
            D1,
            "service_tickets",
            [_ticket("T1", "C1", "open", _ts(D1, 9), first_response_at=_ts(D1, 9)), _ticket("T2", "C3", "new", _ts(D1, 8))],
        ),
    },
    D2: {
        "orders": _rows(
            D2,
            "orders",
            [
                _order("O1", "C1", "refunded", _ts(D1, 10), _ts(D2, 9)),  # changed: no revenue, no conversion
                _order("O2", "C2", "completed", _ts(D1, 11), _ts(D2, 9), deleted=True),
                _order("O4", "C3", "completed", _ts(D2, 9), _ts(D2, 9)),  # converts the control member C3
            ],
        ),
        "order_items": _rows(
            D2,
            "order_items",
            [
                _line("O1", 1, 3, "19.99", "0.1250", _ts(D2, 9), deleted=True),
                _line("O1", 2, 4, "10.05", "0.5000", _ts(D2, 9)),
            ],
        ),
        "campaign_members": _rows(D2, "campaign_members", [_member("C2", "treatment", _ts(D2, 8))]),
        "service_tickets": _rows(
            D2,
            "service_tickets",
            [_ticket("T1", "C1", "solved", _ts(D2, 9), first_response_at=_ts(D1, 9), resolved_at=_ts(D2, 8),
                     satisfaction_score=5, feedback_text="call me on 13800138000")],
        ),
        "campaign_spend": _rows(D2, "campaign_spend", [{"campaign_id": "K1", "date": D2, "spend": Decimal("70.00"),
                                                       "progress_pct": Decimal("40"), "status": "running",
                                                       "risk_note": "over budget", "updated_at": _ts(D2, 20),
                                                       "is_deleted": False}]),
    },
    D3: {
        # C3 now shares C1's email: an identity merge the facts must follow (master C1)
        "customers": _rows(D3, "customers", [_customer("C3", "a@x.cn", _ts(D3, 1))]),
        "orders": _rows(
            D1,  # late: older versions from the D1 extract, released in batch D3; they must lose
            "orders",
            [
                _order("O1", "C1", "completed", _ts(D1, 10), _ts(D1, 10) + dt.timedelta(minutes=5)),
                _order("O2", "C2", "completed", _ts(D1, 11), _ts(D1, 11) + dt.timedelta(minutes=5)),
            ],
            first_line=10,
        ),
        "order_items": _rows(D1, "order_items", [_line("O4", 1, 5, "3.34", "0.1000", _ts(D2, 9))], first_line=10),
        "service_tickets": _rows(D3, "service_tickets", [_ticket("T2", "C3", "new", _ts(D3, 8), deleted=True)]),
        "campaign_members": _rows(D3, "campaign_members", [_member("C1", "treatment", _ts(D1, 7))]),  # older: loses
    },
}


def _write_batch(raw_root: Path, batch: dt.date) -> None:
    con = duckdb.connect()
    try:
        for entity in contract.ENTITIES:
            rows = BATCHES[batch].get(entity.name)
            if rows is None and batch != D1:
                continue
            path = raw_root / entity.name / f"_batch={batch.isoformat()}" / f"{entity.name}.parquet"
            _write_parquet(con, path, entity, rows or [])
    finally:
        con.close()


def _dbt(tmp: Path, manifest, *args: str):
    """dbt in-process with an already parsed manifest (parsing is most of a small run's time); the DuckDB
    instance dbt-duckdb keeps open is closed afterwards, as in test_dbt_staging._invoke_dbt."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner(manifest=manifest).invoke(
            [*args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
             "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs")]
        )
    finally:
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager.close_all_connections()
    assert result.success, f"dbt {' '.join(args)} failed: {result.exception or result.result}"
    return result.result


def _tables(db: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"select * from {t}").df() for t in COMMERCE_TABLES}


@pytest.fixture(scope="module")
def incremental_vs_full(tmp_path_factory) -> tuple[Path, Path]:
    """(work db after one full and two incremental runs, one batch each; work db of a --full-refresh build)."""
    tmp = tmp_path_factory.mktemp("commerce_incremental")
    raw_root, work_db = tmp / "raw", tmp / "work" / "crm_work.duckdb"
    work_db.parent.mkdir(parents=True)
    incremental = tmp / "incremental.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAW_ROOT", str(raw_root))
        mp.setenv("CRM_WORK_DB", str(work_db))
        mp.setenv("CRM_PII_KEY", "test-key-for-pii-hashing")
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        manifest = _dbt(tmp, None, "parse")  # once: RAW_ROOT is rendered into the sources at parse time
        _dbt(tmp, manifest, "seed")  # `dbt run` builds no seeds (the stage probabilities of fct_opportunities)
        for batch in (D1, D2, D3):
            _write_batch(raw_root, batch)
            _dbt(tmp, manifest, "run", "--select", SELECT, *(["--full-refresh"] if batch == D1 else []))
        # the singular tests comparing each incremental layer with its staging view pass after increments
        _dbt(tmp, manifest, "test", "--select", *PARITY_TESTS)
        shutil.copyfile(work_db, incremental)
        _dbt(tmp, manifest, "run", "--select", SELECT, "--full-refresh")
    return incremental, work_db


def test_incremental_runs_equal_full_refresh(incremental_vs_full):
    incremental, full = incremental_vs_full
    with duckdb.connect() as con:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        con.execute(f"attach '{full}' as full_build (read_only)")
        for table in COMMERCE_TABLES:
            schema, name = table.split(".")
            shapes = [
                con.execute(
                    "select list((column_name, data_type) order by column_index) from duckdb_columns() "
                    "where database_name = $d and schema_name = $s and table_name = $t",
                    {"d": db, "s": schema, "t": name},
                ).fetchone()[0]
                for db in ("inc", "full_build")
            ]
            assert shapes[0] and shapes[0] == shapes[1], f"{table}: columns or types differ"
            for a, b in (("inc", "full_build"), ("full_build", "inc")):
                extra = con.execute(
                    f"select count(*) from (select * from {a}.{table} except all select * from {b}.{table})"
                ).fetchone()[0]
                assert extra == 0, f"{table}: {extra} rows only in the {a} build"


def test_incremental_build_applies_changes_deletes_late_rows_and_merges(incremental_vs_full):
    incremental, _ = incremental_vs_full
    with duckdb.connect(str(incremental), read_only=True) as con:
        def rows(sql):
            return con.execute(sql).fetchall()

        # newer version wins, a late older version does not; a deleted key stays deleted; O4 merged to C1
        assert rows(
            "select order_id, status, master_customer_id, n_lines, net_amount, net_revenue "
            "from marts.fct_orders order by 1"
        ) == [
            ("O1", "refunded", "C1", 1, Decimal("20.10"), Decimal("0.00")),
            ("O3", "cancelled", "C1", 1, Decimal("7.00"), Decimal("0.00")),
            ("O4", "completed", "C1", 1, Decimal("15.03"), Decimal("15.03")),
        ]
        assert rows("select order_id, is_deleted from intermediate.int_orders_deduped where order_id = 'O2'") == [
            ("O2", True)
        ]
        # the control member converts through an order that arrived one batch after the membership
        assert rows(
            "select customer_id, member_group, master_customer_id, converted, revenue, sent_at is not null "
            "from marts.fct_campaign_members order by 2, 1"
        ) == [
            ("C3", "control", "C1", 1, Decimal("15.03"), False),
            ("C1", "treatment", "C1", 0, Decimal("0.00"), True),
            ("C2", "treatment", "C1", 0, Decimal("0.00"), True),
        ]
        assert rows(
            "select ticket_id, status, first_response_minutes, full_resolution_minutes, resolution_breached, "
            "feedback_text_redacted from marts.fct_tickets"
        ) == [("T1", "solved", Decimal("60.00"), Decimal("1440.00"), True, "call me on [phone]")]
        assert rows("select period, revenue_amount, attainment_revenue_pct from marts.fct_sales_targets") == [
            ("2025-01", Decimal("15.03"), Decimal("1.50"))
        ]
