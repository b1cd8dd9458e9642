"""Transform stage: the dbt project (staging -> intermediate -> marts -> reports) as Dagster assets.

The manifest is built once at set-up (`make` runs `dbt parse`), not on every Definitions load; dbt tests
load as asset checks (source tests too).
"""


import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging.version import Version

from orchestration import contract, site_scope
from orchestration.assets.dbt_failures import summary as dbt_failure_summary
from orchestration.assets.ingest import resolve_as_of
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.errors import CrmWarehouseError
from orchestration.passthrough import PASSTHROUGH_ENV, passthrough_env
from orchestration.raw.zone import RawZone
from orchestration.settings import dbt_project_dir
from orchestration.site import load_site

DBT_PROJECT_DIR = dbt_project_dir()  # CRM_DBT_PROJECT_DIR, else the repo's dbt_project/ (settings.py)
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def dbt_executable() -> str:
    """The dbt next to this Python (the project's virtualenv), else whatever is on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def ensure_manifest(project: DbtProject) -> None:
    """`make` builds the manifest at set-up; a bare checkout (or a CRM_DBT_PROJECT_DIR copy without target/)
    builds it once here, with a log line; a project dbt cannot parse is a CrmWarehouseError naming it."""
    if project.manifest_path.exists():
        return
    print(f"dbt manifest missing at {project.manifest_path}; running `dbt parse` once", file=sys.stderr)
    proc = subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(project.project_dir), "--profiles-dir",
         str(project.profiles_dir), "--quiet"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0 or not project.manifest_path.exists():
        said = " ".join((proc.stdout + proc.stderr).split())[-600:] or "no output"
        raise CrmWarehouseError(
            f"dbt parse of {project.project_dir} failed: {said}; fix the model or yml it names and re-run"
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


# dbt unit tests check SQL logic on hand-built rows, not the data: like dbt advises for production, the
# nightly build leaves them out (they ran ~4 s of a 17 s build); tests/test_dbt_unit_tests.py runs them all.
NIGHTLY_BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]

# reports.rpt_campaign reads ml.campaign_effects (a dbt source written by the ML step), so it is built by its
# own asset after the ML assets (orchestration/assets/ml.py), not with the rest of the project.
CAMPAIGN_REPORT_MODEL = "rpt_campaign"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=CAMPAIGN_REPORT_MODEL,
    dagster_dbt_translator=CrmDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
)
def crm_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    hooks: RunHooks,
    config: DbtRunConfig,
):
    """Reads the raw zone (dbt sources over RAW_ROOT Parquet) and builds every dbt model and test in the
    work file (CRM_WORK_DB): staging views, intermediate, marts, reports. Grain: see each model."""
    hooks.reached("dbt")
    as_of = resolve_as_of(warehouse)
    zone = RawZone(warehouse.settings().raw_root)
    rebuild_reasons = zone.rebuild_reasons()  # e.g. a reloaded extract day: incremental models are stale
    full_refresh = config.full_refresh or bool(rebuild_reasons)
    if rebuild_reasons and not config.full_refresh:
        context.log.info(f"full refresh of incremental models: {'; '.join(rebuild_reasons)}")
    args = NIGHTLY_BUILD_ARGS + (["--full-refresh"] if full_refresh else []) + site_test_exclusions(context)
    with dbt_as_of(as_of):  # every relative rule (churn, windows, recency) uses the run's logical date
        invocation = dbt.cli(args, context=context, target_path=dbt_target_path(warehouse))
    yield from stream_or_explain(invocation, warehouse)
    zone.clear_rebuild()  # reached only when dbt build succeeded


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=CAMPAIGN_REPORT_MODEL,
    name="crm_dbt_campaign_report",
    dagster_dbt_translator=CrmDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
)
def crm_dbt_campaign_report(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Reads marts.dim_campaigns, fct_campaign_members, fct_campaign_daily and the primary estimates of
    ml.campaign_effects (dbt source `ml`, written by the ML step) and builds reports.rpt_campaign with its
    tests. Grain: one row per campaign_id."""
    with dbt_as_of(resolve_as_of(warehouse)):
        invocation = dbt.cli(NIGHTLY_BUILD_ARGS + site_test_exclusions(context), context=context,
                             target_path=dbt_target_path(warehouse))
    yield from stream_or_explain(invocation, warehouse)


