"""Schema evolution (issue 14 item 4): columns an extract has and the contract lacks are kept, not dropped.

One generated extract day (scale 0.01) whose customers file gains two columns the contract does not know
(`loyalty_tier`, text, and `Loyalty Points`, a number with a few non-numbers planted) and loses the optional
column `occupation`, and whose orders file gains `coupon_code`; crm.yml promotes all three to typed passthrough columns. Run through the CLI as a user
does; checked: one console warning per file, ops.load_audit lists the columns, the values are queryable in
staging (extra_fields), the passthrough marts hold exactly the planted values with the configured types,
nothing is lost (rows reconcile), and a bad passthrough configuration is a clear error.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from orchestration.errors import CrmWarehouseError
from orchestration.passthrough import parse_passthrough
from tests.conftest import Built, run_cli

DAY = "2025-06-24"
SITE = """\
site: passthrough-test
passthrough:
  customers:
    - loyalty_tier
    - {name: Loyalty Points, type: integer, alias: loyalty_points}
  orders:
    - {name: coupon_code}
"""


def _add_column(folder: Path, file: str, header: str, position: int, values) -> dict[str, str]:
    """Insert a column into an extract file (in its own encoding), fix the manifest's sha256; return the
    planted value per record key (first column)."""
    manifest_path = folder / "_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(e for e in manifest["files"] if e["file"] == file)
    path = folder / file
    rows = list(csv.reader(path.read_text(encoding=entry["encoding"]).splitlines()))
    rows[0].insert(position, header)
    planted: dict[str, str | None] = {}
    for i, row in enumerate(rows[1:]):
        row.insert(position, values(i))
        # a key delivered more than once (versions, planted duplicates): None, the tests skip it
        planted[row[0]] = row[position] if row[0] not in planted else None
    with open(path, "w", encoding=entry["encoding"], newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return planted


def _rows(db: Path, sql: str) -> list[tuple]:
    """Query results as plain tuples (None for NULL), read-only."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _drop_column(folder: Path, file: str, header: str) -> None:
    """Remove a column from an extract file (an older CRM export without it), fix the manifest's sha256."""
    manifest_path = folder / "_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(e for e in manifest["files"] if e["file"] == file)
    path = folder / file
    rows = list(csv.reader(path.read_text(encoding=entry["encoding"]).splitlines()))
    at = rows[0].index(header)
    with open(path, "w", encoding=entry["encoding"], newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([r[:at] + r[at + 1:] for r in rows])
    entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2))


