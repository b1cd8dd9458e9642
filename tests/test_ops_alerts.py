"""Alerting: exactly one message per failed run, naming the failed asset, the reason and the log location,
to the log, the run history and a webhook (a local HTTP server on 127.0.0.1); the lock-wait log line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.resources import WarehouseResource
from orchestration.sensors import warehouse_run_failure_alert
from orchestration.serving import run_history
from tests.conftest import REPO, Built, copy_built, run_cli


class Webhook:
    """A local webhook receiver: records every POSTed JSON body; answers with `status`."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length).decode("utf-8")))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def wh_env(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse"
    monkeypatch.setenv("CRM_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("CRM_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("RAW_ROOT", str(warehouse / "raw"))
    monkeypatch.setenv("CRM_WORK_DB", str(warehouse / "work" / "crm_work.duckdb"))
    monkeypatch.delenv("CRM_ALERT_WEBHOOK_URL", raising=False)
    return warehouse


@dg.asset(key=dg.AssetKey(["marts", "fct_orders"]))
def failing_mart():
    raise ValueError("order totals do not reconcile with order_items\nsecond line of detail")


@dg.asset
def fine_asset():
    return 1


@dg.asset
def fine_warehouse_asset(warehouse: WarehouseResource):
    """Needs the warehouse resource, so the run takes the lock and records its outcome."""
    return 1


def _failed_run(instance):
    result = dg.materialize([fine_asset, failing_mart], instance=instance, raise_on_error=False)
    assert not result.success
    return result


def _sensor_context(instance, result):
    return dg.build_run_status_sensor_context(
        sensor_name="warehouse_run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_run_failure_sensor_sends_exactly_one_alert(wh_env, webhook, monkeypatch):
    monkeypatch.setenv("CRM_ALERT_WEBHOOK_URL", webhook.url)
    with dg.instance_for_test() as instance:
        result = _failed_run(instance)
        warehouse_run_failure_alert(_sensor_context(instance, result))
        warehouse_run_failure_alert(_sensor_context(instance, result))  # the sensor sees it again: silent

    assert len(webhook.bodies) == 1
    body = webhook.bodies[0]
    assert body["failed_asset"] == "marts/fct_orders"
    assert body["reason"] == "ValueError: order totals do not reconcile with order_items"
    assert body["run_id"] == result.run_id and body["job_name"] == result.dagster_run.job_name
    assert f"/runs/{result.run_id}" in body["log_location"]
    assert "marts/fct_orders" in body["text"] and "order totals" in body["text"]

    [record] = run_history.read_all(wh_env / "ops" / "run_history")
    assert record["record_id"] == f"run-{result.run_id}" and record["status"] == "failure"
    assert record["failed_asset"] == "marts/fct_orders" and record["webhook"] == "sent (HTTP 200)"
    assert record["message"] == body["text"]


def test_a_dead_webhook_is_tried_once_and_the_alert_still_recorded(wh_env, monkeypatch):
    hook = Webhook(status=500)
    try:
        monkeypatch.setenv("CRM_ALERT_WEBHOOK_URL", hook.url)
        with dg.instance_for_test() as instance:
            result = _failed_run(instance)
            warehouse_run_failure_alert(_sensor_context(instance, result))
        assert len(hook.bodies) == 1  # one attempt, no retries
    finally:
        hook.close()
    [record] = run_history.read_all(wh_env / "ops" / "run_history")
    assert record["webhook"] == "failed: HTTP 500" and record["status"] == "failure"

    monkeypatch.setenv("CRM_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens-here")
    monkeypatch.setenv("CRM_ALERT_WEBHOOK_TIMEOUT", "2")
    with dg.instance_for_test() as instance:
        result = _failed_run(instance)
        warehouse_run_failure_alert(_sensor_context(instance, result))  # must not raise
    records = run_history.read_all(wh_env / "ops" / "run_history")
    assert len(records) == 2 and records[-1]["webhook"].startswith("failed:")


@dg.asset(key=dg.AssetKey(["raw", "orders"]))
def failing_ingest(warehouse: WarehouseResource):
    raise ValueError("boom in ingest")


def test_a_run_alerts_itself_once_and_the_sensor_stays_silent(wh_env, webhook, monkeypatch):
    """The run's resource teardown alerts (covers CLI runs without a daemon); the sensor then sees the
    run already alerted: still exactly one message."""
    monkeypatch.setenv("CRM_ALERT_WEBHOOK_URL", webhook.url)
    resource = WarehouseResource(lock_wait_seconds=0)
    with dg.instance_for_test() as instance:
        result = dg.materialize([failing_ingest], instance=instance, resources={"warehouse": resource},
                                raise_on_error=False)
        assert not result.success
        assert len(webhook.bodies) == 1
        warehouse_run_failure_alert(_sensor_context(instance, result))
    assert len(webhook.bodies) == 1
    assert webhook.bodies[0]["failed_asset"] == "raw/orders"
    assert webhook.bodies[0]["reason"] == "ValueError: boom in ingest"

    # a successful run leaves a `success` row and sends nothing
    with dg.instance_for_test() as instance:
        ok = dg.materialize([fine_warehouse_asset], instance=instance, resources={"warehouse": resource})
    statuses = {r["run_id"]: r["status"] for r in run_history.read_all(wh_env / "ops" / "run_history")}
    assert statuses == {result.run_id: "failure", ok.run_id: "success"}
    assert len(webhook.bodies) == 1


def test_failed_cli_run_alerts_once_naming_asset_reason_and_log_file(built: Built, tmp_path, webhook):
    """End to end: a bad extract file makes `crm-warehouse run` fail; one webhook message names the raw
    asset, the file and column, and the run's log file."""
    from tests.test_cli_errors import _add_day, _drop_column

    copy = copy_built(built, tmp_path)
    new = _add_day(copy, lambda folder: _drop_column(folder / "orders.csv", "order_date"))
    proc = run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse), check=False,
                   env={"CRM_ALERT_WEBHOOK_URL": webhook.url})
    assert proc.returncode == 1
    assert len(webhook.bodies) == 1, webhook.bodies
    body = webhook.bodies[0]
    assert body["failed_asset"] == "raw/orders"
    assert f"{new.name}/orders.csv" in body["reason"] and "order_date" in body["reason"]
    log_file = Path(body["log_location"])
    assert log_file.parent == copy.warehouse / "logs" and log_file.is_file()
    assert str(log_file) in proc.stderr  # the same log the CLI named
    records = [r for r in run_history.read_all(copy.warehouse / "ops" / "run_history") if r["status"] == "failure"]
    assert len(records) == 1 and records[0]["failed_asset"] == "raw/orders"


