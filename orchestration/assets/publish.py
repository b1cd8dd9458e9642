"""Publish stage: copy the BI-facing schemas of the work file into a new serving file, atomically."""


import dagster as dg

from orchestration.assets.dbt import crm_dbt_models
from orchestration.assets.ingest import OPS_LOAD_KEYS, resolve_as_of
from orchestration.assets.resources import WarehouseResource
from orchestration.serving.publish import publish


@dg.asset(
    key=dg.AssetKey(["serving", "crm_duckdb"]),
    group_name="publish",
    deps=[*crm_dbt_models.keys, *OPS_LOAD_KEYS.values()],
    kinds={"duckdb"},
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Reads the work file's published schemas (marts, ml, reports, ops; raw text withheld) and writes
    CRM_WAREHOUSE_DIR/crm.duckdb by building a new file and os.replace-ing it (BI readers never see a
    half-written file). Grain: one file per publish; ops.publish_log gets one row per table."""
    settings = warehouse.settings()
    result = publish(settings.work_db, settings.published_db, resolve_as_of(warehouse))
    context.log.info(f"published {len(result.tables)} tables to {result.path} as {result.publish_id}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "publish_id": result.publish_id,
            "tables": dg.MetadataValue.json(result.tables),
        }
    )
