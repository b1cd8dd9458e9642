"""Crash safety and readers: `kill -9` a `crm-warehouse run` paused at named points (tests/crash_run.py
passes a pausing RunHooks resource, so the test waits for a marker file, not the clock); the published
warehouse stays byte-identical and readable. Then a re-run, while 8 threads query the published file
read-only in a loop, finishes with the same row counts as the uninterrupted run and 0 reader errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.serving.publish import ServingLayout, current_publish_id
from tests.bi_readers import Readers
from tests.conftest import REPO, Built, copy_built, run_cli

PAUSE_POINTS = ("ingest", "dbt", "ml", "publish")
NOT_COMPARED = {"ops.publish_log", "ops.run_history", "ml.model_runs"}  # histories: grow with every run by design

pytestmark = pytest.mark.slow


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state(warehouse: Path) -> dict:
    layout = ServingLayout(warehouse / "crm.duckdb")
    return {
        "sha256": _sha(layout.serving_db),
        "current": current_publish_id(layout),
        "snapshots": sorted(p.name for p in layout.snapshots_dir.glob("*.duckdb")),
    }


def _latest_counts(published: Path) -> dict[str, int]:
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, row_count FROM ops.publish_log "
            "WHERE publish_id = (SELECT max(publish_id) FROM ops.publish_log)"
        ).fetchall()
    return {name: n for name, n in rows if name not in NOT_COMPARED}


def _kill_at(point: str, copy: Built, tmp: Path) -> subprocess.Popen:
    """Start `crm-warehouse run`, wait until it reports being paused at `point`, kill -9 it."""
    marker = tmp / f"paused-{point}"
    out = open(tmp / f"run-{point}.out", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_run", point, str(marker), str(copy.landing), str(copy.warehouse)],
        cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 600
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out.close()
            raise AssertionError(f"run never paused at {point!r}: {(tmp / f'run-{point}.out').read_text()[-3000:]}")
        time.sleep(0.1)
    assert marker.read_text().split() == [str(proc.pid), point]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    out.close()
    assert proc.returncode == -signal.SIGKILL
    return proc


@pytest.fixture(scope="module")
def crashed(built: Built, tmp_path_factory):
    """A private copy of the built warehouse and the state seen after each kill."""
    tmp = tmp_path_factory.mktemp("crash")
    copy = copy_built(built, tmp)
    # copytree copies the `current` symlink as a folder; make it the link the real warehouse has
    link = copy.warehouse / "parquet" / "current"
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
        os.symlink(os.readlink(built.warehouse / "parquet" / "current"), link)
    before = _state(copy.warehouse)
    after = {}
    for point in PAUSE_POINTS:
        _kill_at(point, copy, tmp)
        after[point] = _state(copy.warehouse)
        with duckdb.connect(str(copy.published), read_only=True) as con:  # still readable
            after[point]["tables"] = con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()[0][0]
    return copy, before, after


@pytest.mark.parametrize("point", PAUSE_POINTS)
def test_kill_9_leaves_published_warehouse_byte_identical(crashed, point):
    copy, before, after = crashed
    seen = dict(after[point])
    assert seen.pop("tables") > 0
    assert seen == before, f"killed at {point}: the published warehouse changed"


@pytest.fixture(scope="module")
def rerun(crashed):
    """Re-run `crm-warehouse run` on the crashed copy (same landing) while 8 BI readers (6 on the DuckDB
    file, 2 on the Parquet `current` folder) query it in a loop; returns the readers and the state before."""
    copy, before, _ = crashed
    layout = ServingLayout(copy.published)
    leftovers = list(layout.root.glob(".crm.duckdb.new-*"))
    ops_before = _ops_state(copy)
    readers = Readers(copy.published)
    threads = readers.start(file_readers=6, parquet_readers=2)
    try:
        run_cli("run", "--landing", str(copy.landing), "--warehouse", str(copy.warehouse))
        time.sleep(3)  # every reader reconnects at least once after the switch
    finally:
        readers.finish(threads)
    return {"readers": readers, "leftovers": leftovers, "before": before, "ops_before": ops_before}


def _ops_state(copy: Built) -> dict:
    """Row counts of the ops tables, the load audit (without load times) and the raw zone's file list."""
    counts = {
        t: copy.work_query(f"SELECT count(*) AS n FROM ops.{t}")["n"][0] for t in ("quarantine", "data_issues", "load_audit")
    }
    audit = copy.work_query("SELECT * EXCLUDE (loaded_at) FROM ops.load_audit ORDER BY file")
    raw_files = sorted(p.relative_to(copy.warehouse) for p in (copy.warehouse / "raw").rglob("*.parquet"))
    return {"counts": counts, "audit": audit, "raw_files": raw_files}


def test_rerun_after_crashes_matches_uninterrupted_run_while_8_readers_query(crashed, rerun, built: Built):
    copy, _, _ = crashed
    before = rerun["before"]
    layout = ServingLayout(copy.published)
    assert rerun["leftovers"], "the kill at `publish` should have left its unpublished new file behind"
    readers = rerun["readers"]
    assert readers.errors == [], readers.errors[:10]
    assert min(readers.loops.values()) >= 5, readers.loops
    newest = current_publish_id(layout)
    # the switch happened while they read: fresh readers saw the old and the new publish, whole
    assert len(readers.seen["attach"]) >= 2 and newest in readers.seen["attach"]
    assert len(readers.seen["parquet"]) >= 2 and newest in readers.seen["parquet"]

    assert _latest_counts(copy.published) == _latest_counts(built.published)
    assert not list(layout.root.glob(".crm.duckdb.new-*")) and not list(layout.parquet_dir.glob(".*"))
    new_id = current_publish_id(layout)
    assert new_id != before["current"] and layout.snapshot(new_id).is_file()
    with duckdb.connect(str(copy.published), read_only=True) as con:
        assert con.execute("SELECT max(publish_id) FROM ops.publish_log").fetchall()[0][0] == new_id


def test_rerun_on_the_same_landing_changes_nothing(crashed, rerun, built: Built):
    """Foundation acceptance 4: running `run` again on an already loaded landing adds nothing (the re-run
    above finds no new extract): same ops row counts, same load audit, same raw files as the session build."""
    copy, _, _ = crashed
    after, session = _ops_state(copy), _ops_state(built)
    assert after["counts"] == session["counts"] == rerun["ops_before"]["counts"]
    pd.testing.assert_frame_equal(after["audit"], session["audit"])
    assert after["raw_files"] == session["raw_files"]
