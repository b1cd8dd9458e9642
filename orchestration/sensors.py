"""Sensors: start a run when a new complete extract lands; alert on-call when a run fails.

Neither sensor uses the WarehouseResource (it takes the write lock); they read the same settings from
the CRM_* environment variables.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from orchestration import alerts
from orchestration.jobs import WAREHOUSE_RUN_TAGS, warehouse_job
from orchestration.raw import landing
from orchestration.raw.zone import RawZone
from orchestration.settings import load_ops_settings, load_settings


@dg.sensor(
    name="new_extract_sensor",
    job=warehouse_job,
    minimum_interval_seconds=60,
    description="Starts warehouse_refresh when a new complete extract folder (<date>/ with _manifest.json) "
    "lands under CRM_LANDING_DIR; one run per folder (run_key = the folder date, cursor = newest seen).",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_extract_sensor(context: dg.SensorEvaluationContext):
    """A folder without `_manifest.json` is still being delivered: no run. A complete folder newer than the
    cursor that is not already in the raw zone: one RunRequest (the run loads every complete, not yet
    loaded folder, so several folders landing together need one run, keyed by the newest). Older folders
    delivered late are not picked up here: replace a day with `crm-warehouse reload --date`."""
    settings = load_settings()
    if not settings.landing_dir.is_dir():
        return dg.SkipReason(f"landing folder {settings.landing_dir} does not exist (CRM_LANDING_DIR)")
    cursor = date.fromisoformat(context.cursor) if context.cursor else None
    complete = landing.complete_extract_dates(settings.landing_dir)
    loaded = RawZone(settings.raw_root).audited_dates()
    new = [d for d in complete if (cursor is None or d > cursor) and d not in loaded]
    if not new:
        if complete and (cursor is None or complete[-1] > cursor):
            context.update_cursor(complete[-1].isoformat())  # already loaded (e.g. by the CLI)
        return dg.SkipReason(
            f"no new complete extract in {settings.landing_dir} (newest complete: "
            f"{complete[-1] if complete else 'none'}; cursor: {context.cursor or 'none'})"
        )
    newest = new[-1]
    context.update_cursor(newest.isoformat())
    context.log.info(f"new complete extract(s) {', '.join(d.isoformat() for d in new)}: requesting a run")
    return dg.RunRequest(
        run_key=newest.isoformat(),
        tags={
            **WAREHOUSE_RUN_TAGS,
            "crm-warehouse/trigger": "new_extract",
            "crm-warehouse/extract_date": newest.isoformat(),
        },
    )


@dg.run_failure_sensor(
    name="warehouse_run_failure_alert",
    description="One alert per failed run (failed asset, reason, log location) to the log, ops.run_history and "
    "CRM_ALERT_WEBHOOK_URL; silent when the run already alerted itself.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def warehouse_run_failure_alert(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    alert = alerts.run_failure_alert(context.instance, run.run_id, run.job_name, context.failure_event)
    alerts.send(alert, load_settings(), load_ops_settings(), logger=context.log)


SENSORS = [new_extract_sensor, warehouse_run_failure_alert]