# --- waiting for the lock ------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from orchestration.lock import warehouse_lock
held, stop = Path(sys.argv[2]), Path(sys.argv[3])
with warehouse_lock(Path(sys.argv[1]), "nightly test holder"):
    held.write_text("held")
    deadline = time.monotonic() + 120
    while not stop.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def _hold_lock(warehouse: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """Another process holds the warehouse lock until the returned stop file is created."""
    warehouse.mkdir(parents=True, exist_ok=True)
    held, stop = tmp_path / "held", tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(warehouse / ".crm-warehouse.lock"), str(held),
                             str(stop)], cwd=REPO)
    deadline = time.monotonic() + 60
    while not held.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "lock holder did not start"
        time.sleep(0.05)
    return proc, stop


def _messages(instance, run_id: str | None = None) -> list[str]:
    run_ids = [run_id] if run_id else [r.run_id for r in instance.get_runs()]
    return [e.user_message for rid in run_ids for e in instance.all_logs(rid)]


def test_dagster_run_waits_for_the_lock_with_a_log_line_naming_the_holder(wh_env, tmp_path):
    holder, stop = _hold_lock(wh_env, tmp_path)
    resource = WarehouseResource(lock_wait_seconds=120, lock_log_every_seconds=1)
    outcome = {}
    try:
        with dg.instance_for_test() as instance:
            def run():
                outcome["result"] = dg.materialize([fine_warehouse_asset], instance=instance,
                                                   resources={"warehouse": resource})

            worker = threading.Thread(target=run)
            worker.start()
            deadline = time.monotonic() + 120
            while not any("waiting for the warehouse lock" in m for m in _messages(instance)):
                assert worker.is_alive() and time.monotonic() < deadline, "the run did not wait for the lock"
                time.sleep(0.2)
            stop.touch()  # the holder finishes; the waiting run goes on
            worker.join(timeout=120)
            result = outcome["result"]
            messages = _messages(instance, result.run_id)
    finally:
        stop.touch()
        holder.wait(timeout=30)
    assert result.success
    waits = [m for m in messages if "waiting for the warehouse lock" in m]
    assert "nightly test holder" in waits[0] and f"pid {holder.pid}" in waits[0]
    assert any("got the warehouse lock after waiting" in m for m in messages)


