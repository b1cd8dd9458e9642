"""Sales, marketing and service marts and their reports.

Two parts:

* against the session warehouses (`mart_build`: generated scale 0.01 over 3 days and scale 0.1 over 2 days,
  one CLI run per day), read from the published crm.duckdb: net revenue and units by month to the cent, orders, tickets and campaign members against
  `_truth/expected_totals.csv` (computed by the generator, not from our tables); rpt_sales and
  fct_sales_targets add up to fct_orders; every mart and report has rows and a unique grain; money is
  DECIMAL(18,2); no rep names or raw phones/emails are published.
* incremental parity on a tiny hand-built raw zone: dbt builds the commerce models batch by batch (changed
  keys, deletes, older versions arriving late, an order arriving after the campaign member it converts, an
  identity merge) and the result must equal a --full-refresh build, table by table, EXCEPT ALL both ways.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import Built
from tests.test_dbt_staging import DBT_DIR, _rows, _ts, _write_parquet, contract

# published table -> its grain (the columns that identify a row)
GRAINS = {
    "marts.dim_products": ["product_id"],
    "marts.dim_sales_reps": ["rep_id"],
    "marts.fct_orders": ["order_id"],
    "marts.fct_order_items": ["order_id", "line_no"],
    "marts.fct_opportunities": ["opportunity_id"],
    "marts.fct_sales_targets": ["rep_id", "period"],
    "marts.fct_sales_forecast": ["rep_id", "forecast_month"],
    "marts.fct_sales_forecast_history": ["as_of_date", "rep_id", "forecast_month"],
    "marts.fct_sales_forecast_accuracy": ["rep_id", "month"],
    "marts.dim_campaigns": ["campaign_id"],
    "marts.fct_campaign_daily": ["campaign_id", "spend_date"],
    "marts.fct_campaign_members": ["campaign_id", "customer_id"],
    "marts.dim_service_plans": ["priority", "valid_from"],
    "marts.fct_tickets": ["ticket_id"],
    "reports.rpt_sales": ["month", "rep_id", "region", "product_category"],
    "reports.rpt_sales_rep_month": ["month", "rep_id"],
    "reports.rpt_campaign": ["campaign_id"],
    "reports.rpt_service": ["month", "category", "priority"],
}
# grain columns that may legitimately be null (a group of its own)
NULLABLE_GRAIN = {"rep_id", "region", "product_category", "category", "priority"}


def _truth_totals(built: Built) -> pd.DataFrame:
    return built.truth("expected_totals")


# ------------------------------------------------------------------------------------------------
# reconciliation against the generator's truth
# ------------------------------------------------------------------------------------------------
def test_net_revenue_and_units_by_month_match_truth_to_the_cent(mart_build: Built):
    truth = _truth_totals(mart_build)
    facts = mart_build.query(
        "select strftime(order_month, '%Y-%m') as period, cast(sum(net_revenue) as varchar) as net_revenue, "
        "cast(sum(net_units) as varchar) as units from marts.fct_order_items group by 1"
    ).set_index("period")
    for metric in ("net_revenue", "units"):
        expected = truth[truth["metric"] == metric].set_index("period")["value"].to_dict()
        actual = facts[metric].to_dict()
        actual = {p: v for p, v in actual.items() if not (v in ("0", "0.00") and p not in expected)}
        assert expected, f"the truth has {metric} rows"
        assert actual == expected, metric


def test_fct_orders_agrees_with_its_lines(mart_build: Built):
    diff = mart_build.query(
        """
        select o.order_id
        from marts.fct_orders o
        left join (select order_id, count(*) n, sum(quantity) units, sum(net_amount) net, sum(net_revenue) rev
                   from marts.fct_order_items group by 1) i using (order_id)
        where o.n_lines <> coalesce(i.n, 0) or o.units <> coalesce(i.units, 0)
           or o.net_amount <> coalesce(i.net, 0) or o.net_revenue <> coalesce(i.rev, 0)
           or o.gross_amount - o.discount_amount <> o.net_amount
           or o.net_revenue <> case when o.status = 'completed' then o.net_amount else 0 end
        """
    )
    assert diff.empty, diff.head()


@pytest.mark.parametrize(
    ("metric", "sql"),
    [
        ("orders", "select count(*) from marts.fct_orders"),
        ("tickets", "select count(*) from marts.fct_tickets"),
        ("campaign_members", "select count(*) from marts.fct_campaign_members"),
    ],
)
def test_counts_match_truth(mart_build: Built, metric: str, sql: str):
    truth = _truth_totals(mart_build)
    expected = int(truth.loc[truth["metric"] == metric, "value"].iloc[0])
    assert int(mart_build.query(sql).iloc[0, 0]) == expected


def test_rpt_sales_totals_equal_fct_orders(mart_build: Built):
    columns = ["gross_amount", "discount_amount", "net_amount", "net_revenue", "units", "net_units"]
    sums = ", ".join(f"sum({c}) as {c}" for c in columns)
    report = mart_build.query(f"select month, {sums} from reports.rpt_sales group by 1 order by 1")
    facts = mart_build.query(f"select order_month as month, {sums} from marts.fct_orders group by 1 order by 1")
    pd.testing.assert_frame_equal(report, facts, check_dtype=False)
    # every rpt_sales column is additive: order lines sum to fct_order_items; no order counts or rep-month
    # plan values are repeated on category rows (they live at the rep-month grain)
    lines = mart_build.query(
        "select (select sum(order_lines) from reports.rpt_sales) as report, "
        "(select count(*) from marts.fct_order_items) as facts"
    ).iloc[0]
    assert lines["report"] == lines["facts"] > 0
    columns = set(mart_build.query("select * from reports.rpt_sales limit 0").columns)
    assert not columns & {"orders", "completed_orders", "rep_month_target_amount", "rep_month_net_revenue",
                          "rep_month_attainment_pct"}


def test_rpt_sales_rep_month_sums_reconcile_per_month(mart_build: Built):
    """The rep-month grain sums per month to the facts: orders placed (fct_orders by order_month), revenue
    and completed orders by completion month (fct_orders.completed_month), targets (fct_sales_targets), and
    the per-category table's net amounts per month and rep."""
    bad = mart_build.query(
        """
        with report as (
            select month, count(*) as rows_, sum(orders) as orders, sum(completed_orders) as completed,
                   sum(revenue_amount) as revenue, sum(target_amount) as target, sum(bookings_amount) as bookings
            from reports.rpt_sales_rep_month group by 1
        ), placed as (
            select order_month as month, count(*) as orders from marts.fct_orders group by 1
        ), completed as (
            select completed_month as month, count(*) as completed, sum(net_revenue) as revenue
            from marts.fct_orders where is_completed group by 1
        ), plan as (
            select period_start as month, sum(target_amount) as target, sum(bookings_amount) as bookings
            from marts.fct_sales_targets group by 1
        )
        select * from report full join placed using (month) full join completed using (month)
            full join plan using (month)
        where coalesce(report.orders, 0) <> coalesce(placed.orders, 0)
           or coalesce(report.completed, 0) <> coalesce(completed.completed, 0)
           or coalesce(report.revenue, 0) <> coalesce(completed.revenue, 0)
           or report.target is distinct from plan.target
           or coalesce(report.bookings, 0) <> coalesce(plan.bookings, 0)
        """
    )
    assert bad.empty, bad.head()
    totals = mart_build.query(
        "select (select sum(orders) from reports.rpt_sales_rep_month) as orders, "
        "(select count(*) from marts.fct_orders) as facts, "
        "(select sum(revenue_amount) from reports.rpt_sales_rep_month) as revenue, "
        "(select sum(net_revenue) from marts.fct_orders) as fact_revenue"
    ).iloc[0]
    assert totals["orders"] == totals["facts"] > 0 and totals["revenue"] == totals["fact_revenue"] > 0


