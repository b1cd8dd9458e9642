"""Configuration: a few environment variables with safe defaults, read in this one module.

| variable            | default                               | meaning                                  |
|---------------------|---------------------------------------|------------------------------------------|
| CRM_LANDING_DIR     | ./landing                             | where nightly extract folders arrive     |
| CRM_WAREHOUSE_DIR   | ./warehouse                           | published file, raw zone, work file, ... |
| RAW_ROOT            | $CRM_WAREHOUSE_DIR/raw                | the raw zone (Parquet)                   |
| CRM_WORK_DB         | $CRM_WAREHOUSE_DIR/work/crm_work.duckdb | the private build file (dbt target)    |
| CRM_AS_OF           | newest complete extract date          | logical date of the run (YYYY-MM-DD)     |
| CRM_PII_KEY         | (none: required by `run`; `demo` uses a public demo key) | HMAC key for PII hashes |
| CRM_DBT_PROJECT_DIR | the repo's dbt_project/               | the dbt project to build (a copy of it;  |
|                     |                                       | `dbt parse` runs once if no manifest)    |

DuckDB limits, for every connection of the pipeline (`duckdb_config()`/`connect_duckdb()`) and for dbt
(profiles.yml `config_options`; `export_env` passes the resolved values on):

| variable                | default                                | meaning                               |
|-------------------------|----------------------------------------|---------------------------------------|
| CRM_DUCKDB_MEMORY_LIMIT | 2GiB (half the RAM if that is smaller) | DuckDB memory_limit of each database  |
|                         |                                        | instance (e.g. 700MB, 4GiB)           |
| CRM_DUCKDB_THREADS      | the CPUs this process may use          | DuckDB threads; also dbt's threads    |
| CRM_DUCKDB_TEMP_DIR     | $CRM_WAREHOUSE_DIR/work/tmp            | where DuckDB spills beyond the limit  |

Operations (schedules, sensors, alerts, publishing; see docs/operations.md):

| variable                        | default         | meaning                                            |
|---------------------------------|-----------------|----------------------------------------------------|
| CRM_NIGHTLY_CRON                | 0 2 * * *       | cron of the nightly incremental refresh            |
| CRM_TIMEZONE                    | Asia/Shanghai   | timezone of the cron schedules                     |
| CRM_STALE_AFTER_DAYS            | 1               | alert when the newest complete extract is older    |
| CRM_ALERT_WEBHOOK_URL           | (none)          | POST one JSON message per alert here               |
| CRM_ALERT_WEBHOOK_TIMEOUT       | 10              | seconds; one attempt per alert, never retried      |
| CRM_LOCK_WAIT_SECONDS           | 3600            | Dagster-launched runs wait this long for the lock  |
| CRM_KEEP_SNAPSHOTS              | 7               | published warehouses kept under snapshots/         |
| CRM_PUBLISH_ON_DOMAIN_FAILURE   | block           | block, or keep_previous: failed domains' tables    |
|                                 |                 | are copied from the current serving file           |
| CRM_DATA_DOCS                   | failures        | GX Data Docs pages for `failures` only, or `all`   |
|                                 |                 | validations (~0.4 s each); summary.html lists all  |
| CRM_PUBLISH_RESTRICTED          | 0               | 1: also publish the `restricted` schema (plaintext |
|                                 |                 | personal data); off by default                     |
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PUBLISHED_DB_NAME = "crm.duckdb"
DBT_PROJECT_DIR_ENV = "CRM_DBT_PROJECT_DIR"
REPO_DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
PII_KEY_ENV = "CRM_PII_KEY"
DEMO_PII_KEY = "crm-warehouse-demo-key-not-secret"  # only `crm-warehouse demo` and tests use it
LOCK_NAME = ".crm-warehouse.lock"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_dir: Path
    raw_root: Path
    work_db: Path
    as_of: date | None = None

    @property
    def published_db(self) -> Path:
        return self.warehouse_dir / PUBLISHED_DB_NAME

    @property
    def lock_file(self) -> Path:
        return self.warehouse_dir / LOCK_NAME

    @property
    def parquet_dir(self) -> Path:
        """Parquet copies of each publish (`<publish_id>/<schema>/<table>.parquet`) and the `current` link."""
        return self.warehouse_dir / "parquet"

    @property
    def snapshots_dir(self) -> Path:
        """The last published warehouses, `<publish_id>.duckdb` each."""
        return self.warehouse_dir / "snapshots"

    @property
    def run_history_dir(self) -> Path:
        """Append-only run/alert records (one Parquet file each), writable while no lock is held."""
        return self.warehouse_dir / "ops" / "run_history"

    @property
    def logs_dir(self) -> Path:
        return self.warehouse_dir / "logs"

    @property
    def scratch_dir(self) -> Path:
        """Temporary files of a run (transcoded extracts); safe to delete between runs."""
        return self.warehouse_dir / "work" / "tmp"

    @property
    def duckdb_temp_dir(self) -> Path:
        """DuckDB's spill folder: CRM_DUCKDB_TEMP_DIR, else the scratch folder."""
        return duckdb_temp_dir(self.warehouse_dir)

    def duckdb_config(self) -> dict[str, object]:
        """duckdb.connect(config=...) for this warehouse: see `duckdb_config`."""
        return duckdb_config(self.warehouse_dir)

    def export_env(self) -> None:
        """Put the paths and DuckDB limits into os.environ so dbt (profiles.yml, sources) sees the same
        values; creates the spill folder (see `duckdb_config`)."""
        config = self.duckdb_config()
        os.environ[DUCKDB_MEMORY_LIMIT_ENV] = str(config["memory_limit"])
        os.environ[DUCKDB_THREADS_ENV] = str(config["threads"])
        if os.environ.get(DUCKDB_TEMP_DIR_ENV):  # absolute, as dbt runs in another working directory
            os.environ[DUCKDB_TEMP_DIR_ENV] = str(config["temp_directory"])
        os.environ["CRM_LANDING_DIR"] = str(self.landing_dir)
        os.environ["CRM_WAREHOUSE_DIR"] = str(self.warehouse_dir)
        os.environ["RAW_ROOT"] = str(self.raw_root)
        os.environ["CRM_WORK_DB"] = str(self.work_db)
        if self.as_of:
            os.environ["CRM_AS_OF"] = self.as_of.isoformat()
        else:
            os.environ.pop("CRM_AS_OF", None)


