"""Transform stage: the dbt project (staging -> intermediate -> marts -> reports) as Dagster assets.

The manifest is built once at set-up (`make` runs `dbt parse`), not on every Definitions load; dbt tests
load as asset checks (source tests too).
"""


import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.assets.ingest import resolve_as_of
from orchestration.assets.resources import WarehouseResource

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def dbt_executable() -> str:
    """The dbt next to this Python (the project's virtualenv), else whatever is on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def ensure_manifest(project: DbtProject) -> None:
    """`make` builds the manifest at set-up; a bare checkout builds it once here, with a log line."""
    if project.manifest_path.exists():
        return
    print(f"dbt manifest missing at {project.manifest_path}; running `dbt parse` once", file=sys.stderr)
    subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(project.project_dir), "--profiles-dir",
         str(project.profiles_dir), "--quiet"],
        check=True,
    )


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
ensure_manifest(dbt_project)


class CrmDbtTranslator(DagsterDbtTranslator):
    """Asset keys are <schema>/<model> (staging/stg_crm__orders, marts/dim_customers); groups follow the
    layer folder; sources map to the raw assets through their `meta.dagster.asset_key`."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]  # staging, intermediate, marts, reports, ops
        return super().get_group_name(dbt_resource_props)

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props.get("resource_type") in ("model", "snapshot", "seed"):
            schema = dbt_resource_props.get("config", {}).get("schema") or "main"
            return dg.AssetKey([schema, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)


class DbtRunConfig(dg.Config):
    full_refresh: bool = False  # rebuild incremental models from scratch


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=CrmDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
)
def crm_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtRunConfig
):
    """Reads the raw zone (dbt sources over RAW_ROOT Parquet) and builds every dbt model and test in the
    work file (CRM_WORK_DB): staging views, intermediate, marts, reports. Grain: see each model."""
    as_of = resolve_as_of(warehouse)
    args = ["build"] + (["--full-refresh"] if config.full_refresh else [])
    if as_of is not None:  # every relative rule (churn, windows, recency) uses the run's logical date
        args += ["--vars", json.dumps({"as_of": as_of.isoformat()})]
    yield from dbt.cli(args, context=context).stream()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())
