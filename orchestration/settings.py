"""Configuration: a few environment variables with safe defaults, read in this one module.

| variable            | default                               | meaning                                  |
|---------------------|---------------------------------------|------------------------------------------|
| CRM_LANDING_DIR     | ./landing                             | where nightly extract folders arrive     |
| CRM_WAREHOUSE_DIR   | ./warehouse                           | published file, raw zone, work file, ... |
| RAW_ROOT            | $CRM_WAREHOUSE_DIR/raw                | the raw zone (Parquet)                   |
| CRM_WORK_DB         | $CRM_WAREHOUSE_DIR/work/crm_work.duckdb | the private build file (dbt target)    |
| CRM_AS_OF           | newest complete extract date          | logical date of the run (YYYY-MM-DD)     |
| CRM_PII_KEY         | (none: required by `run`; `demo` uses a public demo key) | HMAC key for PII hashes |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PUBLISHED_DB_NAME = "crm.duckdb"
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
    def scratch_dir(self) -> Path:
        """Temporary files of a run (transcoded extracts); safe to delete between runs."""
        return self.warehouse_dir / "work" / "tmp"

    def export_env(self) -> None:
        """Put the paths into os.environ so dbt (profiles.yml, sources) sees the same values."""
        os.environ["CRM_LANDING_DIR"] = str(self.landing_dir)
        os.environ["CRM_WAREHOUSE_DIR"] = str(self.warehouse_dir)
        os.environ["RAW_ROOT"] = str(self.raw_root)
        os.environ["CRM_WORK_DB"] = str(self.work_db)
        if self.as_of:
            os.environ["CRM_AS_OF"] = self.as_of.isoformat()
        else:
            os.environ.pop("CRM_AS_OF", None)


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
