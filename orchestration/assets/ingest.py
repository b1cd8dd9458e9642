"""Ingest stage: nightly extract files -> raw zone (Parquet) -> ops load tables in the work file."""


from datetime import date

import dagster as dg

from orchestration import contract
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.raw import landing, nights
from orchestration.raw.loader import load_new_extracts
from orchestration.raw.ops_tables import rebuild_ops_tables
from orchestration.settings import connect_duckdb
from orchestration.site import load_site
from orchestration.site_scope import write_module_status

INGEST_GROUP = "ingest"
RAW_KEYS = {e.name: dg.AssetKey(["raw", e.name]) for e in contract.ENTITIES}
SCHEMA_WARNINGS = "schema_warnings"  # raw asset metadata: one line per file whose columns differ from the contract
OPS_LOAD_KEYS = {t: dg.AssetKey(["ops", t]) for t in ("quarantine", "data_issues", "load_audit", "module_status")}


class IngestConfig(dg.Config):
    """Run options for the ingest step."""

    reload_dates: list[str] = []  # extract dates (YYYY-MM-DD) to replace on purpose (`crm-warehouse reload`)


def resolve_as_of(warehouse: WarehouseResource) -> date | None:
    """The run's logical date: CRM_AS_OF if set, else the newest complete extract date."""
    settings = warehouse.settings()
    if settings.as_of:
        return settings.as_of
    dates = landing.complete_extract_dates(settings.landing_dir)
    return dates[-1] if dates else None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name=INGEST_GROUP,
            description=f"Raw zone for `{name}` ({contract.entity(name).kind}): accepted rows of every extract "
            "file as Parquet with lineage columns (_extract_date, _source_file, _source_line, _loaded_at).",
            kinds={"parquet", "duckdb"},
        )
        for name, key in RAW_KEYS.items()
    ],
    can_subset=False,
)
def raw_extracts(
    context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource, hooks: RunHooks
):
    """Reads every complete, not-yet-loaded extract folder under CRM_LANDING_DIR (up to as_of) and writes
    the raw zone under RAW_ROOT: one Parquet file per extract file plus its quarantine, field issues,
    orphan rows and an audit record; then releases orphans whose parent arrived. Grain: one row per
    accepted CSV record."""
    hooks.reached("ingest")
    settings = warehouse.settings()
    as_of = resolve_as_of(warehouse)
    reload_dates = tuple(date.fromisoformat(d) for d in config.reload_dates)
    for warning in landing.skipped_folder_warnings(settings.landing_dir):  # the CLI prints them too
        context.log.warning(warning)
    summary = load_new_extracts(
        settings.landing_dir,
        settings.raw_root,
        settings.scratch_dir,
        as_of=as_of,
        reload_dates=reload_dates,
        progress=context.log.info,
    )
    if summary.rolled_back:
        context.log.warning(f"rolled back extract day(s) {', '.join(map(str, summary.rolled_back))} left by a run "
                            "that stopped before its raw gates passed; loading them again")
    context.log.info(
        f"as_of={as_of}: loaded {len(summary.loaded)} files, {len(summary.skipped)} already loaded, "
        f"{summary.released} late-arriving rows released"
    )
    for name, key in RAW_KEYS.items():
        files = [r for r in summary.loaded if r.entity == name]
        schema_warnings = [line for r in files for line in r.schema_warnings()]
        for line in schema_warnings:  # extra columns kept in extra_fields, optional columns missing
            context.log.warning(line)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "as_of": str(as_of),
                "files_loaded": len(files),
                "rows_in_files": sum(r.rows_in_file for r in files),
                "rows_accepted": sum(r.rows_accepted for r in files),
                "rows_quarantined": sum(r.rows_quarantined for r in files),
                SCHEMA_WARNINGS: dg.MetadataValue.json(schema_warnings),
            },
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name=INGEST_GROUP,
            deps=list(RAW_KEYS.values()),
            description=desc,
            kinds={"duckdb"},
        )
        for key, desc in (
            (OPS_LOAD_KEYS["quarantine"], "One row per rejected CSV record: entity, file, line, column, reason "
             "code, status (quarantined/released). Grain: (file, line)."),
            (OPS_LOAD_KEYS["data_issues"], "One row per field-level defect (value nulled, row kept). "
             "Grain: (file, line, column)."),
            (OPS_LOAD_KEYS["load_audit"], "One row per loaded extract file: sha256 and "
             "rows_in_file = rows_loaded + rows_quarantined. Grain: file."),
            (OPS_LOAD_KEYS["module_status"], "One row per CRM module: present, partial or absent on this site "
             "(crm.yml), the entities delivered and not, the marts that are empty by configuration. Grain: module."),
        )
    ],
    can_subset=False,
)
def ops_load_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Reads the raw zone's metadata Parquet and the site configuration (crm.yml) and rebuilds
    ops.quarantine, ops.data_issues, ops.load_audit and ops.module_status in the work file from scratch (so
    re-runs never double them)."""
    settings = warehouse.settings()
    settings.work_db.parent.mkdir(parents=True, exist_ok=True)
    with connect_duckdb(settings.work_db, warehouse_dir=settings.warehouse_dir) as con:
        counts = rebuild_ops_tables(con, settings.raw_root)
        counts["module_status"] = write_module_status(con, load_site(settings.landing_dir))
        by_reason = con.execute(
            "SELECT reason, count(*) FROM ops.quarantine WHERE status = 'quarantined' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        unbalanced = con.execute(
            "SELECT count(*) FROM ops.load_audit WHERE rows_in_file <> rows_loaded + rows_quarantined"
        ).fetchall()[0][0]
    if unbalanced:
        raise dg.Failure(f"{unbalanced} files in ops.load_audit do not reconcile (rows_in_file <> loaded + quarantined)")
    committed = nights.commit(settings.raw_root)  # runs only once every raw gate passed (blocking checks)
    if committed:
        context.log.info(f"extract day(s) {', '.join(map(str, committed))} passed the raw gates: committed")
    context.log.info(f"ops tables rebuilt: {counts}; quarantined by reason: {dict(by_reason)}")
    for name, key in OPS_LOAD_KEYS.items():
        meta = {"rows": counts[name]}
        if name == "quarantine":
            meta["quarantined_by_reason"] = dg.MetadataValue.json({r: n for r, n in by_reason})
        yield dg.MaterializeResult(asset_key=key, metadata=meta)
