"""Operations: the nightly schedule, the full-refresh job, the new-extract sensor, the stale-extract check
and the instance template (run queue limit for warehouse writers)."""

from __future__ import annotations

import importlib
import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.errors import CrmWarehouseError
from orchestration.jobs import WAREHOUSE_RUN_TAGS
from orchestration.serving import run_history

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ops_env(tmp_path, monkeypatch):
    """A private landing and warehouse folder, named through the environment as in production."""
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    landing.mkdir()
    monkeypatch.setenv("CRM_LANDING_DIR", str(landing))
    monkeypatch.setenv("CRM_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("RAW_ROOT", str(warehouse / "raw"))
    monkeypatch.setenv("CRM_WORK_DB", str(warehouse / "work" / "crm_work.duckdb"))
    for var in ("CRM_AS_OF", "CRM_ALERT_WEBHOOK_URL", "CRM_STALE_AFTER_DAYS"):
        monkeypatch.delenv(var, raising=False)
    return landing, warehouse


def _extract_folder(landing: Path, day: str, complete: bool) -> Path:
    folder = landing / day
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id\n")
    if complete:
        (folder / "_manifest.json").write_text(json.dumps({"extract_date": day, "files": []}))
    return folder


# --- Definitions --------------------------------------------------------------------------------------

def test_definitions_have_nightly_schedule_sensors_and_jobs():
    schedule = defs.resolve_schedule_def("nightly_warehouse_refresh")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == "warehouse_refresh"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("stale_extract_check").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("new_extract_sensor").job_name == "warehouse_refresh"
    assert defs.resolve_sensor_def("warehouse_run_failure_alert") is not None
    for name in ("warehouse_refresh", "warehouse_full_refresh"):
        job = defs.resolve_job_def(name)
        assert job.tags.items() >= WAREHOUSE_RUN_TAGS.items()  # the tag dagster.yaml limits to 1 run
    full = defs.resolve_job_def("warehouse_full_refresh")
    assert full.run_config == {"ops": {"crm_dbt_models": {"config": {"full_refresh": True}}}}


def test_schedule_cron_and_timezone_come_from_the_environment(monkeypatch):
    import orchestration.schedules as schedules

    try:
        monkeypatch.setenv("CRM_NIGHTLY_CRON", "30 3 * * 1-5")
        monkeypatch.setenv("CRM_TIMEZONE", "Europe/Berlin")
        mod = importlib.reload(schedules)
        assert mod.nightly_refresh_schedule.cron_schedule == "30 3 * * 1-5"
        assert mod.nightly_refresh_schedule.execution_timezone == "Europe/Berlin"
        monkeypatch.setenv("CRM_NIGHTLY_CRON", "at two")
        with pytest.raises(CrmWarehouseError, match="CRM_NIGHTLY_CRON"):
            importlib.reload(schedules)
        monkeypatch.setenv("CRM_NIGHTLY_CRON", "0 2 * * *")
        monkeypatch.setenv("CRM_TIMEZONE", "Mars/Olympus")
        with pytest.raises(CrmWarehouseError, match="CRM_TIMEZONE"):
            importlib.reload(schedules)
    finally:
        monkeypatch.delenv("CRM_NIGHTLY_CRON")
        monkeypatch.delenv("CRM_TIMEZONE")
        importlib.reload(schedules)


def test_dagster_yaml_limits_warehouse_writers_to_one_run(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "orchestration" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert instance.run_monitoring_enabled
    [(key, _)] = WAREHOUSE_RUN_TAGS.items()
    assert {"key": key, "limit": 1} in [dict(limit) for limit in limits]


# --- new-extract sensor -------------------------------------------------------------------------------

def test_sensor_incomplete_folder_no_run_complete_one_run_never_twice(ops_env):
    from orchestration.sensors import new_extract_sensor

    landing, _ = ops_env
    folder = _extract_folder(landing, "2025-06-24", complete=False)
    ctx = dg.build_sensor_context(cursor=None)
    assert isinstance(new_extract_sensor(ctx), dg.SkipReason)  # still being delivered

    (folder / "_manifest.json").write_text(json.dumps({"extract_date": "2025-06-24", "files": []}))
    ctx = dg.build_sensor_context(cursor=ctx.cursor)
    request = new_extract_sensor(ctx)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "2025-06-24"
    assert request.tags["crm-warehouse/extract_date"] == "2025-06-24"
    assert request.tags.items() >= WAREHOUSE_RUN_TAGS.items()
    assert ctx.cursor == "2025-06-24"

    again = new_extract_sensor(dg.build_sensor_context(cursor=ctx.cursor))
    assert isinstance(again, dg.SkipReason)  # same folder: never a second run


def test_sensor_requests_one_run_for_several_new_folders_and_skips_loaded_ones(ops_env):
    from orchestration.sensors import new_extract_sensor

    landing, warehouse = ops_env
    for day in ("2025-06-24", "2025-06-25"):
        _extract_folder(landing, day, complete=True)
    _extract_folder(landing, "2025-06-26", complete=False)
    ctx = dg.build_sensor_context(cursor="2025-06-23")
    request = new_extract_sensor(ctx)
    assert isinstance(request, dg.RunRequest) and request.run_key == "2025-06-25"

    # a folder the CLI already loaded into the raw zone starts no run, and moves the cursor on
    _extract_folder(landing, "2025-06-27", complete=True)
    (warehouse / "raw" / "_meta" / "audit" / "_batch=2025-06-27").mkdir(parents=True)
    ctx = dg.build_sensor_context(cursor=ctx.cursor)
    assert isinstance(new_extract_sensor(ctx), dg.SkipReason)
    assert ctx.cursor == "2025-06-27"


def test_sensor_skips_when_landing_is_missing(ops_env, monkeypatch, tmp_path):
    from orchestration.sensors import new_extract_sensor

    monkeypatch.setenv("CRM_LANDING_DIR", str(tmp_path / "nowhere"))
    result = new_extract_sensor(dg.build_sensor_context())
    assert isinstance(result, dg.SkipReason) and "does not exist" in result.skip_message


# --- stale-extract check ------------------------------------------------------------------------------

def _tick(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_stale_extract_check_alerts_once_per_tick(ops_env):
    from orchestration.schedules import stale_extract_check

    landing, warehouse = ops_env
    _extract_folder(landing, "2025-06-25", complete=True)
    _extract_folder(landing, "2025-06-28", complete=False)  # incomplete folders do not count
    history = warehouse / "ops" / "run_history"

    fresh = stale_extract_check(dg.build_schedule_context(scheduled_execution_time=_tick(date(2025, 6, 26))))
    assert isinstance(fresh, dg.SkipReason) and "fresh" in fresh.skip_message
    assert run_history.read_all(history) == []

    ctx = dg.build_schedule_context(scheduled_execution_time=_tick(date(2025, 6, 28)))
    stale = stale_extract_check(ctx)
    assert isinstance(stale, dg.SkipReason) and "STALE" in stale.skip_message
    stale_extract_check(dg.build_schedule_context(scheduled_execution_time=_tick(date(2025, 6, 28))))
    [record] = run_history.read_all(history)
    assert record["kind"] == "stale_extract" and record["record_id"] == "stale-2025-06-28"
    assert "2025-06-25" in record["reason"] and "3 days" in record["reason"]
