"""The Dagster definitions as the UI sees them, and the ingest assets through `dagster.materialize`."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration import contract
from orchestration.assets.ingest import ops_load_tables, raw_extracts
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.definitions import defs


def test_definitions_group_assets_by_stage():
    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key)
    assert {dg.AssetKey(["raw", e.name]) for e in contract.ENTITIES} <= groups["ingest"]
    assert dg.AssetKey(["ops", "quarantine"]) in groups["ingest"]
    assert {dg.AssetKey(["staging", f"stg_crm__{e.name}"]) for e in contract.ENTITIES} <= groups["staging"]
    assert groups["publish"] == {dg.AssetKey(["serving", "crm_duckdb"])}
    # raw assets feed the dbt staging models (dbt sources map to them)
    parents = graph.get(dg.AssetKey(["staging", "stg_crm__orders"])).parent_keys
    assert dg.AssetKey(["raw", "orders"]) in parents
    assert defs.resolve_job_def("warehouse_refresh") is not None


def test_dbt_tests_are_asset_checks():
    checks = defs.resolve_asset_graph().asset_check_keys
    assert any(c.asset_key == dg.AssetKey(["staging", "stg_crm__customers"]) for c in checks)


def test_materialize_ingest_assets_reconciles(landing, tmp_path):
    warehouse = tmp_path / "wh"
    resource = WarehouseResource(landing_dir=str(landing), warehouse_dir=str(warehouse))
    result = dg.materialize([raw_extracts, ops_load_tables], resources={"warehouse": resource, "hooks": RunHooks()})
    assert result.success
    mats = result.asset_materializations_for_node("raw_extracts")
    customers = next(m for m in mats if m.asset_key == dg.AssetKey(["raw", "customers"]))
    assert customers.metadata["rows_accepted"].value > 0
    with duckdb.connect(str(warehouse / "work" / "crm_work.duckdb"), read_only=True) as con:
        bad = con.execute(
            "SELECT count(*) FROM ops.load_audit WHERE rows_in_file <> rows_loaded + rows_quarantined"
        ).fetchall()[0][0]
        files = con.execute("SELECT count(*) FROM ops.load_audit").fetchall()[0][0]
    assert bad == 0 and files == len(list(landing.glob("20*/*.csv*")))
    # materializing again loads nothing new and changes no count
    again = dg.materialize([raw_extracts, ops_load_tables], resources={"warehouse": resource, "hooks": RunHooks()})
    mats = again.asset_materializations_for_node("raw_extracts")
    assert all(m.metadata["files_loaded"].value == 0 for m in mats)


def test_contract_doc_is_in_sync_with_the_code():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "extract_contract.md").read_text(encoding="utf-8")
    assert contract.markdown_tables().strip() in doc, "regenerate: python -m orchestration.contract"