def stream_or_explain(invocation, warehouse: WarehouseResource) -> Iterator:
    """The invocation's Dagster events; when dbt fails, a CrmWarehouseError naming every failed model or
    test (from dbt's run_results.json; orchestration/assets/dbt_failures.py), dbt's own error as its cause."""
    try:
        yield from invocation.stream()
    except DagsterDbtCliRuntimeError as error:
        try:
            message = dbt_failure_summary(
                invocation.get_artifact("run_results.json"), invocation.manifest, warehouse.settings().work_db
            )
        except (OSError, ValueError):  # dbt died before writing its results: dagster-dbt's error says why
            message = None
        if message is None:
            raise
        raise CrmWarehouseError(message) from error


def site_test_exclusions(context: dg.AssetExecutionContext) -> list[str]:
    """`--exclude <tests>` for the dbt tests on models fed only by entities this site does not deliver
    (crm.yml; orchestration/site_scope.py): those models build empty and are not tested."""
    site = load_site()
    skipped = site_scope.skipped_tests(site)
    if not skipped:
        return []
    context.log.info(
        f"site {site.name} ({site.source}) does not deliver {', '.join(sorted(set(contract.LOAD_ORDER) - set(site.entities)))}: "
        f"{len(skipped)} dbt tests on the models they feed are skipped"
    )
    return ["--exclude", " ".join(skipped)]


AS_OF_ENV = "CRM_AS_OF"  # read by the dbt macro customer_as_of_literal() (macros/customer_dates.sql)


CURRENCY_ENV = "CRM_SITE_CURRENCY"  # read by the dbt macro site_currency_literal() (macros/site_currency.sql)
RFM_WINDOW_ENV = "CRM_ML_RFM_WINDOW_DAYS"  # read by the dbt macro ml_rfm_window_days() (macros/ml_inputs.sql)


@contextmanager
def dbt_as_of(as_of: date | None) -> Iterator[None]:
    """CRM_AS_OF set to the run's logical date, CRM_SITE_CURRENCY to the site currency,
    CRM_ML_RFM_WINDOW_DAYS to the segmentation's RFM window (crm.yml; unset = full history) and
    CRM_SITE_PASSTHROUGH to the site's passthrough columns (JSON; orchestration/passthrough.py) while a
    dbt invocation is prepared (dagster-dbt copies os.environ into the dbt process when `cli()` is called),
    then restored. Environment variables, not `--vars`: dbt re-parses the whole project (~4 s more per
    invocation) whenever vars change, but only the files that read an environment variable when its value
    changes."""
    site = load_site()
    rfm_window = site.ml.rfm_window_days
    values = {AS_OF_ENV: as_of.isoformat() if as_of else None, CURRENCY_ENV: site.currency,
              RFM_WINDOW_ENV: str(rfm_window) if rfm_window else None,
              PASSTHROUGH_ENV: passthrough_env(site.passthrough)}
    before = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_target_path(warehouse: WarehouseResource) -> Path:
    """dbt's artifacts (run_results, dbt.log, partial_parse.msgpack) for this warehouse, one folder reused by
    every dbt step of every run (they run one after the other under the writer lock). dbt re-parses the
    whole project (~8 s on 2 cores instead of ~4 s) when the profile (the work-file path) differs from its
    last parse, i.e. on the first run of a new warehouse; later steps partial-parse on the saved state."""
    return warehouse.settings().warehouse_dir / "work" / "dbt_target"


class CrmDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs this project does not need (~4.6 s per dbt
    step on 2 cores, measured): it runs `dbt --version` in a subprocess to learn the dbt version, and it
    loads a dbt adapter in the Dagster process, which is only used to fetch column metadata
    (`fetch_column_metadata`, not called here). The version comes from the installed dbt-core package when
    the executable is this virtualenv's dbt; otherwise dagster-dbt's own behaviour is kept."""

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            return Version(installed_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    return CrmDbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )
