"""One churn definition (intermediate.int_customer_churn_by_month) used by dim_customers, rpt_customer and
rpt_service, checked against an independent recomputation from the published facts.

The rule (dim_customers): a customer is churned at a date D when the later of its first created date and
its last engagement (completed order or behaviour event) on or before D, plus 180 days, is on or before D.
Here it is recomputed in DuckDB from the PUBLISHED file (dim_customers.first_created_at, customer_id_map,
fct_orders) and the work file's behaviour events (they are not published one per event), without reading
the churn model, for every month end (as_of for the month of as_of). Churn is measurable for a month only
when the 180-day windows ending on the previous month end and on the period end lie inside the activity
data (first engagement date + 180 days <= month start); before that the churn columns are NULL.

Uses the session warehouses (`mart_build`: scale 0.01 over 3 nights and scale 0.1 over 2 nights).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from tests.conftest import Built

CHURN_DAYS = 180
CHURN_COLUMNS_RPT_CUSTOMER = ("customers_churned", "customers_churned_total")
CHURN_COLUMNS_RPT_SERVICE = ("churned_customers_with_tickets", "churn_rate_customers_with_tickets")


def _inputs(built: Built) -> dict[str, pd.DataFrame]:
    """The published customers, identity map and completed orders, and the work file's behaviour events."""
    customers = built.query(
        "select master_customer_id, coalesce(source, 'unknown') as source, "
        "cast(first_created_at as date) as created_date, as_of_date, is_churned, churned_on "
        "from marts.dim_customers"
    )
    id_map = built.query("select customer_id, master_customer_id from marts.customer_id_map")
    orders = built.query(
        "select customer_id, cast(order_date as date) as engaged_on from marts.fct_orders where status = 'completed'"
    )
    events = built.work_query(
        "select customer_id, cast(occurred_at as date) as engaged_on "
        "from intermediate.int_customer_behavior_events where not is_deleted"
    )
    return {"customers": customers, "id_map": id_map, "orders": orders, "events": events}


def _expected_churn(built: Built) -> tuple[pd.DataFrame, dt.date]:
    """(one row per master customer and month end, with is_churned / is_newly_churned by the rule;
    the first month whose churn is measurable). Months run from the first customer's month to as_of's."""
    frames = _inputs(built)
    as_of = frames["customers"]["as_of_date"].iloc[0]
    with duckdb.connect() as con:
        for name, frame in frames.items():
            con.register(name, frame)
        con.execute("create temp table as_of as select cast($as_of as date) as as_of_date", {"as_of": as_of})
        con.execute("""
            create temp table engagements as
            select customer_id, cast(engaged_on as date) as engaged_on from orders
            union all
            select customer_id, cast(engaged_on as date) as engaged_on from events
        """)
        con.execute(
            "create temp table customer_since as "
            "select master_customer_id, source, cast(created_date as date) as created_date from customers"
        )
        first_engaged = con.execute(
            "select min(engaged_on) from engagements, as_of where engaged_on <= as_of_date"
        ).fetchone()[0]
        con.execute("""
            create temp table periods as
            select cast(month_start as date) as month_start,
                   least(cast(month_start + interval 1 month - interval 1 day as date), as_of_date) as period_end
            from as_of, range(
                (select date_trunc('month', min(coalesce(created_date, as_of_date))) from customer_since),
                date_trunc('month', as_of_date) + interval 1 day, interval 1 month
            ) as t(month_start)
        """)
        expected = con.execute(f"""
            with mapped as (
                select id_map.master_customer_id, engagements.engaged_on
                from engagements join id_map using (customer_id), as_of
                where engagements.engaged_on <= as_of.as_of_date
            ),
            at_end as (
                select customer_since.master_customer_id, customer_since.source, customer_since.created_date,
                       periods.month_start, periods.period_end,
                       (select max(engaged_on) from mapped
                        where mapped.master_customer_id = customer_since.master_customer_id
                          and mapped.engaged_on <= periods.period_end) as last_engaged_on
                from customer_since cross join periods
            ),
            ruled as (
                select *,
                       case when created_date is null then last_engaged_on
                            when last_engaged_on is null then created_date
                            else greatest(created_date, last_engaged_on) end
                           + {CHURN_DAYS} as churn_date
                from at_end
            )
            select master_customer_id, source, month_start, period_end,
                   coalesce(churn_date <= period_end, false) as is_churned,
                   coalesce(churn_date <= period_end and churn_date >= month_start, false) as is_newly_churned
            from ruled
        """).df()
    measurable_from = (pd.Timestamp(first_engaged) + pd.Timedelta(days=CHURN_DAYS - 1)).to_period("M")
    measurable_from = (measurable_from + 1).to_timestamp().date()
    return expected, measurable_from