def test_no_sales_measure_for_a_month_after_as_of(mart_build: Built):
    """A closed opportunity is never dated after as_of; a future month has NULL actuals, attainment and
    win rate (never 0); revenue sits in the completion month, bookings in the closed month."""
    as_of = mart_build.work_query("select as_of_date from intermediate.int_customer_as_of").iloc[0, 0]
    future = mart_build.query(
        "select * from marts.fct_opportunities where is_closed and (closed_at is null or days_to_close is null "
        "or cast(closed_at as date) > $as_of or closed_month > date_trunc('month', $as_of))",
        {"as_of": as_of},
    )
    assert future.empty, future.head()
    flagged = mart_build.query(
        "select count(*) from marts.fct_opportunities where is_closed_at_clamped and close_date <= $as_of "
        "and closed_at_source <> 'clamped'", {"as_of": as_of}
    ).iloc[0, 0]
    assert flagged == 0
    targets = mart_build.query(
        "select * from marts.fct_sales_targets where is_future_period and (attainment_revenue_pct is not null "
        "or win_rate is not null or revenue_amount is not null or opportunities_won is not null)"
    )
    assert targets.empty, targets.head()
    n_future = mart_build.query("select count(*) from marts.fct_sales_targets where is_future_period").iloc[0, 0]
    assert n_future > 0, "the generated plan has a target for the month after the last extract"
    report = mart_build.query(
        "select * from reports.rpt_sales_rep_month where is_future_period and (attainment_revenue_pct is not null "
        "or win_rate is not null or revenue_amount is not null)"
    )
    assert report.empty, report.head()


