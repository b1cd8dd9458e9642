"""dbt docs for analysts: every model, column description, test and the lineage graph as one static page,
`WAREHOUSE/dbt_docs/index.html` (no server needed; open it in a browser).

`dbt docs generate --static` compiles the project and reads the catalog (column types, row counts — no
data values) from the work file, so it runs under the writer lock like a run does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from orchestration.durable import atomic_write
from orchestration.errors import CrmWarehouseError
from orchestration.lock import warehouse_lock
from orchestration.settings import Settings

DOCS_DIR = "dbt_docs"  # under the warehouse folder


def dbt_docs_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / DOCS_DIR / "index.html"


def build_dbt_docs(settings: Settings) -> Path:
    """Generate the static dbt docs page from the work file; returns its path. Raises CrmWarehouseError
    (one line, naming the dbt log) when the work file does not exist yet or dbt fails."""
    from orchestration.assets.dbt import DBT_PROJECT_DIR, dbt_executable

    if not settings.work_db.exists():
        raise CrmWarehouseError(f"{settings.work_db}: no work file yet; run `crm-warehouse run` first")
    target = settings.scratch_dir / "dbt_docs_target"
    shutil.rmtree(target, ignore_errors=True)
    with warehouse_lock(settings.lock_file, "crm-warehouse docs"):
        settings.export_env()
        proc = subprocess.run(
            [dbt_executable(), "docs", "generate", "--static", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)],
            capture_output=True, text=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )
    page = target / "static_index.html"
    if proc.returncode != 0 or not page.is_file():
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise CrmWarehouseError(f"dbt docs generate failed: {last[0]} (log: {target / 'dbt.log'})")
    out = dbt_docs_path(settings.warehouse_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: shutil.copyfile(page, tmp))
    shutil.rmtree(target, ignore_errors=True)
    return out