@pytest.fixture(scope="module", params=["scale0.01", "scale0.1"])
def churn_case(request) -> tuple[Built, pd.DataFrame, dt.date]:
    built = request.getfixturevalue("built" if request.param == "scale0.01" else "built_scale01")
    expected, measurable_from = _expected_churn(built)
    return built, expected, measurable_from


def _month(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date


def test_dim_customers_is_the_definition_at_as_of(churn_case):
    """dim_customers.is_churned / churned_on / last_engagement_date are the churn model's as_of row, and
    the independent recomputation at as_of agrees customer by customer."""
    built, expected, _ = churn_case
    dim = built.query(
        "select master_customer_id, is_churned, churned_on, last_engagement_date, as_of_date from marts.dim_customers"
    )
    model = built.work_query(
        "select master_customer_id, is_churned, churned_on, last_engagement_date "
        "from intermediate.int_customer_churn_by_month "
        "where period_end = (select as_of_date from intermediate.int_customer_as_of)"
    )
    assert len(model) == len(dim), "the churn model has one as_of row per customer"
    joined = dim.merge(model, on="master_customer_id", suffixes=("", "_model"), validate="one_to_one")
    for column in ("is_churned", "churned_on", "last_engagement_date"):
        same = (joined[column] == joined[f"{column}_model"]) | (joined[column].isna() & joined[f"{column}_model"].isna())
        assert same.all(), f"{column}: dim_customers differs from the churn model\n{joined[~same].head()}"
    at_as_of = expected[expected["period_end"] == expected["period_end"].max()]
    recomputed = at_as_of.set_index("master_customer_id")["is_churned"].sort_index()
    published = dim.set_index("master_customer_id")["is_churned"].sort_index()
    assert recomputed.to_dict() == published.to_dict()
    assert published.sum() > 0 and (~published).sum() > 0


def test_rpt_customer_churn_recomputed_for_every_month(churn_case):
    """customers_churned_total and customers_churned of every measurable month and source equal the rule
    recomputed at that month's end; past months are judged as of their own end, not as of today."""
    built, expected, measurable_from = churn_case
    rpt = built.query(
        "select month, source, period_end, customers_churned, customers_churned_total from reports.rpt_customer"
    )
    rpt["month"] = _month(rpt["month"])
    counts = expected.groupby(["month_start", "source"], as_index=False).agg(
        total=("is_churned", "sum"), newly=("is_newly_churned", "sum")
    )
    counts["month_start"] = _month(counts["month_start"])
    joined = rpt.merge(counts, left_on=["month", "source"], right_on=["month_start", "source"], how="left")
    joined[["total", "newly"]] = joined[["total", "newly"]].fillna(0)
    measurable = joined[joined["month"] >= measurable_from]
    assert len(measurable["month"].unique()) >= 6, "the build has months whose churn is measurable"
    wrong = measurable[(measurable["customers_churned_total"] != measurable["total"])
                       | (measurable["customers_churned"] != measurable["newly"])]
    assert wrong.empty, f"rpt_customer churn differs from the rule at the month end\n{wrong.head(10)}"
    past = measurable[measurable["month"] < measurable["month"].max()]
    assert past["newly"].sum() > 0, "customers become churned in past months (the check has teeth)"


def test_rpt_service_churn_is_the_ticket_month_churn(churn_case):
    """churned_customers_with_tickets counts the ticket customers churned at the end of the ticket month
    (the rule at that date), not today's dim_customers.is_churned; NULL where churn is not measurable."""
    built, expected, measurable_from = churn_case
    tickets = built.query(
        "select master_customer_id, opened_month, category, priority from marts.fct_tickets"
    )
    tickets["opened_month"] = _month(tickets["opened_month"])
    expected = expected.assign(month_start=_month(expected["month_start"]))
    month_churn = tickets.merge(
        expected[["master_customer_id", "month_start", "is_churned"]],
        left_on=["master_customer_id", "opened_month"], right_on=["master_customer_id", "month_start"], how="left",
    )
    today = built.query("select master_customer_id, is_churned as is_churned_today from marts.dim_customers")
    month_churn = month_churn.merge(today, on="master_customer_id", how="left")
    keys = ["opened_month", "category", "priority"]

    def churned(flag: str) -> pd.Series:
        rows = month_churn[month_churn[flag].fillna(False).astype(bool)]
        return rows.groupby(keys, dropna=False)["master_customer_id"].nunique()

    by_month, by_today = churned("is_churned"), churned("is_churned_today")
    rpt = built.query(
        "select month, category, priority, customers_with_tickets, churned_customers_with_tickets, "
        "churn_rate_customers_with_tickets from reports.rpt_service"
    )
    rpt["month"] = _month(rpt["month"])
    rpt = rpt.set_index(["month", "category", "priority"])
    rpt.index.names = keys
    rpt["expected"] = by_month.reindex(rpt.index).fillna(0)
    rpt["today"] = by_today.reindex(rpt.index).fillna(0)
    months = rpt.index.get_level_values("opened_month")
    measurable, unmeasurable = rpt[months >= measurable_from], rpt[months < measurable_from]
    assert not measurable.empty and not unmeasurable.empty
    wrong = measurable[measurable["churned_customers_with_tickets"] != measurable["expected"]]
    assert wrong.empty, f"rpt_service churn is not the ticket month's churn\n{wrong.head(10)}"
    assert (measurable["expected"] != measurable["today"]).any(), "today's flag would differ (teeth)"
    for column in CHURN_COLUMNS_RPT_SERVICE:
        assert unmeasurable[column].isna().all(), f"{column} is not NULL before churn is measurable"
        known = measurable[measurable["customers_with_tickets"] > 0]
        assert known[column].notna().all(), f"{column} is NULL in a measurable month"


def test_churn_is_null_before_the_activity_data_can_measure_it(churn_case):
    """Months before the first activity month (customers exist, no order or behaviour event yet), and the
    months whose 180-day window still reaches before it, have NULL churn and is_churn_measurable false;
    every later month has churn figures and is_churn_measurable true."""
    built, _, measurable_from = churn_case
    rpt = built.query(
        "select month, source, customers_total, customers_active, is_churn_measurable, "
        "customers_churned, customers_churned_total from reports.rpt_customer"
    )
    rpt["month"] = _month(rpt["month"])
    first_activity_month = rpt.loc[rpt["customers_active"] > 0, "month"].min()
    before = rpt[rpt["month"] < first_activity_month]
    assert not before.empty and before["customers_total"].sum() > 0, "the build has pre-history customers"
    assert first_activity_month < measurable_from
    unmeasurable, measurable = rpt[rpt["month"] < measurable_from], rpt[rpt["month"] >= measurable_from]
    assert not measurable.empty
    for column in CHURN_COLUMNS_RPT_CUSTOMER:
        assert unmeasurable[column].isna().all(), f"{column} is not NULL before churn is measurable"
        assert measurable[column].notna().all(), f"{column} is NULL in a measurable month"
    assert not unmeasurable["is_churn_measurable"].any()
    assert measurable["is_churn_measurable"].all()
    assert rpt["customers_total"].notna().all() and rpt["customers_active"].notna().all()
