"""`crm-warehouse docs`: dbt docs as one static page built from the session warehouse's work file."""

from __future__ import annotations

from tests.conftest import Built, run_cli


def test_docs_command_writes_a_static_page_with_every_mart(built: Built):
    proc = run_cli("docs", "--warehouse", str(built.warehouse))
    page = built.warehouse / "dbt_docs" / "index.html"
    assert str(page) in proc.stderr
    html = page.read_text(encoding="utf-8")
    for model in ("dim_customers", "fct_orders", "fct_campaign_members", "fct_tickets", "rpt_sales"):
        assert f"model.crm_warehouse.{model}" in html, model
    assert "catalog" in html  # the column catalog (types, row counts) is embedded, not fetched
    assert not list((built.warehouse / "work" / "tmp").glob("dbt_docs_target"))  # scratch cleaned up
