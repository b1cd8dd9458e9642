"""Publishing for BI: the serving file and its Parquet copies switch atomically, snapshots are pruned to
the last N and can be restored, and the keep-previous policy copies a failed domain from the current
serving file. Runs on a small hand-made work file (no dbt), so it is fast."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.errors import CrmWarehouseError
from orchestration.lock import warehouse_lock
from orchestration.serving import run_history
from orchestration.serving.publish import ServingLayout, current_publish_id, publish
from orchestration.serving.snapshots import list_snapshots, restore, serving_publish_id
from tests.conftest import run_cli


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_work(path: Path, tickets: int = 3, orders: int = 4) -> Path:
    """A work file with the shapes publishing meets: tables and views in published and private schemas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        for schema in ("staging", "marts", "reports", "ops"):
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute("CREATE TABLE staging.stg_customers AS SELECT 1 AS id, 'Wang Wei' AS name")
        con.execute(f"CREATE TABLE marts.fct_orders AS SELECT range AS order_id FROM range({orders})")
        con.execute(f"CREATE TABLE marts.fct_tickets AS SELECT range AS ticket_id FROM range({tickets})")
        con.execute("CREATE VIEW marts.v_orders AS SELECT * FROM marts.fct_orders")
        con.execute("CREATE TABLE reports.rpt_sales AS SELECT 'all' AS region, 10.5 AS revenue")
        con.execute("CREATE TABLE ops.quarantine AS SELECT 'orders' AS entity, 3 AS line, 'x' AS reason, "
                    "'raw,text' AS raw_text, 'd' AS detail")
        con.execute("CREATE TABLE ops.load_audit AS SELECT '2025-06-24/orders.csv' AS file, 5 AS rows_in_file")
    return path


@pytest.fixture
def wh(tmp_path) -> tuple[Path, Path]:
    warehouse = tmp_path / "warehouse"
    return make_work(warehouse / "work" / "crm_work.duckdb"), warehouse / "crm.duckdb"


def _tables(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for (n,) in names}


def test_publish_writes_serving_file_parquet_current_and_snapshot(wh):
    work, serving = wh
    result = publish(work, serving, None)
    tables = _tables(serving)
    assert {"marts.fct_orders", "marts.fct_tickets", "reports.rpt_sales", "ops.quarantine", "ops.load_audit",
            "ops.publish_log", "ops.run_history"} == set(tables)  # no views, no staging
    assert tables["marts.fct_orders"] == 4
    with duckdb.connect(str(serving), read_only=True) as con:
        cols = [r[0] for r in con.execute("DESCRIBE ops.quarantine").fetchall()]
        assert "raw_text" not in cols and "detail" not in cols
        log = con.execute("SELECT table_name, row_count, source FROM ops.publish_log ORDER BY 1").fetchall()
    assert ("marts.fct_orders", 4, "work") in log
    assert not os.access(serving, os.W_OK) or os.geteuid() == 0  # published read-only (0444)
    assert oct(serving.stat().st_mode & 0o777) == "0o444"

    layout = ServingLayout(serving)
    assert current_publish_id(layout) == result.publish_id
    current = layout.current_link.resolve()
    assert current == (layout.parquet_dir / result.publish_id).resolve()
    parquet = {f"{p.parent.name}.{p.stem}" for p in current.glob("*/*.parquet")}
    assert parquet == set(tables)
    with duckdb.connect() as con:
        n = con.execute("SELECT count(*) FROM read_parquet($p)", {"p": str(current / "marts" / "fct_orders.parquet")})
        assert n.fetchall()[0][0] == 4
    assert result.snapshot == layout.snapshot(result.publish_id)
    assert result.snapshot.stat().st_ino == serving.stat().st_ino  # a hard link: no extra space


