"""Alerts for the person on call: one message per failed run (and per stale-extract tick).

Every alert goes (1) to the log, (2) to the run history (`WAREHOUSE/ops/run_history/*.parquet`, published
as `ops.run_history`) and (3), when CRM_ALERT_WEBHOOK_URL is set, as one JSON POST to that URL (stdlib
urllib, a timeout, one attempt: a dead webhook never delays or repeats anything). The message names the
failed asset, the reason (first line of the error) and where the full log is.

Exactly one alert per failed run: the record id is `run-<run_id>` and it is claimed atomically before
anything is sent, so whichever notices the failure first (the run itself when its resources are torn
down, which covers `crm-warehouse run` without a daemon, or the run-failure sensor in the daemon, which
also covers runs that died outside a step) sends it and the other one stays silent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestration.serving import run_history
from orchestration.settings import OpsSettings, Settings

log = logging.getLogger("crm_warehouse.alerts")
DAGSTER_URL_ENV = "CRM_DAGSTER_URL"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"

_DBT_NODE = re.compile(r"\b(?:Error|Failure|Warning) in (model|test|snapshot|seed|unit_test) ([A-Za-z0-9_.]+)")
_DBT_CREATING = re.compile(r"ERROR creating .*?\b(?:model|seed|snapshot) ([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)")
_DBT_PROGRESS = re.compile(r"^\d+ of \d+ ")
_DBT_SECTION = "Errors parsed from dbt logs:"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXTRACT_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})/([a-z_]+)\.csv")
_PREFIXED = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Failure)[\w]*: ")


@dataclass(frozen=True)
class FailureInfo:
    failed_asset: str
    reason: str
    step_key: str | None = None


@dataclass(frozen=True)
class Alert:
    record_id: str
    kind: str  # run | stale_extract
    status: str  # failure | stale
    failed_asset: str
    reason: str
    log_location: str
    run_id: str | None = None
    job_name: str | None = None

    @property
    def text(self) -> str:
        what = f"run {self.run_id[:8]} of {self.job_name}" if self.run_id else "crm-warehouse"
        return (f"[crm-warehouse] {what} {self.status}: {self.failed_asset}: {self.reason} "
                f"(log: {self.log_location})")

    def payload(self) -> dict:
        return {
            "text": self.text,  # Slack / Mattermost / Teams-style incoming webhooks show this
            "kind": self.kind,
            "status": self.status,
            "run_id": self.run_id,
            "job_name": self.job_name,
            "failed_asset": self.failed_asset,
            "reason": self.reason,
            "log_location": self.log_location,
        }


# --- describing a failure ---------------------------------------------------------------------------

def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line
    return ""


def _chain(error) -> Iterable:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.cause or getattr(error, "context", None)


def dbt_failure(error) -> tuple[str | None, str | None]:
    """(failed asset, reason) from the dbt errors dagster-dbt puts into its exception message: the model
    dbt could not build (`staging/stg_crm__orders`, our asset key) or the failed test (`dbt test ...`),
    and the first line of dbt's detail (e.g. `Binder Error: Referenced column "x" not found ...`)."""
    for e in _chain(error):
        message = _ANSI.sub("", e.message or "")
        if _DBT_SECTION not in message:
            continue
        section = message.split(_DBT_SECTION, 1)[1].split("\nStack Trace:", 1)[0]
        lines = [ln.strip() for ln in section.splitlines() if ln.strip()]
        asset = None
        m = _DBT_CREATING.search(section)
        if m:
            asset = f"{m.group(1)}/{m.group(2)}"
        else:
            node = _DBT_NODE.search(section)
            if node:
                asset = f"dbt {node.group(1)} {node.group(2)}"
        detail = next((ln for ln in lines if not _DBT_PROGRESS.match(ln) and not _DBT_NODE.search(ln)), None)
        return asset, detail or (lines[0] if lines else None)
    return None, None


def error_reason(error) -> str:
    """The first useful line of a Dagster SerializableErrorInfo: a CrmWarehouseError's own message, a dbt
    error parsed from dbt's log, else the root cause's first line."""
    if error is None:
        return "unknown error (see the run log)"
    for e in _chain(error):
        if e.cls_name == "CrmWarehouseError":
            return _PREFIXED.sub("", _first_line(_ANSI.sub("", e.message or "")))
    _asset, reason = dbt_failure(error)
    if reason:
        return reason
    root = list(_chain(error))[-1]
    return _first_line(_ANSI.sub("", root.message or "")) or root.cls_name or "unknown error"


def failed_asset_name(step_key: str | None, reason: str, planned_assets: Sequence[str], error=None) -> str:
    """Name the failed asset as precisely as the evidence allows: the dbt model or test dbt reported, the
    raw entity of a named extract file, the step's only asset, else the step."""
    dbt_asset, _ = dbt_failure(error) if error is not None else (None, None)
    if dbt_asset:
        return dbt_asset
    m = _EXTRACT_FILE.search(reason)
    if m and f"raw/{m.group(2)}" in planned_assets:
        return f"raw/{m.group(2)}"
    if len(planned_assets) == 1:
        return planned_assets[0]
    if step_key:
        return step_key + (f" ({len(planned_assets)} assets)" if planned_assets else "")
    return "run"


