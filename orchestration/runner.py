"""Run the whole warehouse refresh in-process (the CLI's `run`, `reload` and `demo` use this).

`execute_in_process` bypasses Dagster's run queue, so the run first takes the warehouse file lock: a
second writer fails at once with a message naming the running one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import dagster as dg

from orchestration.assets.resources import RunHooks
from orchestration.errors import CrmWarehouseError
from orchestration.lock import warehouse_lock
from orchestration.raw import nights
from orchestration.settings import Settings, require_pii_key


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    log_file: Path
    warnings: tuple[str, ...] = ()  # what the on-call person should see on the console (schema drift)


def _schema_warnings(result: dg.ExecuteInProcessResult) -> tuple[str, ...]:
    """The ingest step's schema warnings (extra columns kept, optional columns missing), one per file."""
    from orchestration.assets.ingest import SCHEMA_WARNINGS

    lines: list[str] = []
    for event in result.asset_materializations_for_node("raw_extracts"):
        value = event.metadata.get(SCHEMA_WARNINGS)
        lines.extend(value.value if value is not None else [])
    return tuple(lines)


@contextmanager
def output_to(log_file: Path) -> Iterator[None]:
    """Send everything the run prints (Dagster events, dbt output) to `log_file` instead of the terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_file, "ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _step_failure_line(event: dg.DagsterEvent) -> str:
    """One line for a failed step: a user error's own message, else step + root error."""
    error = event.step_failure_data.error
    chain = error
    while chain is not None:
        if chain.cls_name == "CrmWarehouseError":
            return chain.message.split(": ", 1)[-1].strip() if chain.message.startswith(
                "orchestration.errors.CrmWarehouseError") else chain.message.strip()
        chain = chain.cause
    root = error
    while root.cause is not None:
        root = root.cause
    return f"step {event.step_key} failed: {root.message.strip().splitlines()[0]}"


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """Every failed step of the run (each failing quality gate is a step), one line each; the first
    failure comes first, so a single failure reads as one line."""
    lines = [_step_failure_line(e) for e in result.all_events if e.is_step_failure]
    if not lines:
        return "the run failed (see the Dagster logs)"
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} steps failed:\n" + "\n".join(f"  - {line}" for line in lines)


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs show up in the UI), else an ephemeral one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_warehouse(
    settings: Settings,
    full_refresh: bool = False,
    reload_dates: tuple[date, ...] = (),
    purpose: str = "crm-warehouse run",
    log_file: Path | None = None,
    hooks: RunHooks | None = None,
) -> RunOutcome:
    """Load new extracts, build dbt, publish; raise CrmWarehouseError with one clear line on failure.

    With `log_file`, the run's own output goes there (the CLI shows a one-line result instead). `hooks`:
    a RunHooks subclass told when the run reaches each stage (default: the no-op one of the definitions).
    """
    require_pii_key()
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(settings.lock_file, purpose):
        if log_file is None:
            return _execute(settings, full_refresh, reload_dates, None, hooks)
        with output_to(log_file):
            return _execute(settings, full_refresh, reload_dates, log_file, hooks)


def default_log_file(settings: Settings) -> Path:
    return settings.warehouse_dir / "logs" / f"run-{datetime.now():%Y%m%dT%H%M%S}.log"


def _execute(
    settings: Settings,
    full_refresh: bool,
    reload_dates: tuple[date, ...],
    log_file: Path | None,
    hooks: RunHooks | None = None,
) -> RunOutcome:
    settings.export_env()
    from orchestration.definitions import defs  # imported after the environment is set

    job = defs.resolve_job_def("warehouse_refresh")
    run_config = {
        "ops": {
            "raw_extracts": {"config": {"reload_dates": [d.isoformat() for d in reload_dates]}},
            "crm_dbt_models": {"config": {"full_refresh": full_refresh}},
        }
    }
    with _instance() as instance:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False,
            resources={"hooks": hooks} if hooks is not None else None,
        )
    if not result.success:
        where = f" (full log: {log_file})" if log_file else ""
        rolled_back = nights.rollback(settings.raw_root)  # days this run loaded that never passed the gates
        note = f"; {nights.rollback_note(rolled_back)}" if rolled_back else ""
        raise CrmWarehouseError(_failure_message(result) + note + where)
    return RunOutcome(result.run_id, log_file, _schema_warnings(result))