def test_current_link_switches_atomically_and_old_publish_stays_whole(wh):
    work, serving = wh
    first = publish(work, serving, None)
    layout = ServingLayout(serving)
    reader_view = layout.current_link.resolve()  # a reader resolves `current` once, then reads
    make_work(work, orders=9)
    second = publish(work, serving, None)
    assert second.publish_id > first.publish_id  # ids sort by time, unique even within one second
    assert os.readlink(layout.current_link) == second.publish_id
    # the reader that resolved `current` before the switch still reads one complete, unchanged publish
    with duckdb.connect() as con:
        old = con.execute("SELECT count(*) FROM read_parquet($p)", {"p": str(reader_view / "marts" / "fct_orders.parquet")})
        assert old.fetchall()[0][0] == 4
        new = con.execute("SELECT count(*) FROM read_parquet($p)",
                          {"p": str(layout.current_link / "marts" / "fct_orders.parquet")})
        assert new.fetchall()[0][0] == 9
    assert not list(layout.parquet_dir.glob(".*")) and not list(layout.root.glob(".crm.duckdb*"))


def test_leftovers_of_a_killed_publish_are_removed_by_the_next(wh):
    work, serving = wh
    publish(work, serving, None)
    layout = ServingLayout(serving)
    (layout.root / ".crm.duckdb.new-99999").write_bytes(b"half")
    (layout.parquet_dir / ".tmp-20990101T000000").mkdir()
    os.symlink("nowhere", layout.parquet_dir / ".current-99999")
    before = current_publish_id(layout)
    publish(work, serving, None)
    assert current_publish_id(layout) != before
    assert not list(layout.parquet_dir.glob(".*")) and not (layout.root / ".crm.duckdb.new-99999").exists()


def test_snapshots_are_pruned_to_the_newest_n_with_their_parquet(wh):
    work, serving = wh
    ids = []
    for orders in range(1, 10):
        make_work(work, orders=orders)
        ids.append(publish(work, serving, None, keep_snapshots=7).publish_id)
    layout = ServingLayout(serving)
    kept = sorted(p.stem for p in layout.snapshots_dir.glob("*.duckdb"))
    assert kept == ids[-7:]
    assert sorted(p.name for p in layout.parquet_dir.iterdir() if p.name != "current") == ids[-7:]
    snaps = list_snapshots(serving)
    assert [s.publish_id for s in snaps] == ids[-7:][::-1]
    assert snaps[0].is_current and not any(s.is_current for s in snaps[1:])
    assert all(s.tables == 6 and s.size_bytes > 0 and s.has_parquet for s in snaps)


def test_restore_switches_file_and_parquet_atomically_and_records_it(wh):
    work, serving = wh
    ids = []
    for orders in (1, 2, 3):
        make_work(work, orders=orders)
        ids.append(publish(work, serving, None).publish_id)
    layout = ServingLayout(serving)
    target = layout.snapshot(ids[0])
    info = restore(serving, ids[0])
    assert info.is_current and serving_publish_id(serving) == ids[0]
    assert _sha(serving) == _sha(target) and serving.stat().st_ino != target.stat().st_ino
    assert current_publish_id(layout) == ids[0]
    assert _tables(serving)["marts.fct_orders"] == 1
    [record] = run_history.read_all(layout.run_history_dir)
    assert record["kind"] == "restore" and ids[0] in record["message"]

    # a snapshot whose Parquet folder was pruned gets it exported again
    import shutil

    shutil.rmtree(layout.parquet_dir / ids[1])
    restore(serving, ids[1])
    assert current_publish_id(layout) == ids[1]
    assert (layout.parquet_dir / ids[1] / "marts" / "fct_orders.parquet").is_file()

    with pytest.raises(CrmWarehouseError, match="no snapshot"):
        restore(serving, "20000101T000000")