DUCKDB_MEMORY_LIMIT_ENV = "CRM_DUCKDB_MEMORY_LIMIT"
DUCKDB_THREADS_ENV = "CRM_DUCKDB_THREADS"
DUCKDB_TEMP_DIR_ENV = "CRM_DUCKDB_TEMP_DIR"
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def default_memory_limit() -> str:
    """2 GiB, or half the physical memory when that is less. The issue-11 budget is a peak RSS of 3 GiB
    per run: the Python side (Dagster, pandas, scikit-learn, GX) needs ~1 GiB besides DuckDB, and
    memory_limit bounds DuckDB's buffer manager, not every allocation. DuckDB's own default (80 % of the
    RAM, ~19 GiB on a 24 GiB machine) would let one big join take the whole machine instead of spilling."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 0
    limit = min(DEFAULT_MEMORY_LIMIT_BYTES, ram // 2) if ram > 0 else DEFAULT_MEMORY_LIMIT_BYTES
    limit = max(limit, 256 * 1024**2)
    return f"{limit // 1024**3}GiB" if limit % 1024**3 == 0 else f"{limit // 1024**2}MiB"


def default_threads() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def duckdb_temp_dir(warehouse_dir: Path | None = None) -> Path:
    """CRM_DUCKDB_TEMP_DIR, else `<warehouse>/work/tmp` (the warehouse given, else CRM_WAREHOUSE_DIR),
    else (a library call outside any warehouse) a folder under the system temp dir."""
    raw = os.environ.get(DUCKDB_TEMP_DIR_ENV)
    if raw:
        return Path(raw).expanduser().resolve()
    if warehouse_dir is None and os.environ.get("CRM_WAREHOUSE_DIR"):
        warehouse_dir = Path(os.environ["CRM_WAREHOUSE_DIR"])
    if warehouse_dir is None:
        return Path(tempfile.gettempdir()) / "crm-warehouse-duckdb"
    return Path(warehouse_dir).resolve() / "work" / "tmp"


def duckdb_config(warehouse_dir: Path | None = None) -> dict[str, object]:
    """The DuckDB config of every connection the pipeline opens: memory_limit, threads, temp_directory
    (CRM_DUCKDB_* or their defaults; see the table at the top), checked. The spill folder is created here:
    DuckDB deletes a temp_directory it created itself when the database closes, even while another
    process (dbt) spills into it."""
    from orchestration.errors import CrmWarehouseError

    memory = (os.environ.get(DUCKDB_MEMORY_LIMIT_ENV) or "").strip() or default_memory_limit()
    if not _MEMORY.fullmatch(memory):
        raise CrmWarehouseError(
            f"{DUCKDB_MEMORY_LIMIT_ENV}={memory!r}: expected a size such as 700MB, 2GiB or 8GB"
        )
    threads = _env_int(DUCKDB_THREADS_ENV, 0, minimum=1) or default_threads()
    temp = duckdb_temp_dir(warehouse_dir)
    try:
        temp.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CrmWarehouseError(
            f"{DUCKDB_TEMP_DIR_ENV}: cannot create DuckDB's spill folder {temp} ({exc.strerror}); "
            "point it at a writable folder"
        ) from None
    return {"memory_limit": memory, "threads": threads, "temp_directory": str(temp)}


def connect_duckdb(database: str | Path = ":memory:", *, read_only: bool = False,
                   warehouse_dir: Path | None = None, **overrides):
    """duckdb.connect with `duckdb_config()` (plus `overrides`, e.g. threads=1). Two connections to one
    file in one process must have the same config (DuckDB refuses a second one otherwise)."""
    import duckdb

    config = {**duckdb_config(warehouse_dir), **overrides}
    return duckdb.connect(str(database), read_only=read_only, config=config)


def dbt_project_dir() -> Path:
    """The dbt project the pipeline builds and reads its manifest from: CRM_DBT_PROJECT_DIR (a folder with
    dbt_project.yml and profiles.yml, e.g. a site's copy of dbt_project/), else the repo's dbt_project/."""
    from orchestration.errors import CrmWarehouseError

    raw = (os.environ.get(DBT_PROJECT_DIR_ENV) or "").strip()
    if not raw:
        return REPO_DBT_PROJECT_DIR
    path = Path(raw).expanduser().resolve()
    for needed in ("dbt_project.yml", "profiles.yml"):
        if not (path / needed).is_file():
            raise CrmWarehouseError(
                f"{DBT_PROJECT_DIR_ENV}={raw}: {path / needed} does not exist; point it at a copy of the "
                "repo's dbt_project/ folder, or unset it to build the repo's own project"
            )
    return path


def dbt_manifest_path() -> Path:
    """The manifest of `dbt_project_dir()` (target/manifest.json; built by `make parse` or at first use)."""
    return dbt_project_dir() / "target" / "manifest.json"


def require_pii_key() -> None:
    """Personal data is hashed with HMAC-SHA256 keyed by CRM_PII_KEY; a run without it must not start."""
    from orchestration.errors import CrmWarehouseError

    if not os.environ.get(PII_KEY_ENV):
        raise CrmWarehouseError(
            f"{PII_KEY_ENV} is not set: it is the secret key for hashing personal data (HMAC-SHA256). "
            f"Set it in the environment (e.g. from your secret store); `crm-warehouse demo` uses a demo key"
        )


def load_settings(
    landing_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    as_of: date | None = None,
) -> Settings:
    """Settings from explicit arguments first, then environment variables, then defaults."""
    env = os.environ
    landing = Path(landing_dir or env.get("CRM_LANDING_DIR") or "landing").resolve()
    warehouse = Path(warehouse_dir or env.get("CRM_WAREHOUSE_DIR") or "warehouse").resolve()
    explicit_wh = warehouse_dir is not None
    raw_root = Path(warehouse / "raw" if explicit_wh else env.get("RAW_ROOT") or warehouse / "raw").resolve()
    work_db = Path(
        warehouse / "work" / "crm_work.duckdb" if explicit_wh else env.get("CRM_WORK_DB")
        or warehouse / "work" / "crm_work.duckdb"
    ).resolve()
    if as_of is None and env.get("CRM_AS_OF"):
        as_of = date.fromisoformat(env["CRM_AS_OF"])
    return Settings(landing, warehouse, raw_root, work_db, as_of)


PUBLISH_POLICIES = ("block", "keep_previous")


@dataclass(frozen=True)
class OpsSettings:
    """Operations settings: schedules, alerts, lock waiting, snapshots, publish policy."""

    nightly_cron: str = "0 2 * * *"
    timezone: str = "Asia/Shanghai"
    stale_after_days: int = 1
    alert_webhook_url: str | None = None
    alert_webhook_timeout: float = 10.0
    lock_wait_seconds: int = 3600
    keep_snapshots: int = 7
    publish_on_domain_failure: str = "block"
    data_docs_all: bool = False


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    from orchestration.errors import CrmWarehouseError

    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CrmWarehouseError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise CrmWarehouseError(f"{name}={raw!r}: must be >= {minimum}")
    return value


def load_ops_settings() -> OpsSettings:
    """Operations settings from CRM_* environment variables (see the table at the top), checked."""
    from orchestration.errors import CrmWarehouseError

    env = os.environ
    policy = (env.get("CRM_PUBLISH_ON_DOMAIN_FAILURE") or "block").strip().lower()
    if policy not in PUBLISH_POLICIES:
        raise CrmWarehouseError(
            f"CRM_PUBLISH_ON_DOMAIN_FAILURE={policy!r}: expected one of {', '.join(PUBLISH_POLICIES)}"
        )
    try:
        timeout = float(env.get("CRM_ALERT_WEBHOOK_TIMEOUT") or 10)
    except ValueError:
        raise CrmWarehouseError("CRM_ALERT_WEBHOOK_TIMEOUT: expected a number of seconds") from None
    return OpsSettings(
        nightly_cron=(env.get("CRM_NIGHTLY_CRON") or "0 2 * * *").strip(),
        timezone=(env.get("CRM_TIMEZONE") or "Asia/Shanghai").strip(),
        stale_after_days=_env_int("CRM_STALE_AFTER_DAYS", 1),
        alert_webhook_url=env.get("CRM_ALERT_WEBHOOK_URL") or None,
        alert_webhook_timeout=timeout,
        lock_wait_seconds=_env_int("CRM_LOCK_WAIT_SECONDS", 3600),
        keep_snapshots=_env_int("CRM_KEEP_SNAPSHOTS", 7, minimum=1),
        publish_on_domain_failure=policy,
        data_docs_all=_data_docs_mode(env.get("CRM_DATA_DOCS")) == "all",
    )


def _data_docs_mode(raw: str | None) -> str:
    from orchestration.errors import CrmWarehouseError

    mode = (raw or "failures").strip().lower()
    if mode not in ("failures", "all"):
        raise CrmWarehouseError(f"CRM_DATA_DOCS={raw!r}: expected failures or all")
    return mode


PUBLISH_RESTRICTED_ENV = "CRM_PUBLISH_RESTRICTED"


def publish_restricted() -> bool:
    """The explicit opt-in to publish the `restricted` schema (full personal data): CRM_PUBLISH_RESTRICTED=1."""
    from orchestration.errors import CrmWarehouseError

    raw = (os.environ.get(PUBLISH_RESTRICTED_ENV) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise CrmWarehouseError(f"{PUBLISH_RESTRICTED_ENV}={raw!r}: expected 1 (publish the restricted schema) or 0")
