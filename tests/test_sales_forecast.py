"""Sales pipeline forecast, the forecasts kept night by night and their accuracy; masked rep names (issue 13).

Against the session builds (`mart_build`: scale 0.01 over 3 nights, scale 0.1 over 2 nights; read from the
published crm.duckdb), every figure is recomputed here from the published fct_opportunities / fct_orders and
the stage-probability seed CSV, in exact decimals: the weighted pipeline per rep and expected-close month
(open opportunities only), the bookings so far, the revenue run-rate, the history of every night, and the
accuracy rows (closed months only, actuals = bookings). Rep names come from the landing extract CSVs.

One end-to-end re-run (a copy of `built`: `crm-warehouse run --full-refresh` of its last night) shows that a
re-run is idempotent and a full refresh keeps every stored night. On that copy dbt then builds the forecast
models at an older as_of (nothing is rewritten) and at the first day of the month after next (the next month
has closed: its accuracy row compares the forecast kept from the last night before it started).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import unicodedata
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, Built, copy_built, extract_dates, run_cli

SEED = REPO / "dbt_project" / "seeds" / "opportunity_stage_probabilities.csv"
HORIZON_MONTHS = 6
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
FORECAST_COLUMNS = (
    "as_of_date, rep_id, forecast_month, period, months_ahead, open_opportunities, open_pipeline_amount, "
    "weighted_pipeline_amount, bookings_to_date_amount, forecast_bookings_amount, past_due_open_opportunities, "
    "past_due_pipeline_amount, unscheduled_open_opportunities, unscheduled_pipeline_amount, "
    "revenue_to_date_amount, elapsed_days, days_in_month, revenue_run_rate_projection_amount"
)


def _rows(db: Path, sql: str, params: dict | None = None) -> list[dict]:
    """Rows as dicts with exact Python values (Decimal for DECIMAL; pandas would turn them into floats)."""
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(sql, params or {})
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _as_of(b: Built) -> dt.date:
    return dt.date.fromisoformat(extract_dates(b.landing)[-1])


def _month_add(month: dt.date, k: int) -> dt.date:
    y, m = divmod(month.month - 1 + k, 12)
    return dt.date(month.year + y, m + 1, 1)


def _probabilities() -> dict[str, Decimal]:
    with SEED.open(encoding="utf-8", newline="") as fh:
        return {r["stage"]: Decimal(r["stage_probability"]) for r in csv.DictReader(fh)}


def _opportunities(b: Built) -> list[dict]:
    return _rows(b.published, "select opportunity_id, rep_id, stage, status, amount, close_date, closed_month, "
                              "stage_probability, expected_amount from marts.fct_opportunities")


def _forecast(b: Built) -> dict[tuple, dict]:
    rows = _rows(b.published, f"select {FORECAST_COLUMNS} from marts.fct_sales_forecast")
    return {(r["rep_id"], r["forecast_month"]): r for r in rows}


# ------------------------------------------------------------------------------------------------
# tonight's forecast, recomputed from the published facts
# ------------------------------------------------------------------------------------------------
def test_weighted_pipeline_equals_an_independent_computation(mart_build: Built):
    """Per rep and expected-close month of the horizon: open count, unweighted amount and amount x the seed's
    stage probability (rounded half up per opportunity) of the OPEN opportunities; 0 where a rep has none."""
    prob = _probabilities()
    opps = _opportunities(mart_build)
    as_of = _as_of(mart_build)
    months = [_month_add(as_of.replace(day=1), k) for k in range(HORIZON_MONTHS)]
    for o in opps:  # the published probability is the seed's, by stage
        assert o["stage_probability"] == prob[o["stage"]], o
    expected: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO])
    for o in opps:
        month = o["close_date"] and o["close_date"].replace(day=1)
        if o["status"] != "pipeline" or month not in months:
            continue
        acc = expected[(o["rep_id"], month)]
        acc[0] += 1
        if o["amount"] is not None:
            acc[1] += o["amount"]
            acc[2] += (o["amount"] * prob[o["stage"]]).quantize(CENT, ROUND_HALF_UP)
    forecast = _forecast(mart_build)
    assert set(expected) <= set(forecast)
    reps = {o["rep_id"] for o in opps} | {r["rep_id"] for r in _rows(mart_build.published,
                                                                    "select rep_id from marts.dim_sales_reps")}
    assert set(forecast) == {(rep, m) for rep in reps for m in months}  # the full grid, zeros included
    for key, row in forecast.items():
        n, amount, weighted = expected.get(key, [0, ZERO, ZERO])
        assert (row["open_opportunities"], row["open_pipeline_amount"], row["weighted_pipeline_amount"]) == (
            n, amount, weighted), key
        assert row["months_ahead"] == months.index(key[1])
        assert row["as_of_date"] == as_of
    total = sum(v[2] for v in expected.values())
    assert total > 0 and total < sum(v[1] for v in expected.values())  # weighted, not the plain amount


def test_only_open_opportunities_are_in_the_pipeline(mart_build: Built):
    """Forecast + past-due + unscheduled counts and amounts are exactly the open opportunities; closed ones
    dated inside the forecast months exist and are not counted."""
    opps = _opportunities(mart_build)
    as_of = _as_of(mart_build)
    months = {_month_add(as_of.replace(day=1), k) for k in range(HORIZON_MONTHS)}
    rows = _forecast(mart_build).values()
    open_ = [o for o in opps if o["status"] == "pipeline"]
    counted = sum(r["open_opportunities"] for r in rows)
    off = [r for r in rows if r["months_ahead"] == 0]
    assert counted + sum(r["past_due_open_opportunities"] + r["unscheduled_open_opportunities"] for r in off) == len(open_)
    amounts = sum(r["open_pipeline_amount"] for r in rows) + sum(
        r["past_due_pipeline_amount"] + r["unscheduled_pipeline_amount"] for r in off)
    assert amounts == sum(o["amount"] or ZERO for o in open_)
    in_horizon = [o for o in open_ if o["close_date"] and o["close_date"].replace(day=1) in months]
    assert counted == len(in_horizon) > 0
    past_due = [o for o in open_ if o["close_date"] and o["close_date"] < as_of.replace(day=1)]
    assert sum(r["past_due_open_opportunities"] for r in off) == len(past_due)
    closed_in_horizon = [o for o in opps if o["status"] != "pipeline" and o["close_date"]
                         and o["close_date"].replace(day=1) in months]
    assert closed_in_horizon, "the data has closed opportunities dated in the forecast months"
    for r in rows:
        if r["months_ahead"] > 0:
            assert r["past_due_open_opportunities"] is None and r["revenue_to_date_amount"] is None


def test_bookings_to_date_and_forecast_amount(mart_build: Built):
    """bookings so far = won amount closed in the month of as_of (as fct_sales_targets.bookings_amount);
    0 for later months; forecast = bookings so far + weighted pipeline."""
    as_of = _as_of(mart_build)
    month = as_of.replace(day=1)
    won: dict = defaultdict(lambda: ZERO)
    for o in _opportunities(mart_build):
        if o["status"] == "won" and o["closed_month"] == month:
            won[o["rep_id"]] += o["amount"]
    targets = {r["rep_id"]: r["bookings_amount"] for r in _rows(
        mart_build.published, "select rep_id, bookings_amount from marts.fct_sales_targets where period_start = $m",
        {"m": month})}
    for (rep, m), r in _forecast(mart_build).items():
        assert r["forecast_bookings_amount"] == r["bookings_to_date_amount"] + r["weighted_pipeline_amount"]
        if m == month:
            assert r["bookings_to_date_amount"] == won.get(rep, ZERO), rep
            if rep in targets:
                assert r["bookings_to_date_amount"] == targets[rep]
        else:
            assert r["bookings_to_date_amount"] == ZERO


def test_revenue_run_rate_arithmetic(mart_build: Built):
    """Current month only: revenue so far (orders completed in the month of as_of, = fct_sales_targets
    revenue_amount) / day of month of as_of * days in the month, rounded half up to the cent."""
    as_of = _as_of(mart_build)
    month = as_of.replace(day=1)
    days = calendar.monthrange(as_of.year, as_of.month)[1]
    revenue = {r["rep_id"]: r["revenue"] for r in _rows(
        mart_build.published,
        "select rep_id, sum(net_revenue) as revenue from marts.fct_orders where is_completed "
        "and completed_month = $m and rep_id is not null group by 1", {"m": month})}
    targets = {r["rep_id"]: r["revenue_amount"] for r in _rows(
        mart_build.published, "select rep_id, revenue_amount from marts.fct_sales_targets where period_start = $m",
        {"m": month})}
    current = [r for (_, m), r in _forecast(mart_build).items() if m == month]
    assert sum(1 for r in current if r["revenue_to_date_amount"]) >= 3
    for r in current:
        assert (r["elapsed_days"], r["days_in_month"]) == (as_of.day, days)
        if r["rep_id"] is None:
            assert r["revenue_to_date_amount"] is None and r["revenue_run_rate_projection_amount"] is None
            continue
        rev = revenue.get(r["rep_id"], ZERO)
        assert r["revenue_to_date_amount"] == rev == targets.get(r["rep_id"], ZERO)
        assert r["revenue_run_rate_projection_amount"] == (rev * days / as_of.day).quantize(CENT, ROUND_HALF_UP)


# ------------------------------------------------------------------------------------------------
# the forecasts kept night by night, and their accuracy
# ------------------------------------------------------------------------------------------------
def test_history_keeps_every_night_and_tonight_equals_the_forecast(mart_build: Built):
    nights = [dt.date.fromisoformat(d) for d in extract_dates(mart_build.landing)]
    assert len(nights) >= 2
    kept = _rows(mart_build.published, "select as_of_date, count(*) as n from marts.fct_sales_forecast_history "
                                       "group by 1 order by 1")
    assert [r["as_of_date"] for r in kept] == nights
    with duckdb.connect(str(mart_build.published), read_only=True) as con:
        for a, b in (("marts.fct_sales_forecast", "h"), ("h", "marts.fct_sales_forecast")):
            diff = con.execute(
                f"with h as (select {FORECAST_COLUMNS} from marts.fct_sales_forecast_history "
                f"where as_of_date = (select max(as_of_date) from marts.fct_sales_forecast_history)) "
                f"select count(*) from (select {FORECAST_COLUMNS} from {a} except all "
                f"select {FORECAST_COLUMNS} from {b})").fetchone()[0]
            assert diff == 0
        # the nights are not copies of tonight: the revenue so far grows night by night
        revenue = con.execute("select as_of_date, sum(revenue_to_date_amount) from marts.fct_sales_forecast_history "
                              "group by 1 order by 1").fetchall()
    assert len({v for _, v in revenue}) == len(nights)


def test_first_night_is_kept_as_it_was_published(built_scale01: Built):
    """The forecast published on night 1 (day1_crm.duckdb) is, row for row, night 1 of the final history."""
    day1 = built_scale01.warehouse.parent / "day1_crm.duckdb"
    first = extract_dates(built_scale01.landing)[0]
    with duckdb.connect() as con:
        con.execute("attach $p as day1 (read_only)", {"p": str(day1)})
        con.execute("attach $p as final (read_only)", {"p": str(built_scale01.published)})
        published = f"select {FORECAST_COLUMNS} from day1.marts.fct_sales_forecast"
        kept = f"select {FORECAST_COLUMNS} from final.marts.fct_sales_forecast_history where as_of_date = $d"
        assert con.execute(f"select count(*) from ({published})").fetchone()[0] > 0
        for a, b in ((published, kept), (kept, published)):
            assert con.execute(f"select count(*) from ({a} except all {b})", {"d": first}).fetchone()[0] == 0


def test_accuracy_rows_are_closed_months_reconciled_with_bookings(mart_build: Built):
    """Every row is a closed month (its last day before as_of); actual bookings reconcile with the won
    opportunities and fct_sales_targets; the session nights all fall in one month, so no closed month has
    a forecast made before it started: every forecast column is NULL, never 0."""
    as_of = _as_of(mart_build)
    rows = _rows(mart_build.published, "select * from marts.fct_sales_forecast_accuracy")
    assert rows
    assert all(_month_add(r["month"], 1) <= as_of for r in rows)
    assert not any(r["has_forecast"] for r in rows)
    for column in ("forecast_as_of_date", "forecast_bookings_amount", "forecast_error_amount",
                   "absolute_error_amount", "absolute_percent_error_pct"):
        assert all(r[column] is None for r in rows), column
    won: dict = defaultdict(lambda: [0, ZERO])
    for o in _opportunities(mart_build):
        if o["status"] == "won" and _month_add(o["closed_month"], 1) <= as_of:
            won[(o["rep_id"], o["closed_month"])][0] += 1
            won[(o["rep_id"], o["closed_month"])][1] += o["amount"]
    assert {(r["rep_id"], r["month"]): [r["opportunities_won"], r["actual_bookings_amount"]] for r in rows} == won
    targets = _rows(mart_build.published, "select rep_id, period_start, bookings_amount from marts.fct_sales_targets "
                                          "where bookings_amount > 0 and period_start < $m",
                    {"m": as_of.replace(day=1)})
    assert targets
    for t in targets:
        assert won[(t["rep_id"], t["period_start"])][1] == t["bookings_amount"]


@pytest.fixture(scope="module")
def rerun(built: Built, tmp_path_factory) -> Built:
    """A copy of `built` whose last night is run again with --full-refresh (the one CLI run of this module)."""
    copy = copy_built(built, tmp_path_factory.mktemp("forecast_rerun"))
    run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse),
            "--as-of", extract_dates(copy.landing)[-1], "--full-refresh")
    return copy


def _same_rows(a: Path, b: Path, table: str) -> bool:
    with duckdb.connect() as con:
        con.execute("attach $p as a (read_only)", {"p": str(a)})
        con.execute("attach $p as b (read_only)", {"p": str(b)})
        return all(
            con.execute(f"select count(*) from (select * from {x}.{table} except all "
                        f"select * from {y}.{table})").fetchone()[0] == 0
            for x, y in (("a", "b"), ("b", "a"))
        )


def test_rerun_is_idempotent_and_a_full_refresh_keeps_the_history(built: Built, rerun: Built):
    nights = _rows(rerun.published, "select count(distinct as_of_date) as n from marts.fct_sales_forecast_history")
    assert nights[0]["n"] == len(extract_dates(built.landing))
    for table in ("marts.fct_sales_forecast_history", "marts.fct_sales_forecast",
                  "marts.fct_sales_forecast_accuracy"):
        assert _same_rows(built.published, rerun.published, table), table


def _dbt_forecast(copy: Built, as_of: dt.date, tmp: Path, monkeypatch) -> None:
    """dbt builds the forecast models (and their tests) on the copy's work file at `as_of`."""
    from tests.test_dbt_staging import _invoke_dbt

    monkeypatch.setenv("RAW_ROOT", str(copy.warehouse / "raw"))
    monkeypatch.setenv("CRM_WORK_DB", str(copy.warehouse / "work" / "crm_work.duckdb"))
    monkeypatch.setenv("CRM_AS_OF", as_of.isoformat())
    result = _invoke_dbt(["build", "--select", "int_customer_as_of", "fct_sales_forecast",
                          "fct_sales_forecast_history", "fct_sales_forecast_accuracy"], tmp)
    assert result.success, f"dbt build failed: {result.exception or result.result}"


