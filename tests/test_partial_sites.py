"""Sites that deliver only part of a CRM (issue 16): a retail site (customers, orders, order items) and a
marketing site (everything but service) run, publish and report through the CLI; absent modules have no
gate, empty marts, a status row and a report note; every failing gate is listed with where rows vanished.

The sites are cut from the session's generated landing (`tests/sites.py`), so the planted truth still holds
for what they deliver (net revenue by month to the cent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import Built, run_cli
from sites import restrict_landing

from orchestration import contract

RETAIL = ["customers", "orders", "order_items", "sales_targets"]  # sales_targets: header-only files
MARKETING = [e for e in contract.LOAD_ORDER if contract.MODULE_OF[e] != "service" and e not in contract.OPTIONAL_ENTITIES]


def _header_only(landing: Path, entity: str) -> None:
    """Every file of `entity` keeps only its header (a present-but-empty entity), manifests updated."""
    for manifest_path in landing.glob(f"*/{contract.MANIFEST_NAME}"):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for f in manifest["files"]:
            if f["entity"] == entity:
                path = manifest_path.parent / f["file"]
                raw = path.read_bytes()
                path.write_bytes(raw[: raw.index(b"\n") + 1])
                f["rows"] = 0
                f.pop("sha256", None)
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


EUR_RATES = (("2020-01-01", "1.08000000"), ("2025-01-01", "1.10000000"))  # USD per EUR from valid_from


def _euro(order_id: str) -> bool:
    """Every fifth order (by id) is delivered in EUR, the others in USD (damaged ids: USD)."""
    digits = order_id.strip().lstrip("O")
    return digits.isdigit() and int(digits) % 5 == 0


def _to_usd_or_eur(record: dict) -> dict:
    """CNY rows become USD ("usd ": codes are trimmed and case-folded) or EUR; planted bad codes stay bad."""
    if record.get("currency", "").strip().lower() != "cny":
        return record
    return {**record, "currency": "EUR" if _euro(record["order_id"]) else "usd "}


def _multi_currency(landing: Path) -> None:
    """A US-dollar site whose orders files mix USD and EUR rows; fx_rates (EUR -> USD) in the first extract."""
    days = sorted(p for p in landing.iterdir() if p.name[0].isdigit())
    for day in days:
        _rewrite(day, "orders", lambda r: True, _to_usd_or_eur)
    rates = "currency,valid_from,rate_to_site\n" + "".join(f"EUR,{d},{r}\n" for d, r in EUR_RATES)
    (days[0] / "fx_rates.csv").write_text(rates, encoding="utf-8")
    manifest = json.loads((days[0] / contract.MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["files"].insert(0, {"entity": "fx_rates", "file": "fx_rates.csv", "rows": 2, "encoding": "utf-8"})
    (days[0] / contract.MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def retail(landing, tmp_path_factory) -> Built:
    """customers, orders, order items (and header-only sales targets), in US dollars with EUR orders."""
    root = tmp_path_factory.mktemp("retail")
    site_landing = restrict_landing(landing, root / "landing", [*RETAIL, "fx_rates"],
                                    {"site": "retail", "currency": "USD"})
    _header_only(site_landing, "sales_targets")
    _multi_currency(site_landing)
    run_cli("run", "--landing", str(site_landing), "--warehouse", str(root / "warehouse"))
    return Built(site_landing, root / "warehouse")


@pytest.fixture(scope="module")
def marketing(landing, tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("marketing")
    site_landing = restrict_landing(landing, root / "landing", MARKETING, {"site": "marketing"})
    run_cli("run", "--landing", str(site_landing), "--warehouse", str(root / "warehouse"))
    return Built(site_landing, root / "warehouse")


def _count(built: Built, table: str) -> int:
    return int(built.query(f"select count(*) from {table}").iloc[0, 0])  # table names: literals of this module


def test_retail_site_loads_what_the_full_crm_loads_and_converts_euros(retail: Built, built: Built):
    """The retail site's order lines are those of the full CRM built from the same files (the session build),
    plus the lines the full CRM quarantines only for a product or rep it has and this site does not;
    in their own currency the amounts are equal to the cent; in US dollars each EUR line is its source net
    amount times the rate valid on the order date, rounded to cents."""
    not_checkable = "reason = 'orphan_fk' and \"column\" in ('product_id', 'rep_id')"
    key = "entity, file, line, reason"
    full_q = built.query(f"select {key} from ops.quarantine where entity in ('orders', 'order_items') "
                         f"and not ({not_checkable}) order by all")
    site_q = retail.query(f"select {key} from ops.quarantine where entity in ('orders', 'order_items') order by all")
    assert len(full_q) > 0
    assert site_q.equals(full_q)
    full = built.query("select order_id, line_no, net_amount from marts.fct_order_items").set_index(["order_id", "line_no"])
    lines = retail.query("select order_id, line_no, order_date, source_currency, fx_rate, source_net_amount, "
                         "net_amount, currency from marts.fct_order_items").set_index(["order_id", "line_no"])
    assert full.index.isin(lines.index).all()
    extra = len(lines) - len(full)
    unchecked = int(built.query(f"select count(*) from ops.quarantine where {not_checkable}").iloc[0, 0])
    assert 0 < extra  # lines of unknown products / reps: loaded here, where there is nothing to check against
    assert unchecked > 0
    both = lines.loc[full.index]
    assert (both["source_net_amount"] == full["net_amount"]).all()

    assert set(lines["currency"]) == {"USD"}
    euro = [_euro(order_id) for order_id, _ in lines.index]
    euro = pd.Series(euro, index=lines.index)
    assert set(lines.loc[euro, "source_currency"]) == {"EUR"} and set(lines.loc[~euro, "source_currency"]) == {"USD"}
    usd = lines[~euro]
    assert (usd["fx_rate"] == 1).all() and (usd["net_amount"] == usd["source_net_amount"]).all()
    wrong = retail.query(
        """
        select count(*) filter (where fx_rate <> case when order_date >= date '2025-01-01' then 1.10 else 1.08 end)
                   as wrong_rate,
               count(*) filter (where net_amount <> round(source_net_amount * fx_rate, 2)) as wrong_amount
        from marts.fct_order_items where source_currency = 'EUR'
        """
    )
    assert wrong.iloc[0].to_dict() == {"wrong_rate": 0, "wrong_amount": 0}
    assert euro.sum() > 100
    orders = retail.query("select count(*) as n, count(distinct currency) as c from marts.fct_orders")
    assert int(orders["n"].iloc[0]) > 0 and int(orders["c"].iloc[0]) == 1


def test_absent_modules_have_empty_marts_and_a_status_row(retail: Built):
    status = retail.query("select module, status, entities_not_delivered, empty_marts, site from ops.module_status "
                          "order by module").set_index("module")
    assert status["status"].to_dict() == {"customer": "partial", "marketing": "absent", "sales": "partial",
                                          "service": "absent"}
    assert set(status.loc["service", "empty_marts"]) == {"dim_service_plans", "fct_tickets"}
    assert "products" in status.loc["sales", "entities_not_delivered"]
    assert set(status["site"]) == {"retail"}
    assert set(retail.query("select currency from ops.module_status")["currency"]) == {"USD"}
    for table in ("marts.fct_tickets", "marts.dim_campaigns", "marts.fct_campaign_members", "marts.dim_products",
                  "marts.fct_opportunities", "reports.rpt_service"):
        assert _count(retail, table) == 0, table


def test_order_lines_of_an_undelivered_product_catalogue_are_not_orphans(retail: Built):
    orphans = retail.query("select \"column\", count(*) as n from ops.quarantine where reason = 'orphan_fk' "
                           "group by 1").set_index("column")["n"]
    assert set(orphans.index) <= {"customer_id", "order_id"}, orphans  # delivered parents are still checked
    assert orphans.sum() > 0
    audit = retail.query("select entity, sum(rows_in_file) as f, sum(rows_loaded) as l, sum(rows_quarantined) as q "
                         "from ops.load_audit group by 1").set_index("entity")
    assert (audit["f"] == audit["l"] + audit["q"]).all()
    assert audit.loc["sales_targets", "f"] == 0  # present but empty: loaded as empty, no gate failed
    targets = retail.query("select count(*) as n, count(target_amount) as with_target from marts.fct_sales_targets")
    assert int(targets["n"].iloc[0]) > 0 and int(targets["with_target"].iloc[0]) == 0  # actuals, no targets


def test_report_says_which_modules_the_site_lacks(retail: Built, marketing: Built):
    page = (retail.warehouse / "report" / "index.html").read_text(encoding="utf-8")
    assert "USD " in page and "CNY" not in page  # money in the site currency
    assert "no service data: this site (retail) does not deliver the service module" in page
    assert "no campaign data: this site (retail) does not deliver the marketing module" in page
    page = (marketing.warehouse / "report" / "index.html").read_text(encoding="utf-8")
    assert "no service data: this site (marketing)" in page
    assert "no campaign data" not in page


def test_marketing_site_without_service_estimates_campaign_effects(marketing: Built):
    assert _count(marketing, "marts.fct_tickets") == 0
    assert _count(marketing, "reports.rpt_campaign") > 0
    effects = marketing.query("select count(*) as n from ml.campaign_effects where is_primary")
    assert int(effects["n"].iloc[0]) > 0
    status = marketing.query("select module, status from ops.module_status").set_index("module")["status"]
    assert status.to_dict() == {"customer": "present", "sales": "present", "marketing": "present",
                                "service": "absent"}


def test_a_file_of_an_undelivered_entity_is_refused_by_name(landing, tmp_path):
    site_landing = restrict_landing(landing, tmp_path / "landing", RETAIL, {"site": "retail"})
    first = sorted(p for p in site_landing.iterdir() if p.name[0].isdigit())[0]
    shutil.copyfile(landing / first.name / "products.csv", first / "products.csv")
    manifest = json.loads((first / contract.MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["files"].append({"entity": "products", "file": "products.csv", "encoding": "utf-8"})
    (first / contract.MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    proc = run_cli("run", "--landing", str(site_landing), "--warehouse", str(tmp_path / "wh"), check=False)
    assert proc.returncode != 0
    assert "products.csv: the site configuration" in proc.stderr and "crm.yml" in proc.stderr
    assert "Traceback" not in proc.stderr


def _rewrite(day: Path, entity: str, keep, change=None) -> int:
    """Keep the records of `entity`'s file in `day` for which keep(record) is true (after change(record)),
    in the file's own encoding, and update the manifest; returns the records kept. A record is a dict of
    the header's columns; damaged records (more or fewer fields) keep their extra fields as they are."""
    import csv
    import io

    manifest = json.loads((day / contract.MANIFEST_NAME).read_text(encoding="utf-8"))
    item = next(f for f in manifest["files"] if f["entity"] == entity)
    path = day / item["file"]
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(item["encoding"]), newline="")))
    header, records = rows[0], rows[1:]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    kept = 0
    for fields in records:
        record = dict(zip(header, fields, strict=False))
        if keep(record):
            changed = change(record) if change else record
            writer.writerow([changed.get(h, "") for h in header[: len(fields)]] + fields[len(header):])
            kept += 1
    path.write_bytes(out.getvalue().encode(item["encoding"]))
    item["rows"] = kept
    item.pop("sha256", None)
    (day / contract.MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return kept


def test_every_failing_gate_is_listed_with_upstream_quarantine_counts(landing, tmp_path):
    """A night whose few orders all carry an unknown status: the raw gates tolerate it (small files), the
    order marts end up empty, and the run's error lists every order mart's has_rows gate (fct_orders,
    fct_order_items and order_passthrough, one row per fct_orders order) with the quarantine counts of their
    upstream entities (where the rows vanished)."""
    site_landing = restrict_landing(landing, tmp_path / "landing", ["customers", "orders", "order_items"])
    days = sorted(p for p in site_landing.iterdir() if p.name[0].isdigit())
    for later in days[1:]:
        shutil.rmtree(later)
    day = days[0]
    chosen: set[str] = set()

    def first_twenty_lines(record: dict) -> bool:  # the lines of the first few orders, 20 lines at most
        if len(chosen) < 8 or record["order_id"] in chosen:
            chosen.add(record["order_id"])
            return True
        return False

    kept = _rewrite(day, "order_items", first_twenty_lines)
    assert kept <= 25
    orders = _rewrite(day, "orders", lambda r: r["order_id"] in chosen, lambda r: {**r, "status": "shipped"})
    assert 0 < orders <= 8
    proc = run_cli("run", "--landing", str(site_landing), "--warehouse", str(tmp_path / "wh"), check=False)
    assert proc.returncode != 0
    err = proc.stderr
    print(err)
    assert "3 mart quality gates failed" in err, err
    assert "quality gate marts/order_passthrough: marts.order_passthrough is empty; upstream:" in err
    assert "quality gate marts/fct_orders: marts.fct_orders is empty; upstream:" in err
    assert "quality gate marts/fct_order_items: marts.fct_order_items is empty; upstream:" in err
    assert f"raw.orders: {orders} rows in files, 0 loaded, {orders} quarantined (unknown_code {orders})" in err
    assert "orphan_fk" in err  # the lines of the refused orders
    assert "Traceback" not in err
