"""`crm-warehouse docs`: dbt docs as one static page built from the work file of (a copy of) the session
warehouse."""

from __future__ import annotations

from tests.conftest import Built, copy_built, run_cli


def test_docs_command_writes_a_static_page_with_every_mart(built: Built, tmp_path):
    copy = copy_built(built, tmp_path)  # the command writes into the warehouse folder
    proc = run_cli("docs", "--warehouse", str(copy.warehouse))
    page = copy.warehouse / "dbt_docs" / "index.html"
    assert str(page) in proc.stderr
    html = page.read_text(encoding="utf-8")
    for model in ("dim_customers", "fct_orders", "fct_campaign_members", "fct_tickets", "rpt_sales"):
        assert f"model.crm_warehouse.{model}" in html, model
    assert "catalog" in html  # the column catalog (types, row counts) is embedded, not fetched
    assert not list((copy.warehouse / "work" / "tmp").glob("dbt_docs_target"))  # scratch cleaned up
