"""Publish stage: copy the BI-facing schemas of the work file into a new serving file (and Parquet),
atomically, keeping snapshots of the last publishes."""

import json
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.assets.dbt import DBT_PROJECT_DIR, crm_dbt_campaign_report, crm_dbt_models
from orchestration.assets.ingest import OPS_LOAD_KEYS, resolve_as_of
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.errors import CrmWarehouseError
from orchestration.ml_assets.assets import ML_KEYS
from orchestration.serving.publish import PublishResult, publish
from orchestration.settings import load_ops_settings

PREVIEW_TABLES = ("ops.load_audit",)  # small tables shown as a few-row preview in the UI
PREVIEW_ROWS = 5


class PublishConfig(dg.Config):
    """Keep-previous policy (only with CRM_PUBLISH_ON_DOMAIN_FAILURE=keep_previous): tables of these
    failed domains are copied from the current serving file instead of the work file."""

    failed_domains: list[str] = []  # dbt model folders, e.g. ["service"] -> every model under marts/service/
    keep_previous_tables: list[str] = []  # explicit patterns: "marts.fct_tickets", "marts.service_*", "ml"


def domain_patterns(domains: list[str], manifest_path: Path | None = None) -> list[str]:
    """`schema.table` patterns of every dbt model in a folder named like one of `domains`
    (models/marts/<domain>/..., models/reports/<domain>/...), from the dbt manifest."""
    if not domains:
        return []
    manifest_path = manifest_path or DBT_PROJECT_DIR / "target" / "manifest.json"
    nodes = json.loads(manifest_path.read_text(encoding="utf-8")).get("nodes", {})
    wanted = set(domains)
    out = []
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        folders = node.get("fqn", [])[1:-1]
        if wanted & set(folders[1:]):
            schema = node.get("config", {}).get("schema") or node.get("schema")
            out.append(f"{schema}.{node.get('alias') or node['name']}")
    unknown = wanted - {f for n in nodes.values() for f in n.get("fqn", [])[2:-1]}
    if unknown:
        raise CrmWarehouseError(f"failed_domains {sorted(unknown)}: no dbt model folder of that name")
    return sorted(out)


def _preview(published: Path, table: str) -> str | None:
    """A markdown table of the first rows of a small published table (cheap: read-only, LIMIT)."""
    schema, name = table.split(".", 1)
    try:
        with duckdb.connect(str(published), read_only=True) as con:
            rel = con.sql(f'SELECT * FROM "{schema}"."{name}" LIMIT {PREVIEW_ROWS}')
            cols, rows = rel.columns, rel.fetchall()
    except duckdb.Error:
        return None
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in r) + " |" for r in rows]
    return "\n".join(lines)


def publish_metadata(result: PublishResult) -> dict:
    table_md = ["| table | rows | source |", "|---|---:|---|"] + [
        f"| {name} | {rows:,} | {result.table_sources.get(name, '')} |" for name, rows in sorted(result.tables.items())
    ]
    meta = {
        "path": dg.MetadataValue.path(str(result.path)),
        "parquet_current": dg.MetadataValue.path(str(result.path.parent / "parquet" / "current")),
        "snapshot": dg.MetadataValue.path(str(result.snapshot)) if result.snapshot else None,
        "publish_id": result.publish_id,
        "as_of": str(result.as_of),
        "duration_s": dg.MetadataValue.float(result.seconds),
        "table_count": len(result.tables),
        "dagster/row_count": sum(result.tables.values()),
        "tables": dg.MetadataValue.md("\n".join(table_md)),
        "row_counts": dg.MetadataValue.json(result.tables),
        "kept_previous": dg.MetadataValue.json(list(result.kept_previous)),
    }
    report = result.path.parent / "report" / "index.html"
    if report.exists():
        meta["report"] = dg.MetadataValue.path(str(report))
    for table in PREVIEW_TABLES:
        if table in result.tables:
            md = _preview(result.path, table)
            if md:
                meta[f"preview {table}"] = dg.MetadataValue.md(md)
    return {k: v for k, v in meta.items() if v is not None}


@dg.asset(
    key=dg.AssetKey(["serving", "crm_duckdb"]),
    group_name="publish",
    deps=[*crm_dbt_models.keys, *crm_dbt_campaign_report.keys, *ML_KEYS.values(), *OPS_LOAD_KEYS.values()],
    kinds={"duckdb", "parquet"},
)
def published_warehouse(
    context: dg.AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource, hooks: RunHooks
) -> dg.MaterializeResult:
    """Reads the work file's published schemas (every TABLE of marts, ml, reports, ops; raw text withheld)
    and the run history records, and writes CRM_WAREHOUSE_DIR/crm.duckdb by building a new file and
    os.replace-ing it (BI readers never see a half-written file), Parquet copies under
    parquet/<publish_id>/ switched in through the parquet/current link, and a snapshot under snapshots/
    (the last CRM_KEEP_SNAPSHOTS kept). Grain: one file per publish; ops.publish_log gets one row per table."""
    settings = warehouse.settings()
    ops = load_ops_settings()
    keep = [*config.keep_previous_tables, *domain_patterns(config.failed_domains)]
    if keep and ops.publish_on_domain_failure != "keep_previous":
        raise dg.Failure(
            f"failed domains/tables {config.failed_domains + config.keep_previous_tables}: the publish policy is "
            "'block' (CRM_PUBLISH_ON_DOMAIN_FAILURE), so nothing is published and BI keeps the previous "
            "warehouse; set CRM_PUBLISH_ON_DOMAIN_FAILURE=keep_previous to publish the other domains"
        )
    result = publish(
        settings.work_db,
        settings.published_db,
        resolve_as_of(warehouse),
        keep_previous=keep,
        keep_snapshots=ops.keep_snapshots,
        log=context.log.info,
        before_switch=lambda: hooks.reached("publish"),
    )
    context.log.info(
        f"published {len(result.tables)} tables to {result.path} as {result.publish_id} in {result.seconds:.1f} s"
        + (f"; kept from the previous publish: {', '.join(result.kept_previous)}" if result.kept_previous else "")
    )
    return dg.MaterializeResult(metadata=publish_metadata(result))
