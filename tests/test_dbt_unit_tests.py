"""dbt unit tests (`unit_tests:` in the models' yml): metric logic on hand-built rows with known answers (first
reply and resolution minutes, SLA breach, win rate, days to close, attainment, ROI, conversion window, churn,
identity resolution, ...). They test SQL logic, not data, so the nightly build leaves them out
(`--exclude-resource-type unit_test`, as dbt advises for production); they run here, all of them, against a
copy of the session warehouse's work file (dbt reads the column types of each model's inputs from it)."""

from __future__ import annotations

import json

from tests.conftest import Built, copy_built
from tests.test_dbt_staging import DBT_DIR, _invoke_dbt


def test_every_dbt_unit_test_passes(built: Built, tmp_path, monkeypatch):
    copy = copy_built(built, tmp_path)
    monkeypatch.setenv("RAW_ROOT", str(copy.warehouse / "raw"))
    monkeypatch.setenv("CRM_WORK_DB", str(copy.warehouse / "work" / "crm_work.duckdb"))
    result = _invoke_dbt(["test", "--select", "test_type:unit"], tmp_path)
    declared = set(json.loads((DBT_DIR / "target" / "manifest.json").read_text())["unit_tests"])
    outcomes = {r.node.unique_id: str(r.status) for r in result.result.results}
    assert len(declared) >= 15
    assert set(outcomes) == declared
    assert result.success, {uid: status for uid, status in outcomes.items() if status != "pass"}


def test_the_nightly_build_leaves_unit_tests_out(built: Built):
    results = json.loads((built.warehouse / "work" / "dbt_target" / "run_results.json").read_text())
    ran = [r["unique_id"] for r in results["results"]]
    assert ran, "the last nightly dbt step ran nodes"
    assert not [uid for uid in ran if uid.startswith("unit_test.")]
    assert "unit_test" in results["args"]["exclude_resource_types"]
