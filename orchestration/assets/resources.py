"""Dagster resources: where the warehouse lives (from settings) and the one-writer lock."""


import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import dagster as dg

from orchestration.errors import CrmWarehouseError
from orchestration.lock import warehouse_lock
from orchestration.settings import Settings, load_ops_settings, load_settings

_fallback_log = logging.getLogger("crm_warehouse.lock")


class RunHooks(dg.ConfigurableResource):
    """Observer of a run's stage boundaries: `reached(point)` is called when a run enters `ingest`, `dbt`
    and `ml`, and at `publish` once the new serving file and Parquet folder are written and nothing is
    switched yet. It does nothing here; whoever starts a run (`orchestration.runner.run_warehouse(...,
    hooks=...)`, or a Dagster resource override) may pass a subclass, e.g. to time stages, or the crash
    tests' pausing hook (tests/crash_run.py) that holds the run at a point to `kill -9` it there."""

    def reached(self, point: str) -> None:
        return None


class WarehouseResource(dg.ConfigurableResource):
    """Paths of one warehouse (landing, raw zone, work file, serving file), from CRM_* environment
    variables unless given. Holds the warehouse write lock for the whole run.

    Runs launched by Dagster (UI, schedule, sensor) already queue behind each other through the run
    queue (dagster.yaml limits the `crm-warehouse/writer` tag to one run); the lock covers what the
    queue cannot see: `crm-warehouse run` (in-process). A Dagster-launched run that finds the lock taken
    WAITS for it, logging who holds it every `lock_log_every_seconds`, up to `lock_wait_seconds`
    (default CRM_LOCK_WAIT_SECONDS, 3600), then fails naming the holder; `lock_wait_seconds: 0` fails at
    once. The CLI takes the lock itself before the run starts and fails fast; the run then re-enters it.

    When the run's resources are torn down, the run's outcome goes to the run history, and a failed step
    sends the on-call alert (see orchestration/alerts.py; exactly one per run)."""

    landing_dir: str | None = None
    warehouse_dir: str | None = None
    lock_wait_seconds: int | None = None  # None: CRM_LOCK_WAIT_SECONDS (default 3600); 0: fail at once
    lock_log_every_seconds: int = 30
    record_run_outcome: bool = True  # run history row + alert on failure at the end of the run

    def settings(self) -> Settings:
        return load_settings(self.landing_dir, self.warehouse_dir)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseResource"]:
        settings = self.settings()
        settings.export_env()
        settings.work_db.parent.mkdir(parents=True, exist_ok=True)
        purpose = f"dagster run {context.run.run_id if context.run else ''}".strip()
        with ExitStack() as stack:
            self._acquire(stack, settings, purpose, context.log or _fallback_log)
            try:
                yield self
            finally:
                if self.record_run_outcome:
                    _record_outcome(context, settings)

    def _acquire(self, stack: ExitStack, settings: Settings, purpose: str, log) -> None:
        """Take the lock; if it is busy, wait (with a log line naming the holder) up to the timeout."""
        wait = self.lock_wait_seconds if self.lock_wait_seconds is not None else load_ops_settings().lock_wait_seconds
        start = time.monotonic()
        next_log = start
        while True:
            try:
                stack.enter_context(warehouse_lock(settings.lock_file, purpose))
            except CrmWarehouseError as exc:
                waited = time.monotonic() - start
                if waited >= wait:
                    if wait:
                        raise CrmWarehouseError(
                            f"{exc}; gave up after waiting {waited:.0f} s (CRM_LOCK_WAIT_SECONDS={wait})"
                        ) from None
                    raise
                if time.monotonic() >= next_log:
                    log.warning(
                        f"waiting for the warehouse lock ({waited:.0f} s of {wait} s): {exc}"
                    )
                    next_log = time.monotonic() + max(1, self.lock_log_every_seconds)
                time.sleep(min(2.0, max(0.05, wait - waited)))
                continue
            waited = time.monotonic() - start
            if waited >= 1:
                log.info(f"got the warehouse lock after waiting {waited:.0f} s")
            return


def _record_outcome(context: dg.InitResourceContext, settings: Settings) -> None:
    """Run history row for this run; the on-call alert if a step failed. Never fails the run."""
    from orchestration import alerts

    run = context.run
    instance = context.instance
    log = context.log or _fallback_log
    if run is None or instance is None:
        return
    try:
        failed = instance.get_records_for_run(
            run_id=run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1
        ).records
        if failed:
            alert = alerts.run_failure_alert(instance, run.run_id, run.job_name, own_process=True)
            alerts.send(alert, settings, load_ops_settings(), logger=log)
        else:
            alerts.record_run_success(settings, run.run_id, run.job_name, own_process=True)
    except Exception as exc:  # alerting must never turn a good run bad or hide the real error
        log.warning(f"could not record the run outcome in {settings.run_history_dir}: {exc}")