def test_dagster_run_gives_up_after_the_lock_timeout_and_the_sensor_alerts(wh_env, tmp_path, webhook, monkeypatch):
    """A run that fails outside any step (here: the lock wait timed out) is alerted by the sensor."""
    monkeypatch.setenv("CRM_ALERT_WEBHOOK_URL", webhook.url)
    holder, stop = _hold_lock(wh_env, tmp_path)
    try:
        resource = WarehouseResource(lock_wait_seconds=1, lock_log_every_seconds=1)
        with dg.instance_for_test() as instance:
            result = dg.materialize([fine_warehouse_asset], instance=instance, resources={"warehouse": resource},
                                    raise_on_error=False)
            assert not result.success
            assert webhook.bodies == []  # no step ran, so the run could not alert itself
            warehouse_run_failure_alert(_sensor_context(instance, result))
    finally:
        stop.touch()
        holder.wait(timeout=30)
    [body] = webhook.bodies
    assert body["failed_asset"] == "run"
    assert "gave up after waiting 1 s" in body["reason"] and "nightly test holder" in body["reason"]


# --- naming the failure ----------------------------------------------------------------------------

DBT_MODEL_ERROR = """The dbt CLI process with command

`dbt build --vars {"as_of": "2025-06-26"}`

failed with exit code `1`. Check the stdout in the Dagster compute logs for the full information about the error.

Errors parsed from dbt logs:

93 of 93 ERROR creating sql view model staging.zz_broken ....................... [\x1b[31mERROR\x1b[0m in 0.23s]

\x1b[31mFailure in model zz_broken (models/staging/crm/zz_broken.sql)\x1b[0m

  Runtime Error in model zz_broken (models/staging/crm/zz_broken.sql)
  Binder Error: Referenced column "no_such_column" not found in FROM clause!
"""

DBT_TEST_FAILURE = """The dbt CLI process with command

`dbt build`

failed with exit code `1`.

Errors parsed from dbt logs:

12 of 40 FAIL 3 not_null_fct_orders_order_id ...................... [FAIL 3 in 0.05s]

Failure in test not_null_fct_orders_order_id (models/marts/sales/_sales__models.yml)

  Got 3 results, configured to fail if != 0
"""


@pytest.mark.parametrize(
    ("message", "asset", "reason"),
    [
        (DBT_MODEL_ERROR, "staging/zz_broken", 'Binder Error: Referenced column "no_such_column" not found in FROM clause!'),
        (DBT_TEST_FAILURE, "dbt test not_null_fct_orders_order_id", "Got 3 results, configured to fail if != 0"),
    ],
)
def test_dbt_failures_name_the_model_or_test_and_dbt_s_reason(message, asset, reason):
    from dagster._utils.error import SerializableErrorInfo

    from orchestration import alerts

    error = SerializableErrorInfo(
        message="dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op",
        stack=[], cls_name="DagsterExecutionStepExecutionError",
        cause=SerializableErrorInfo(message=message, stack=[], cls_name="DagsterDbtCliRuntimeError", cause=None),
    )
    got_reason = alerts.error_reason(error)
    assert got_reason == reason
    assert alerts.failed_asset_name("crm_dbt_models", got_reason, ["staging/a", "staging/b"], error) == asset
