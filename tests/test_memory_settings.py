"""Bounded memory (issue 11 item 4): CRM_DUCKDB_MEMORY_LIMIT, CRM_DUCKDB_THREADS and CRM_DUCKDB_TEMP_DIR
reach both DuckDB sides, the Python connections (`orchestration.settings.connect_duckdb`) and dbt (the real
dbt_project/profiles.yml, on a throw-away two-model project so the main project is not parsed), and a
query beyond the limit spills into the temp folder instead of failing. No session build needed (~15 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration import settings as settings_mod
from orchestration.errors import CrmWarehouseError
from tests.conftest import REPO, run_cli

LIMITS_SQL = ("SELECT current_setting('memory_limit'), current_setting('threads'), "
              "current_setting('temp_directory')")
EXPORTED = ("CRM_LANDING_DIR", "CRM_WAREHOUSE_DIR", "RAW_ROOT", "CRM_WORK_DB", "CRM_AS_OF",
            "CRM_DUCKDB_MEMORY_LIMIT", "CRM_DUCKDB_THREADS", "CRM_DUCKDB_TEMP_DIR")
# A sort of ~4 M md5 strings (~300 MB) under a 64 MB limit must spill.
BIG_SORT = "SELECT i, md5(i::VARCHAR) AS s FROM range(4000000) t(i) ORDER BY s"


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment for one warehouse under tmp_path; what export_env writes is undone afterwards
    (set-then-delete registers even an absent variable with monkeypatch)."""
    for name in EXPORTED:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("CRM_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    return monkeypatch


def _dbt_project(root: Path) -> Path:
    """A two-model dbt project using the repo's profiles.yml: `spilled` sorts beyond the limit, then
    `limits` (built after it, on a new cursor) records the settings the dbt connection had. (With the
    limits as dbt-duckdb `settings:`, every new cursor re-SETs temp_directory, which DuckDB refuses once
    it has spilled, so `limits` failed.)"""
    project = root / "dbt_mem"
    (project / "models").mkdir(parents=True)
    shutil.copy(REPO / "dbt_project" / "profiles.yml", project / "profiles.yml")
    (project / "dbt_project.yml").write_text(
        "name: dbt_mem\nversion: '1.0'\nprofile: crm_warehouse\n"
        "models:\n  dbt_mem:\n    +materialized: table\n", encoding="utf-8")
    (project / "models" / "spilled.sql").write_text(BIG_SORT, encoding="utf-8")
    (project / "models" / "limits.sql").write_text(
        "-- depends_on: {{ ref('spilled') }}\n"
        "SELECT current_setting('memory_limit') AS memory_limit, current_setting('threads') AS threads, "
        "current_setting('temp_directory') AS temp_directory, "
        "(SELECT count(*) FROM {{ ref('spilled') }}) AS rows_sorted", encoding="utf-8")
    return project


def test_limits_reach_python_connections_and_dbt(env, tmp_path):
    env.setenv("CRM_DUCKDB_MEMORY_LIMIT", "100MB")  # below what `spilled` sorts: dbt must spill
    env.setenv("CRM_DUCKDB_THREADS", "1")
    s = settings_mod.load_settings(tmp_path / "landing", tmp_path / "warehouse")
    s.export_env()  # what a run does before Dagster starts dbt (dagster-dbt passes os.environ on)
    spill = tmp_path / "warehouse" / "work" / "tmp"
    assert spill.is_dir(), "the spill folder is created before any DuckDB opens it"

    with settings_mod.connect_duckdb() as con:
        py_memory, py_threads, py_temp = con.execute(LIMITS_SQL).fetchall()[0]
    with duckdb.connect() as con:  # DuckDB's own rendering of 100MB (95.3 MiB)
        default_memory = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        con.execute("SET memory_limit = '100MB'")
        expected_memory = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert expected_memory != default_memory
    assert (py_memory, py_threads, Path(py_temp)) == (expected_memory, 1, spill)

    project = _dbt_project(tmp_path)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--project-dir", str(project),
         "--profiles-dir", str(project)],
        cwd=project, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb.connect(os.environ["CRM_WORK_DB"], read_only=True) as con:
        row = con.execute("SELECT memory_limit, threads, temp_directory, rows_sorted FROM main.limits").fetchall()
    assert row == [(expected_memory, 1, str(spill), 4_000_000)]


def test_a_query_beyond_the_limit_spills_into_the_temp_folder_which_survives(env, tmp_path):
    spill = tmp_path / "spill" / "duckdb"
    env.setenv("CRM_DUCKDB_MEMORY_LIMIT", "100MB")
    env.setenv("CRM_DUCKDB_TEMP_DIR", str(spill))
    spill.mkdir(parents=True)
    (spill / "keep.txt").write_text("another process's file", encoding="utf-8")
    with settings_mod.connect_duckdb() as con:
        result = con.execute(BIG_SORT)  # the sorted result waits, spilled, while we look
        first = result.fetchone()[1]
        with con.cursor() as look:
            used = look.execute("SELECT count(*), coalesce(sum(size), 0) FROM duckdb_temporary_files()").fetchall()[0]
        temp_files = [p.name for p in spill.iterdir() if p.name.startswith("duckdb_temp")]
    assert used[0] > 0 and used[1] > 0, f"nothing spilled: {used}"
    assert temp_files, "DuckDB spilled somewhere else than CRM_DUCKDB_TEMP_DIR"
    with duckdb.connect() as con:
        assert first == con.execute("SELECT min(md5(i::VARCHAR)) FROM range(4000000) t(i)").fetchall()[0][0]
    # DuckDB removes its own temp files on close but not the folder (it did not create it) nor others' files
    assert sorted(p.name for p in spill.iterdir()) == ["keep.txt"]


def test_defaults_and_bad_values(env, tmp_path):
    config = settings_mod.duckdb_config()
    assert config["threads"] == len(os.sched_getaffinity(0))
    assert config["temp_directory"] == str(tmp_path / "warehouse" / "work" / "tmp")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert config["memory_limit"] == ("2GiB" if ram >= 4 * 1024**3 else f"{max(ram // 2, 256 * 1024**2) // 1024**2}MiB")
    with settings_mod.connect_duckdb() as con:  # DuckDB takes the default as given
        shown = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert shown == "2.0 GiB" or ram < 4 * 1024**3

    env.setenv("CRM_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(CrmWarehouseError, match="CRM_DUCKDB_MEMORY_LIMIT='lots'"):
        settings_mod.duckdb_config()
    env.setenv("CRM_DUCKDB_MEMORY_LIMIT", "1GB")
    env.setenv("CRM_DUCKDB_THREADS", "0")
    with pytest.raises(CrmWarehouseError, match="CRM_DUCKDB_THREADS='0': must be >= 1"):
        settings_mod.duckdb_config()


def test_cli_names_a_bad_memory_limit_without_a_traceback(tmp_path):
    (tmp_path / "landing").mkdir()
    proc = run_cli("run", "--landing", str(tmp_path / "landing"), "--warehouse", str(tmp_path / "wh"),
                   check=False, env={"CRM_DUCKDB_MEMORY_LIMIT": "2 gigs"})
    assert proc.returncode != 0
    assert "CRM_DUCKDB_MEMORY_LIMIT='2 gigs'" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
