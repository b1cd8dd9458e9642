"""The ML families fail and re-run alone (issue 15): on a copy of the scale-0.01 session build, a broken input
of the campaign effects (marts.dim_campaigns without treatment_members) fails `ml_campaign_effects` while the
segments and the uplift are still written; ml/model_runs (after all three) is skipped and the campaign
effects keep the previous run's rows. Repaired, the failed family is re-run alone and every ml table equals
what the nightly run wrote (same input, same tables)."""

import os
from contextlib import contextmanager
from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_dbt import get_asset_key_for_model

from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.errors import CrmWarehouseError
from orchestration.ml_assets import inputs
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
    assert started == {"ml_segments", "ml_campaign_effects", "ml_uplift", "ml_churn_risk",
                       "ml_customer_lifetime_value"}, "ml_model_runs waits for every family"
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



def test_ml_inputs_are_dbt_models_kept_in_the_work_file(built: Built):
    """The ML input frames are the dbt models of schema ml_inputs, with the columns the readers select, built
    for the run's as_of with the default (full-history) RFM window; they are not published. A family re-run
    for another as_of, or after crm.yml changed the RFM window, fails and names what to rebuild."""
    as_of = date.fromisoformat(max(p.name for p in built.landing.iterdir() if (p / "_manifest.json").is_file()))
    with duckdb.connect(str(built.warehouse / "work" / "crm_work.duckdb"), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, list(column_name ORDER BY ordinal_position) FROM information_schema.columns "
            "WHERE table_schema = 'ml_inputs' GROUP BY table_name"
        ).fetchall()
        assert dict(columns)["ml_campaign_units"] == list(inputs.UNIT_COLUMNS)
        assert dict(columns)["ml_segment_features"] == list(inputs.SEGMENT_COLUMNS)
        assert con.execute("SELECT as_of_date, rfm_window_days FROM ml_inputs.ml_input_settings").fetchall() == [
            (as_of, None)]
        units = inputs.campaign_units(con, as_of)
        assert len(units) > 0 and not units.duplicated(["campaign_id", "customer_id"]).any()
        with pytest.raises(CrmWarehouseError, match=rf"built for as_of {as_of}, this run is for {as_of + timedelta(1)}"):
            inputs.campaign_units(con, as_of + timedelta(1))
        with pytest.raises(CrmWarehouseError, match="RFM window of the full history, crm.yml ml.rfm_window_days says "
                                                    "30 days: rebuild the dbt models"):
            inputs.segment_features(con, as_of, 30)
    with duckdb.connect(str(built.published), read_only=True) as con:
        schemas = {s for (s,) in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()}
    assert "ml" in schemas and "ml_inputs" not in schemas, schemas


def test_rfm_window_of_crm_yml_reaches_the_dbt_input_model(built: Built, tmp_path):
    """crm.yml `ml.rfm_window_days` reaches the dbt model ml_segment_features (the dbt asset exports it):
    rebuilding the ML inputs and the segments with a 30-day window gives the RFM of the orders of those 30
    days only, the other features unchanged."""
    copy = copy_built(built, tmp_path)
    (copy.landing / "crm.yml").write_text("ml:\n  rfm_window_days: 30\n", encoding="utf-8")
    work = copy.warehouse / "work" / "crm_work.duckdb"
    with duckdb.connect(str(work), read_only=True) as con:
        before = con.execute("SELECT * FROM ml_inputs.ml_segment_features ORDER BY customer_id").df()
    from orchestration.assets.dbt import crm_dbt_models, dbt_resource

    resource = WarehouseResource(landing_dir=str(copy.landing), warehouse_dir=str(copy.warehouse),
                                 lock_wait_seconds=0, record_run_outcome=False)
    selection = [*(get_asset_key_for_model([crm_dbt_models], name) for name in inputs.FAMILY_INPUTS["segments"]),
                 *(ML_KEYS[name] for name in FAMILIES["segments"])]
    with _environment_restored():
        result = dg.materialize([crm_dbt_models, *ML_ASSETS], selection=selection,
                                resources={"warehouse": resource, "hooks": RunHooks(), "dbt": dbt_resource()})
    assert result.success
    with duckdb.connect(str(work), read_only=True) as con:
        after = con.execute("SELECT * FROM ml_inputs.ml_segment_features ORDER BY customer_id").df()
        window = con.execute("SELECT rfm_window_days FROM ml_inputs.ml_input_settings").fetchall()
        expected = con.execute(
            """SELECT m.master_customer_id AS customer_id, count(o.order_id) AS frequency
               FROM marts.dim_customers m LEFT JOIN marts.fct_orders o
                 ON o.master_customer_id = m.master_customer_id AND o.is_completed
                AND o.order_date >= (SELECT as_of_date FROM ml_inputs.ml_input_settings) + INTERVAL 1 DAY - INTERVAL 30 DAY
                AND o.order_date < (SELECT as_of_date FROM ml_inputs.ml_input_settings) + INTERVAL 1 DAY
               GROUP BY ALL ORDER BY customer_id"""
        ).df()
        segments = con.execute("SELECT count(*) FROM ml.customer_segments").fetchall()[0][0]
    assert window == [(30,)]
    assert after["frequency"].tolist() == expected["frequency"].tolist()
    assert (after["frequency"] <= before["frequency"]).all() and after["frequency"].sum() < before["frequency"].sum()
    assert after["recency_days"].isna().sum() > before["recency_days"].isna().sum()
    pd.testing.assert_frame_equal(after[inputs.SEGMENT_FEATURES], before[inputs.SEGMENT_FEATURES], check_exact=True)
    assert segments == len(after)