def describe_run_failure(instance, run_id: str, failure_event=None) -> FailureInfo:
    """What failed in a run and why, from the instance's event log."""
    from dagster import DagsterEventType

    step_failures = [
        r.event_log_entry.dagster_event
        for r in instance.get_records_for_run(run_id=run_id, of_type=DagsterEventType.STEP_FAILURE).records
    ]
    if step_failures:
        event = step_failures[0]
        planned = sorted(
            {
                r.event_log_entry.dagster_event.event_specific_data.asset_key.to_user_string()
                for r in instance.get_records_for_run(
                    run_id=run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED
                ).records
                if r.event_log_entry.dagster_event.step_key == event.step_key
            }
        )
        error = event.step_failure_data.error
        reason = error_reason(error)
        name = failed_asset_name(event.step_key, reason, planned, error)
        if len(step_failures) > 1:
            reason += f" (and {len(step_failures) - 1} more failed step(s))"
        return FailureInfo(name, reason, event.step_key)
    # the run failed outside any step (resource init, e.g. the lock wait timed out; run worker died)
    error = None
    message = None
    if failure_event is not None:
        data = getattr(failure_event, "event_specific_data", None)
        error = getattr(data, "error", None)
        message = failure_event.message
    reason = error_reason(error) if error is not None else (_first_line(message) or "the run failed")
    return FailureInfo("run", reason, None)


def log_location(run_id: str | None, own_process: bool) -> str:
    """Where the full log of a run is: the CLI's log file (the file this process writes to), else the
    Dagster UI run page and the compute logs under DAGSTER_HOME."""
    if own_process:
        try:
            target = os.readlink("/proc/self/fd/1")
        except OSError:
            target = ""
        if target.startswith("/") and target.endswith(".log") and Path(target).is_file():
            return target
    url = os.environ.get(DAGSTER_URL_ENV, DEFAULT_DAGSTER_URL).rstrip("/")
    if not run_id:
        return url
    home = os.environ.get("DAGSTER_HOME")
    where = f"{url}/runs/{run_id}"
    if home:
        where += f" (compute logs: {Path(home) / 'storage' / run_id})"
    return where


# --- sending -----------------------------------------------------------------------------------------

def post_webhook(url: str, payload: dict, timeout: float) -> str:
    """One POST of `payload` as JSON; returns a short status for the record. Never raises, never retries."""
    data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    req = urllib.request.Request(
        url, data=data, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "crm-warehouse-alerts"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return f"sent (HTTP {resp.status})"
    except urllib.error.HTTPError as exc:
        return f"failed: HTTP {exc.code}"
    except Exception as exc:  # URLError, timeout, refused: the alert is in the log and run history anyway
        return f"failed: {type(exc).__name__}: {exc}"


def send(alert: Alert, settings: Settings, ops: OpsSettings, logger=None) -> bool:
    """Send `alert` once: False (and nothing sent) if its record id was already claimed."""
    logger = logger or log
    history = settings.run_history_dir
    if not run_history.claim(history, alert.record_id):
        logger.info(f"alert {alert.record_id} was already sent; not sending it again")
        return False
    logger.error(alert.text)
    webhook = "not configured"
    if ops.alert_webhook_url:
        webhook = post_webhook(ops.alert_webhook_url, alert.payload(), ops.alert_webhook_timeout)
        (logger.info if webhook.startswith("sent") else logger.warning)(f"alert webhook: {webhook}")
    run_history.write(
        history,
        run_history.RunRecord(
            record_id=alert.record_id,
            kind=alert.kind,
            status=alert.status,
            run_id=alert.run_id,
            job_name=alert.job_name,
            failed_asset=alert.failed_asset,
            reason=alert.reason,
            log_location=alert.log_location,
            message=alert.text,
            webhook=webhook,
        ),
    )
    return True


def run_failure_alert(
    instance, run_id: str, job_name: str, failure_event=None, own_process: bool = False
) -> Alert:
    info = describe_run_failure(instance, run_id, failure_event)
    return Alert(
        record_id=f"run-{run_id}",
        kind="run",
        status="failure",
        failed_asset=info.failed_asset,
        reason=info.reason,
        log_location=log_location(run_id, own_process),
        run_id=run_id,
        job_name=job_name,
    )


def record_run_success(settings: Settings, run_id: str, job_name: str, own_process: bool = True) -> bool:
    """A `success` row in the run history (no alert); skipped if the run already has a record."""
    record_id = f"run-{run_id}"
    if not run_history.claim(settings.run_history_dir, record_id):
        return False
    run_history.write(
        settings.run_history_dir,
        run_history.RunRecord(
            record_id=record_id, kind="run", status="success", run_id=run_id, job_name=job_name,
            log_location=log_location(run_id, own_process),
        ),
    )
    return True


# --- stale extracts ----------------------------------------------------------------------------------

def stale_extract_alert(newest: date | None, tick: date, stale_after_days: int, landing_dir: Path) -> Alert | None:
    """An alert when the newest complete extract is more than `stale_after_days` older than the tick's
    date (or there is none), else None."""
    if newest is not None and (tick - newest).days <= stale_after_days:
        return None
    if newest is None:
        reason = f"no complete extract (folder with _manifest.json) in {landing_dir}"
    else:
        reason = (f"newest complete extract is {newest.isoformat()}, {(tick - newest).days} days before the "
                  f"schedule tick {tick.isoformat()} (allowed: {stale_after_days})")
    return Alert(
        record_id=f"stale-{tick.isoformat()}",
        kind="stale_extract",
        status="stale",
        failed_asset="landing",
        reason=reason,
        log_location=log_location(None, own_process=False) + " (sensor / schedule tick log)",
    )