def test_an_older_night_is_not_rewritten_and_a_closed_month_is_compared(rerun: Built, tmp_path, monkeypatch):
    """At an older as_of the forecast is recomputed but the kept night is not overwritten. At the first day
    of the month after next, the next month has closed: its rows compare the forecast of the last kept
    night (the newest before the month started) with the month's bookings; the current month has none."""
    work = rerun.warehouse / "work" / "crm_work.duckdb"
    nights = [dt.date.fromisoformat(d) for d in extract_dates(rerun.landing)]
    before = _rows(work, f"select {FORECAST_COLUMNS} from marts.fct_sales_forecast_history")

    _dbt_forecast(rerun, nights[0], tmp_path / "older", monkeypatch)
    assert _rows(work, "select distinct as_of_date from marts.fct_sales_forecast") == [{"as_of_date": nights[0]}]
    after = _rows(work, f"select {FORECAST_COLUMNS} from marts.fct_sales_forecast_history")
    key = lambda r: tuple(str(v) for v in r.values())  # noqa: E731
    assert sorted(after, key=key) == sorted(before, key=key)

    this_month = nights[-1].replace(day=1)
    next_month = _month_add(this_month, 1)
    as_of = _month_add(this_month, 2)
    _dbt_forecast(rerun, as_of, tmp_path / "closed", monkeypatch)
    kept = {r["rep_id"]: r for r in _rows(
        work, "select rep_id, forecast_bookings_amount, open_pipeline_amount from marts.fct_sales_forecast_history "
              "where as_of_date = $d and forecast_month = $m", {"d": nights[-1], "m": next_month})}
    won: dict = defaultdict(lambda: ZERO)
    for o in _rows(work, "select rep_id, amount from marts.fct_opportunities where status = 'won' "
                         "and closed_month = $m", {"m": next_month}):
        won[o["rep_id"]] += o["amount"]
    rows = _rows(work, "select * from marts.fct_sales_forecast_accuracy")
    assert all(_month_add(r["month"], 1) <= as_of for r in rows)  # the month of as_of - 1 is still open
    compared = {r["rep_id"]: r for r in rows if r["month"] == next_month}
    assert set(compared) == set(kept) | set(won)
    assert sum(r["forecast_bookings_amount"] for r in kept.values()) > 0
    for rep, r in compared.items():
        forecast, actual = kept[rep]["forecast_bookings_amount"], won.get(rep, ZERO)
        assert r["has_forecast"] and r["forecast_as_of_date"] == nights[-1]
        assert r["forecast_lead_days"] == (next_month - nights[-1]).days and r["forecast_months_ahead"] == 1
        assert r["forecast_bookings_amount"] == forecast
        assert r["forecast_open_pipeline_amount"] == kept[rep]["open_pipeline_amount"]
        assert r["actual_bookings_amount"] == actual
        assert r["forecast_error_amount"] == forecast - actual
        assert r["absolute_error_amount"] == abs(forecast - actual)
        expected_ape = (100 * abs(forecast - actual) / actual).quantize(CENT, ROUND_HALF_UP) if actual else None
        assert r["absolute_percent_error_pct"] == expected_ape
    assert not any(r["has_forecast"] for r in rows if r["month"] != next_month)  # no night before them