def test_sales_targets_actuals_add_up_to_completed_orders_with_a_rep(mart_build: Built):
    row = mart_build.query(
        "select (select sum(revenue_amount) from marts.fct_sales_targets) as plan_actual, "
        "(select sum(net_revenue) from marts.fct_orders where rep_id is not null) as orders, "
        "(select sum(actual_units) from marts.fct_sales_targets) as plan_units, "
        "(select sum(net_units) from marts.fct_orders where rep_id is not null) as units"
    ).iloc[0]
    assert row["plan_actual"] == row["orders"] and row["plan_units"] == row["units"]
    bad = mart_build.query(
        "select * from marts.fct_sales_targets where (target_amount > 0 and not is_future_period "
        "and attainment_revenue_pct is null) "
        "or ((coalesce(target_amount, 0) = 0 or is_future_period) and attainment_revenue_pct is not null)"
    )
    assert bad.empty, bad.head()


def test_campaign_outcomes_follow_the_window_rule(built: Built):
    """Recompute conversion from fct_orders with the documented window and compare every member."""
    diff = built.query(
        """
        with expected as (
            select m.campaign_id, m.customer_id,
                   count(o.order_id) as n, coalesce(sum(o.net_amount), 0) as revenue
            from marts.fct_campaign_members m
            left join marts.dim_campaigns c using (campaign_id)
            left join marts.fct_orders o
              on o.customer_id = m.customer_id and o.status = 'completed'
             and o.order_date >= m.assigned_at
             and o.order_date < m.assigned_at + to_days(c.attribution_days)
            group by 1, 2
        )
        select * from marts.fct_campaign_members m join expected e using (campaign_id, customer_id)
        where m.converted <> (e.n > 0)::int or m.revenue <> e.revenue
        """
    )
    assert diff.empty, diff.head()
    groups = built.query(
        "select member_group, count(*) n, sum(is_sent::int) sent, sum(converted) conv "
        "from marts.fct_campaign_members group by 1"
    ).set_index("member_group")
    assert groups.loc["control", "sent"] == 0, "control members are never contacted"
    assert groups.loc["treatment", "conv"] > 0 and groups.loc["control", "conv"] > 0
    design = built.query(
        "select d.design, r.control_members > 0 as has_control from marts.dim_campaigns d "
        "join reports.rpt_campaign r using (campaign_id)"
    )
    assert ((design["design"] == "randomised") == design["has_control"]).all()
    assert set(design["design"]) == {"randomised", "observational"}


def test_rpt_campaign_keeps_attributed_roi_apart_from_the_causal_columns(built: Built):
    """attributed_roi (non-causal, from the marts) and the causal effect columns (from the ML layer's
    primary estimates, see tests/test_ml_assets.py) sit side by side, under distinct names."""
    columns = set(built.query("select * from reports.rpt_campaign limit 0").columns)
    assert "attributed_roi" in columns
    assert {"effect_estimate", "effect_ci_low", "effect_ci_high", "incremental_roi"} <= columns
    rows = built.query("select attributed_roi, incremental_roi from reports.rpt_campaign")
    assert not rows.empty


