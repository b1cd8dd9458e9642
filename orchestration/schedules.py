"""When warehouse runs start: the nightly incremental refresh, the stale-extract check at the same tick,
and the on-demand full refresh job.

Cron and timezone come from CRM_NIGHTLY_CRON (default `0 2 * * *`) and CRM_TIMEZONE (default
`Asia/Shanghai`). Both schedules are on by default when the Dagster daemon runs (`make ui`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from orchestration import alerts
from orchestration.errors import CrmWarehouseError
from orchestration.jobs import WAREHOUSE_RUN_TAGS, warehouse_job
from orchestration.raw import landing
from orchestration.settings import load_ops_settings, load_settings

OPS = load_ops_settings()
try:
    ZoneInfo(OPS.timezone)
except (ZoneInfoNotFoundError, ValueError):
    raise CrmWarehouseError(f"CRM_TIMEZONE={OPS.timezone!r}: not a known IANA timezone (e.g. Asia/Shanghai, UTC)") from None


def _check_cron(cron: str) -> str:
    from dagster._utils.schedules import is_valid_cron_schedule  # the check ScheduleDefinition applies

    if not is_valid_cron_schedule(cron):
        raise CrmWarehouseError(f"CRM_NIGHTLY_CRON={cron!r}: not a valid cron expression (e.g. '0 2 * * *')")
    return cron


NIGHTLY_CRON = _check_cron(OPS.nightly_cron)

# Full refresh on demand: the same asset graph with dbt --full-refresh preset (launch it from the UI's
# Jobs page; `crm-warehouse run --full-refresh` is the command-line equivalent).
warehouse_full_refresh_job = dg.define_asset_job(
    "warehouse_full_refresh",
    selection=dg.AssetSelection.all(),
    description="Like warehouse_refresh, but rebuilds incremental dbt models from scratch (dbt --full-refresh).",
    config={"ops": {"crm_dbt_models": {"config": {"full_refresh": True}}}},
    tags=WAREHOUSE_RUN_TAGS,
    executor_def=dg.in_process_executor,
)

nightly_refresh_schedule = dg.ScheduleDefinition(
    name="nightly_warehouse_refresh",
    job=warehouse_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=OPS.timezone,
    description="Nightly incremental refresh: load new extracts, dbt build, publish (CRM_NIGHTLY_CRON, CRM_TIMEZONE).",
    tags={**WAREHOUSE_RUN_TAGS, "crm-warehouse/trigger": "nightly"},
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def tick_date(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time or datetime.now(ZoneInfo(OPS.timezone))
    return when.astimezone(ZoneInfo(OPS.timezone)).date()


@dg.schedule(
    name="stale_extract_check",
    job=warehouse_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=OPS.timezone,
    description="At the nightly tick, alert when the newest complete extract is more than CRM_STALE_AFTER_DAYS "
    "days older than the tick's date (never starts a run; the verdict is in the tick log).",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def stale_extract_check(context: dg.ScheduleEvaluationContext):
    settings = load_settings()
    ops = load_ops_settings()
    dates = landing.complete_extract_dates(settings.landing_dir)
    newest = dates[-1] if dates else None
    tick = tick_date(context)
    alert = alerts.stale_extract_alert(newest, tick, ops.stale_after_days, settings.landing_dir)
    if alert is None:
        return dg.SkipReason(f"extracts are fresh: newest complete extract {newest} for tick {tick}")
    alerts.send(alert, settings, ops, logger=context.log)
    return dg.SkipReason(f"STALE: {alert.reason} (alert sent once per tick)")


SCHEDULES = [nightly_refresh_schedule, stale_extract_check]
JOBS = [warehouse_full_refresh_job]
