"""Jobs: the whole warehouse refresh (ingest -> dbt -> publish), run in one process so one writer holds
the work file at a time."""

import dagster as dg

WAREHOUSE_RUN_TAGS = {"crm-warehouse/writer": "warehouse"}  # dagster.yaml limits this tag to 1 run at a time

warehouse_job = dg.define_asset_job(
    "warehouse_refresh",
    selection=dg.AssetSelection.all(),
    description="Load new extracts, rebuild ops tables, run dbt build, publish crm.duckdb.",
    tags=WAREHOUSE_RUN_TAGS,
    executor_def=dg.in_process_executor,
)
