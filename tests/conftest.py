"""Shared fixtures: one generated landing (scale 0.01, 3 days, planted truth) and the warehouses built from
it through the CLI, each built once per test session and reused (read-only) by the tests.

`make test` runs pytest with two pytest-xdist workers (the runs are mostly single-threaded Python: dbt,
Great Expectations, Dagster). A session fixture would then be built once per worker; `shared_build` builds
each one once for the whole session instead: the first worker to need it builds it under a file lock in
the session's shared temp folder, the others wait and reuse it. Tests never modify a shared build: they
take a private copy (`copy_built`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from filelock import FileLock

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


def shared_build(tmp_path_factory, worker_id: str, name: str, build: Callable[[Path], None]) -> Path:
    """A folder `name` filled once per test session by `build(folder)`: in a plain pytest run a fresh temp
    folder; under pytest-xdist one folder in the temp root all workers share, built by the first worker
    that asks (file lock; a failed build is retried by the next worker instead of being reused)."""
    if worker_id == "master":
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    folder = tmp_path_factory.getbasetemp().parent / name
    done = folder / ".built"
    with FileLock(str(folder) + ".lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def landing(tmp_path_factory, worker_id) -> Path:
    def generate(folder: Path) -> None:
        run_cli("generate", "--scale", str(SCALE), "--seed", str(SEED), "--days", str(DAYS),
                "--out", str(folder / "landing"))

    return shared_build(tmp_path_factory, worker_id, "landing", generate) / "landing"


def extract_dates(landing: Path) -> list[str]:
    return sorted(p.name for p in landing.iterdir() if (p / "_manifest.json").is_file())


@pytest.fixture(scope="session")
def built(landing, tmp_path_factory, worker_id) -> Built:
    """The generated landing loaded the way production does it: one `crm-warehouse run` per nightly
    extract (`--as-of` each day in turn), so incremental models see each delta day."""
    def day_by_day(folder: Path) -> None:
        for day in extract_dates(landing):
            run_cli("run", "--landing", str(landing), "--warehouse", str(folder / "warehouse"), "--as-of", day)

    return Built(landing, shared_build(tmp_path_factory, worker_id, "wh", day_by_day) / "warehouse")


@pytest.fixture(scope="session")
def built_full(landing, tmp_path_factory, worker_id) -> Built:
    """The same landing in one `--full-refresh` run: the reference for incremental parity."""
    def full_refresh(folder: Path) -> None:
        run_cli("run", "--landing", str(landing), "--warehouse", str(folder / "warehouse"), "--full-refresh")

    return Built(landing, shared_build(tmp_path_factory, worker_id, "whfull", full_refresh) / "warehouse")


def copy_built(built: Built, dest: Path) -> Built:
    """A private copy of the session warehouse (and landing) that a test may modify."""
    shutil.copytree(built.landing, dest / "landing")
    shutil.copytree(built.warehouse, dest / "warehouse", ignore=shutil.ignore_patterns("*.lock", "logs"))
    return Built(dest / "landing", dest / "warehouse")


@pytest.fixture(scope="session")
def built_scale01(tmp_path_factory, worker_id) -> Built:
    """Scale 0.1 (about 10 000 customers, 20 campaigns), seed 7, two nightly extracts, loaded by one
    `crm-warehouse run` per day (`--as-of` each date): day 1 trains the segmentation, day 2 scores with the
    saved model. The published file of day 1 is kept as `day1_crm.duckdb` next to the warehouse. The only
    scale-0.1 build of the suite (ML acceptance in tests/test_ml_assets.py; mart grain and reconciliation
    checks through `mart_build`)."""
    def two_nights(root: Path) -> None:
        landing, warehouse = root / "landing", root / "warehouse"
        run_cli("generate", "--scale", "0.1", "--seed", str(SEED), "--days", "2", "--out", str(landing))
        days = extract_dates(landing)
        for day in days:
            run_cli("run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", day)
            if day == days[0]:
                shutil.copyfile(warehouse / "crm.duckdb", root / "day1_crm.duckdb")

    root = shared_build(tmp_path_factory, worker_id, "scale01", two_nights)
    return Built(root / "landing", root / "warehouse")


@pytest.fixture(scope="session", params=["scale0.01", "scale0.1"])
def mart_build(request) -> Built:
    """The marts acceptance checks (grain, reconciliation with the planted truth, identity resolution) run
    on both session builds: `built` (scale 0.01, 3 days) and `built_scale01` (scale 0.1, 2 days); each is
    built once per session and shared with the other tests."""
    return request.getfixturevalue("built" if request.param == "scale0.01" else "built_scale01")


# Under `make test` (pytest-xdist, `--dist loadfile --no-loadscope-reorder`) each test module runs on one
# worker (its module-scoped fixtures are built once) and modules are handed out in this order, the longest
# first: the first two start the two session builds in parallel (`built` for the CLI-error tests,
# `built_scale01` for the ML assets); the modules that need both builds come after them. (Three workers
# were slower: 17 min 58 s against 16 min 37 s, 31 vs 27 min of CPU.)
# Modules not listed follow, in file order; a plain `pytest` run uses the same order.
MODULE_ORDER = (
    "test_cli_errors",  # builds `built` (3 nightly runs), then a reload
    "test_ml_assets",  # builds `built_scale01` (2 runs at scale 0.1)
    "test_ops_crash",  # 4 kills and a re-run on a copy of `built`
    "test_privacy_forget",  # forget and a reload on a copy of `built`
    "test_partial_sites",  # three partial-site runs and a failing one
    "test_import_mapping",  # two imported exports run end to end
    "test_damaged_input",  # a refused night and its re-delivery
    "test_incremental_parity",  # builds `built_full`
    "test_expectations",
    "test_marts_commerce",
    "test_marts_commerce_incremental",  # dbt on a hand-built raw zone, batch by batch and full refresh
    "test_marts_customer",
    "test_privacy",  # PII scans of the published file and its Parquet exports
    "test_dbt_staging",
    "test_dbt_docs",
    "test_ops_alerts",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(MODULE_ORDER)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))
