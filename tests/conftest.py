"""Shared fixtures: one generated landing (scale 0.01, 3 days, planted truth) and one warehouse built
from it through the CLI, both built once per test session and reused (read-only) by the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "orchestration.cli"]
SCALE, SEED, DAYS = 0.01, 7, 3

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.pop("DAGSTER_HOME", None)  # tests use ephemeral Dagster instances
os.environ.setdefault("CRM_PII_KEY", "test-key-for-pii-hashing")


def run_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `crm-warehouse ARGS` the way a user does; return the completed process (text output)."""
    proc = subprocess.run(
        [*CLI, *args], cwd=REPO, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=900
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"crm-warehouse {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


@dataclass(frozen=True)
class Built:
    landing: Path
    warehouse: Path

    @property
    def published(self) -> Path:
        return self.warehouse / "crm.duckdb"

    def truth(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.landing / "_truth" / f"{name}.csv", dtype=str, keep_default_na=False)

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.published), read_only=True) as con:
            return con.execute(sql, params or {}).df()

    def work_query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.warehouse / "work" / "crm_work.duckdb"), read_only=True) as con:
            return con.execute(sql, params or {}).df()


@pytest.fixture(scope="session")
def landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing") / "landing"
    run_cli("generate", "--scale", str(SCALE), "--seed", str(SEED), "--days", str(DAYS), "--out", str(out))
    return out


def extract_dates(landing: Path) -> list[str]:
    return sorted(p.name for p in landing.iterdir() if (p / "_manifest.json").is_file())


@pytest.fixture(scope="session")
def built(landing, tmp_path_factory) -> Built:
    """The generated landing loaded the way production does it: one `crm-warehouse run` per nightly
    extract (`--as-of` each day in turn), so incremental models see each delta day."""
    warehouse = tmp_path_factory.mktemp("wh") / "warehouse"
    for day in extract_dates(landing):
        run_cli("run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", day)
    return Built(landing, warehouse)


@pytest.fixture(scope="session")
def built_full(landing, tmp_path_factory) -> Built:
    """The same landing in one `--full-refresh` run: the reference for incremental parity."""
    warehouse = tmp_path_factory.mktemp("whfull") / "warehouse"
    run_cli("run", "--landing", str(landing), "--warehouse", str(warehouse), "--full-refresh")
    return Built(landing, warehouse)


def copy_built(built: Built, dest: Path) -> Built:
    """A private copy of the session warehouse (and landing) that a test may modify."""
    shutil.copytree(built.landing, dest / "landing")
    shutil.copytree(built.warehouse, dest / "warehouse", ignore=shutil.ignore_patterns("*.lock", "logs"))
    return Built(dest / "landing", dest / "warehouse")


@pytest.fixture(scope="session")
def built_scale01(tmp_path_factory) -> Built:
    """Scale 0.1 (about 10 000 customers, 20 campaigns), seed 7, two nightly extracts, loaded by one
    `crm-warehouse run` per day (`--as-of` each date): day 1 trains the segmentation, day 2 scores with the
    saved model. The published file of day 1 is kept as `day1_crm.duckdb` next to the warehouse. The only
    scale-0.1 build of the suite (ML acceptance in tests/test_ml_assets.py; mart grain and reconciliation
    checks through `mart_build`)."""
    root = tmp_path_factory.mktemp("scale01")
    landing, warehouse = root / "landing", root / "warehouse"
    run_cli("generate", "--scale", "0.1", "--seed", str(SEED), "--days", "2", "--out", str(landing))
    days = extract_dates(landing)
    for day in days:
        run_cli("run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", day)
        if day == days[0]:
            shutil.copyfile(warehouse / "crm.duckdb", root / "day1_crm.duckdb")
    return Built(landing, warehouse)


@pytest.fixture(scope="session", params=["scale0.01", "scale0.1"])
def mart_build(request) -> Built:
    """The marts acceptance checks (grain, reconciliation with the planted truth, identity resolution) run
    on both session builds: `built` (scale 0.01, 3 days) and `built_scale01` (scale 0.1, 2 days); each is
    built once per session and shared with the other tests."""
    return request.getfixturevalue("built" if request.param == "scale0.01" else "built_scale01")