def test_cli_snapshots_and_restore(wh):
    work, serving = wh
    ids = []
    for orders in (1, 2):
        make_work(work, orders=orders)
        ids.append(publish(work, serving, None).publish_id)
    warehouse = serving.parent
    listing = run_cli("snapshots", "--warehouse", str(warehouse))
    assert ids[0] in listing.stdout and ids[1] in listing.stdout and "current" in listing.stdout

    with warehouse_lock(warehouse / ".crm-warehouse.lock", "a running refresh"):
        busy = run_cli("restore", ids[0], "--warehouse", str(warehouse), check=False)
    assert busy.returncode == 1 and "busy" in busy.stderr and "a running refresh" in busy.stderr
    assert serving_publish_id(serving) == ids[1]

    done = run_cli("restore", ids[0], "--warehouse", str(warehouse))
    assert f"restored {ids[0]}" in done.stderr
    assert serving_publish_id(serving) == ids[0]
    missing = run_cli("restore", "nope", "--warehouse", str(warehouse), check=False)
    assert missing.returncode == 1 and "no snapshot 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_keep_previous_copies_failed_domain_from_current_serving_file(wh):
    work, serving = wh
    publish(work, serving, None)  # yesterday's good warehouse: 3 tickets, 4 orders
    make_work(work, tickets=0, orders=7)  # today: the service domain failed (its table came out empty)
    result = publish(work, serving, None, keep_previous=["marts.fct_ticket*"])
    tables = _tables(serving)
    assert tables["marts.fct_tickets"] == 3 and tables["marts.fct_orders"] == 7
    assert result.kept_previous == ("marts.fct_tickets",)
    with duckdb.connect(str(serving), read_only=True) as con:
        src = con.execute("SELECT table_name, source FROM ops.publish_log WHERE publish_id = $id ORDER BY 1",
                          {"id": result.publish_id}).fetchall()
    assert ("marts.fct_tickets", "previous") in src and ("marts.fct_orders", "work") in src
    with pytest.raises(CrmWarehouseError, match="keep-previous pattern"):
        publish(work, serving, None, keep_previous=["staging"])


def test_publish_asset_policy_block_by_default_keep_previous_on_request(wh, monkeypatch):
    """Through Dagster: the publish asset refuses a keep-previous request under the default `block`
    policy (nothing published), and honours it with CRM_PUBLISH_ON_DOMAIN_FAILURE=keep_previous; its
    metadata carries row counts, duration, a preview and the paths."""
    from orchestration.assets.publish import published_warehouse
    from orchestration.assets.resources import RunHooks, WarehouseResource

    work, serving = wh
    monkeypatch.delenv("CRM_AS_OF", raising=False)
    publish(work, serving, None)
    before = _sha(serving)
    make_work(work, tickets=0, orders=7)
    resource = WarehouseResource(landing_dir=str(serving.parent / "landing"), warehouse_dir=str(serving.parent),
                                 lock_wait_seconds=0)
    config = {"ops": {"serving__crm_duckdb": {"config": {"keep_previous_tables": ["marts.fct_tickets"]}}}}

    monkeypatch.delenv("CRM_PUBLISH_ON_DOMAIN_FAILURE", raising=False)
    blocked = dg.materialize([published_warehouse], resources={"warehouse": resource, "hooks": RunHooks()}, run_config=config,
                             raise_on_error=False)
    assert not blocked.success and _sha(serving) == before

    monkeypatch.setenv("CRM_PUBLISH_ON_DOMAIN_FAILURE", "keep_previous")
    ok = dg.materialize([published_warehouse], resources={"warehouse": resource, "hooks": RunHooks()}, run_config=config)
    [mat] = ok.asset_materializations_for_node("serving__crm_duckdb")
    meta = mat.metadata
    assert meta["row_counts"].value["marts.fct_tickets"] == 3 and meta["row_counts"].value["marts.fct_orders"] == 7
    assert meta["kept_previous"].value == ["marts.fct_tickets"]
    assert meta["path"].value == str(serving) and meta["duration_s"].value >= 0
    assert meta["preview ops.load_audit"].value.startswith("| file | rows_in_file |")
    assert "marts.fct_orders" in meta["tables"].value
    # the blocked run was alerted and recorded; the good one too, both end up in ops.run_history next time
    statuses = sorted(r["status"] for r in run_history.read_all(serving.parent / "ops" / "run_history"))
    assert statuses == ["failure", "success"]