def test_service_breaches_resolution_and_csat_measures_on_the_build(built: Built):
    """Issue 13 on the session build: a ticket solved without a reply before its first-reply target is
    not breached; first resolution is the full one unless reopened; rpt_service's resolution percentiles
    are over solved tickets only with the unsolved counted beside them; the two CSAT measures and the
    1-5 target sit on their own scales."""
    tickets = built.query(
        "select first_response_at, is_resolved, is_reopened, first_response_breached, first_resolution_minutes, "
        "full_resolution_minutes, first_response_target_minutes from marts.fct_tickets"
    )
    for flag in ("is_resolved", "is_reopened"):
        tickets[flag] = tickets[flag].fillna(False).astype(bool)
    solved_unanswered_in_time = tickets[
        tickets["first_response_at"].isna() & tickets["is_resolved"]
        & (tickets["full_resolution_minutes"] <= tickets["first_response_target_minutes"])
    ]
    assert not solved_unanswered_in_time["first_response_breached"].astype(bool).any()
    once = tickets[tickets["is_resolved"] & ~tickets["is_reopened"]]
    assert (once["first_resolution_minutes"] == once["full_resolution_minutes"]).all()
    assert tickets.loc[tickets["is_reopened"], "first_resolution_minutes"].isna().all()
    assert tickets.loc[~tickets["is_resolved"], "full_resolution_minutes"].isna().all()

    rpt = built.query(
        "select tickets, resolved_tickets, unresolved_tickets, rated_tickets, satisfied_tickets, "
        "csat_share_satisfied, avg_satisfaction_score, avg_satisfaction_score_target from reports.rpt_service"
    )
    assert (rpt["resolved_tickets"] + rpt["unresolved_tickets"] == rpt["tickets"]).all()
    assert rpt["unresolved_tickets"].sum() == (~tickets["is_resolved"]).sum()
    rated = rpt[rpt["rated_tickets"] > 0]
    assert not rated.empty
    assert rated["csat_share_satisfied"].astype(float).between(0, 1).all()
    assert rated["avg_satisfaction_score"].astype(float).between(1, 5).all()
    assert rated["avg_satisfaction_score_target"].dropna().astype(float).between(1, 5).all()
    median_check = built.query("""
        select r.full_resolution_minutes_median_solved as published,
               round(quantile_cont(t.full_resolution_minutes, 0.5) filter (where t.is_resolved), 2) as solved_only
        from reports.rpt_service r
        join marts.fct_tickets t
          on t.opened_month = r.month and t.category is not distinct from r.category
         and t.priority is not distinct from r.priority
        group by all
    """)
    assert (median_check["published"].astype(float).fillna(-1)
            == median_check["solved_only"].astype(float).fillna(-1)).all()


# ------------------------------------------------------------------------------------------------
# shape: rows, grain, types, personal data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", sorted(GRAINS))
def test_published_table_has_rows_and_unique_grain(mart_build: Built, table: str):
    schema, name = table.split(".")
    kind = mart_build.query(
        "select table_type from information_schema.tables where table_schema = $s and table_name = $t",
        {"s": schema, "t": name},
    )
    assert list(kind["table_type"]) == ["BASE TABLE"], f"{table} is not published as a table"
    keys = GRAINS[table]
    row = mart_build.query(
        f"select count(*) as n, count(distinct ({', '.join(keys)})) as k, "
        f"count(*) filter (where {' or '.join(f'{k} is null' for k in keys if k not in NULLABLE_GRAIN) or 'false'}) "
        f"as null_keys from {table}"
    ).iloc[0]
    assert row["n"] > 0, f"{table} is empty"
    assert row["k"] == row["n"], f"{table}: duplicate grain {keys}"
    assert row["null_keys"] == 0


def test_money_columns_are_decimal_18_2(mart_build: Built):
    money = ("amount", "revenue", "price", "budget", "spend", "cost")
    cols = mart_build.query(
        "select table_schema || '.' || table_name as t, column_name, data_type from information_schema.columns "
        "where table_schema in ('marts', 'reports')"
    )
    cols = cols[cols["t"].isin(GRAINS) & cols["column_name"].str.contains("|".join(money))]
    cols = cols[~cols["column_name"].str.endswith(("_pct", "_roi", "_rate", "_date"))]
    cols = cols[~cols["data_type"].isin(["BOOLEAN", "DATE"])]
    assert len(cols) > 20
    wrong = cols[cols["data_type"] != "DECIMAL(18,2)"]
    assert wrong.empty, wrong


def test_no_rep_names_or_raw_contact_data_published(built: Built):
    columns = built.query(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'dim_sales_reps'"
    )["column_name"].tolist()
    assert "name" not in columns and [c for c in columns if "name" in c] == ["rep_name_masked"]
    names = set(built.work_query("select name from staging.stg_crm__sales_reps")["name"])
    feedback = built.query("select feedback_text_redacted as t from marts.fct_tickets where feedback_text_redacted is not null")
    assert len(feedback) > 0
    assert not feedback["t"].str.contains(r"@|\d{7,}", regex=True).any()
    assert feedback["t"].str.contains(r"\[(?:phone|email)\]", regex=True).any()
    for table in ("marts.dim_sales_reps", "marts.fct_orders", "marts.fct_sales_targets", "reports.rpt_sales",
                  "reports.rpt_sales_rep_month"):
        values = built.query(f"select * from {table}").astype(str).stack()
        assert not set(values) & names, table


# ------------------------------------------------------------------------------------------------
# incremental parity on a tiny hand-built raw zone
# ------------------------------------------------------------------------------------------------
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