@pytest.fixture(scope="module")
def evolved(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema_evolution")
    landing, warehouse = root / "landing", root / "warehouse"
    run_cli("generate", "--scale", "0.01", "--days", "1", "--out", str(landing))
    day = landing / DAY
    tiers = _add_column(day, "customers.csv", "loyalty_tier", 3, lambda i: ("gold", "silver", "")[i % 3])
    points = _add_column(day, "customers.csv", "Loyalty Points", 5, lambda i: str(i * 10) if i % 4 else "n/a")
    coupons = _add_column(day, "orders.csv", "coupon_code", 2, lambda i: f"CP{i % 7}" if i % 2 else "")
    _drop_column(day, "customers.csv", "occupation")  # optional in the contract
    (landing / "crm.yml").write_text(SITE)
    proc = run_cli("run", "--landing", str(landing), "--warehouse", str(warehouse))
    return Built(landing, warehouse), proc.stderr, {"tier": tiers, "points": points, "coupon": coupons}


def test_one_console_warning_per_file_with_extra_columns(evolved):
    _, console, _ = evolved
    warnings = [line for line in console.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {DAY}/customers.csv: column(s) not in the contract kept in customers.extra_fields: "
        "loyalty_tier, Loyalty Points",
        f"warning: {DAY}/customers.csv: optional column(s) missing from the header, loaded as NULL: occupation",
        f"warning: {DAY}/orders.csv: column(s) not in the contract kept in orders.extra_fields: coupon_code",
    ]


def test_load_audit_lists_the_extra_and_missing_columns_and_rows_reconcile(evolved):
    built, _, _ = evolved
    audit = built.query("SELECT entity, extra_columns, missing_columns, rows_in_file, rows_loaded, "
                        "rows_quarantined FROM ops.load_audit")
    extra = {r.entity: list(r.extra_columns) for r in audit.itertuples() if len(r.extra_columns)}
    assert extra == {"customers": ["loyalty_tier", "Loyalty Points"], "orders": ["coupon_code"]}
    missing = {r.entity: list(r.missing_columns) for r in audit.itertuples() if len(r.missing_columns)}
    assert missing == {"customers": ["occupation"]}
    assert built.query("SELECT count(occupation) AS n FROM marts.dim_customers").n[0] == 0
    assert (audit.rows_in_file == audit.rows_loaded + audit.rows_quarantined).all()


def test_extra_values_are_queryable_in_staging(evolved):
    built, _, planted = evolved
    staged = _rows(
        built.warehouse / "work" / "crm_work.duckdb",
        "SELECT customer_id, extra_fields['loyalty_tier'], extra_fields['Loyalty Points'] "
        "FROM staging.stg_crm__customers",
    )
    assert len(staged) > 900
    for customer_id, tier, points in staged:
        if planted["tier"].get(customer_id) is None:
            continue
        assert (tier or "") == planted["tier"][customer_id]
        assert (points or "") == planted["points"][customer_id]  # text, as delivered ("n/a" too)


def test_passthrough_marts_hold_the_planted_values_typed(evolved):
    built, _, planted = evolved
    types = dict(built.query(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'marts' AND table_name IN ('customer_passthrough', 'order_passthrough')"
    ).itertuples(index=False))
    assert types["customer_passthrough.loyalty_tier"] == "VARCHAR"
    assert types["customer_passthrough.loyalty_points"] == "INTEGER"
    assert types["order_passthrough.coupon_code"] == "VARCHAR"
    # customers whose identity group has one source record: the mart value is the file value
    single = _rows(
        built.published,
        "SELECT m.master_customer_id, p.loyalty_tier, p.loyalty_points FROM marts.customer_id_map m "
        "JOIN marts.customer_passthrough p USING (master_customer_id) "
        "QUALIFY count(*) OVER (PARTITION BY m.master_customer_id) = 1",
    )
    assert len(single) > 800
    assert built.query("SELECT count(*) AS n FROM marts.customer_passthrough").n[0] == \
        built.query("SELECT count(*) AS n FROM marts.dim_customers").n[0]
    for master_customer_id, tier, points in single:
        if planted["tier"].get(master_customer_id) is None:
            continue
        assert (tier or "") == planted["tier"][master_customer_id]
        raw = planted["points"][master_customer_id]
        assert points == (int(raw) if raw.isdigit() else None)  # "n/a" does not cast: NULL in the mart
    orders = _rows(built.published, "SELECT order_id, coupon_code FROM marts.order_passthrough")
    assert len(orders) == built.query("SELECT count(*) AS n FROM marts.fct_orders").n[0]
    checked = [(coupon or "") == planted["coupon"][order_id] for order_id, coupon in orders
               if planted["coupon"].get(order_id) is not None]
    assert len(checked) > 3000 and all(checked)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"tickets": ["x"]}, "passthrough columns are supported for customers, orders"),
        ({"customers": [{"name": "x", "type": "money"}]}, "type 'money' is not one of"),
        ({"customers": [{"name": "Tier", "alias": "Tier; drop table x"}]}, "must be lower_snake_case"),
        ({"customers": [{"name": "email"}]}, "alias 'email' is already a column of customers"),
        ({"orders": [{"name": "a", "color": "red"}]}, "unknown key(s) color"),
    ],
)
def test_a_bad_passthrough_configuration_names_the_key(config, message):
    with pytest.raises(CrmWarehouseError) as err:
        parse_passthrough(config, "crm.yml: passthrough")
    assert message in str(err.value)
    assert str(err.value).startswith("crm.yml: passthrough.")