# ------------------------------------------------------------------------------------------------
# rep names: masked in every published table
# ------------------------------------------------------------------------------------------------
def _extract_rep_names(landing: Path) -> dict[str, set[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for path in sorted(landing.glob("*/sales_reps.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                if r["name"].strip():
                    names[r["rep_id"].strip()].add(r["name"])
    return names


def test_rep_name_masked_never_equals_the_plaintext_name(built: Built):
    names = _extract_rep_names(built.landing)
    plaintext = {n for ns in names.values() for n in ns} | {unicodedata.normalize("NFKC", n).strip()
                                                            for ns in names.values() for n in ns}
    assert len(plaintext) >= 5
    reps = {r["rep_id"]: r["rep_name_masked"] for r in _rows(built.published,
                                                             "select rep_id, rep_name_masked from marts.dim_sales_reps")}
    assert reps and all(reps.values())
    for rep, masked in reps.items():
        assert masked not in plaintext
        first = {unicodedata.normalize("NFKC", n).strip()[0] for n in names[rep]}
        assert len(masked) == 2 and masked[1] == "*" and masked[0] in first, (rep, masked)
    # the sales reports show the masked name of the rep on its rows
    for table in ("reports.rpt_sales", "reports.rpt_sales_rep_month"):
        rows = _rows(built.published, f"select distinct rep_id, rep_name_masked from {table} where rep_id is not null")
        assert rows and all(r["rep_name_masked"] == reps.get(r["rep_id"]) for r in rows), table
    # no published text value anywhere is a rep's plaintext name
    with duckdb.connect(str(built.published), read_only=True) as con:
        columns = con.execute("select schema_name, table_name, column_name from duckdb_columns() "
                              "where schema_name in ('marts', 'reports') and data_type = 'VARCHAR'").fetchall()
        assert len(columns) > 50
        for schema, table, column in columns:  # names from the catalogue, not from data
            hit = con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" in '
                              f"(select unnest($names))", {"names": sorted(plaintext)}).fetchone()[0]
            assert hit == 0, f"{schema}.{table}.{column}"
