"""The ML families fail and re-run alone (issue 15): on a copy of the scale-0.01 session build, a broken input
of the campaign effects (marts.dim_campaigns without treatment_members) fails `ml_campaign_effects` while the
segments and the uplift are still written; ml/model_runs (after all three) is skipped and the campaign
effects keep the previous run's rows. Repaired, the failed family is re-run alone and every ml table equals
what the nightly run wrote (same input, same tables)."""

import os
from contextlib import contextmanager

import dagster as dg
import duckdb
import pandas as pd

from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.ml_assets.assets import ML_ASSETS, ML_KEYS, ml_campaign_effects, ml_model_runs
from orchestration.ml_assets.tables import FAMILIES, ML_TABLES
from tests.conftest import Built, copy_built


@contextmanager
def _environment_restored():
    """The warehouse resource exports CRM_* settings into os.environ; keep the session's environment."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _materialize(built: Built, selection=None) -> dg.ExecuteInProcessResult:
    resource = WarehouseResource(landing_dir=str(built.landing), warehouse_dir=str(built.warehouse),
                                 lock_wait_seconds=0, record_run_outcome=False)
    with _environment_restored():
        return dg.materialize(ML_ASSETS, selection=selection, raise_on_error=False,
                              resources={"warehouse": resource, "hooks": RunHooks()})


def _tables(built: Built) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(built.warehouse / "work" / "crm_work.duckdb"), read_only=True) as con:
        return {name: con.execute(f"SELECT * FROM ml.{name}").df() for name in ML_TABLES}


def _rename_treatment_members(built: Built, old: str, new: str) -> None:
    with duckdb.connect(str(built.warehouse / "work" / "crm_work.duckdb")) as con:
        con.execute(f"ALTER TABLE marts.dim_campaigns RENAME COLUMN {old} TO {new}")


def _materialized(result: dg.ExecuteInProcessResult, node: str) -> set[dg.AssetKey]:
    return {m.asset_key for m in result.asset_materializations_for_node(node)}


def test_a_failed_family_does_not_block_the_others_and_reruns_alone(built: Built, tmp_path):
    copy = copy_built(built, tmp_path)
    nightly = _tables(copy)  # what the last nightly run wrote
    with duckdb.connect(str(copy.warehouse / "work" / "crm_work.duckdb")) as con:
        for name in (*FAMILIES["segments"], *FAMILIES["uplift"]):
            con.execute(f"DROP TABLE ml.{name}")  # gone: only this run can bring them back
    _rename_treatment_members(copy, "treatment_members", "treatment_members_broken")

    broken = _materialize(copy)
    assert not broken.success
    failed = [e for e in broken.all_events if e.is_step_failure]
    assert [e.step_key for e in failed] == ["ml_campaign_effects"]
    assert "treatment_members" in failed[0].step_failure_data.error.to_string()
    assert _materialized(broken, "ml_segments") == {ML_KEYS[n] for n in FAMILIES["segments"]}
    assert _materialized(broken, "ml_uplift") == {ML_KEYS[n] for n in FAMILIES["uplift"]}
    started = {e.step_key for e in broken.all_events if e.is_step_start}
    assert started == {"ml_segments", "ml_campaign_effects", "ml_uplift"}, "ml_model_runs waits for all three"
    after = _tables(copy)
    for name in ML_TABLES:  # segments and uplift rewritten, identical; effects and runs untouched
        assert len(after[name]) > 0, name
        pd.testing.assert_frame_equal(after[name], nightly[name], check_exact=True, obj=f"ml.{name}")

    _rename_treatment_members(copy, "treatment_members_broken", "treatment_members")
    with duckdb.connect(str(copy.warehouse / "work" / "crm_work.duckdb")) as con:
        con.execute("DROP TABLE ml.campaign_effects")
    alone = _materialize(copy, selection=[ml_campaign_effects, ml_model_runs])
    assert alone.success
    steps = {e.step_key for e in alone.all_events if e.is_step_success}
    assert steps == {"ml_campaign_effects", "ml_model_runs"}, "the other families are not re-run"
    again = _tables(copy)
    for name in ML_TABLES:
        pd.testing.assert_frame_equal(again[name], nightly[name], check_exact=True, obj=f"ml.{name}")

