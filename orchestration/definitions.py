"""Dagster definitions: gathers the assets, jobs and resources of each stage (nothing else lives here)."""

import dagster as dg

from orchestration.assets.dbt import crm_dbt_models, dbt_resource
from orchestration.assets.ingest import ops_load_tables, raw_extracts
from orchestration.assets.publish import published_warehouse
from orchestration.assets.resources import WarehouseResource
from orchestration.jobs import warehouse_job

defs = dg.Definitions(
    assets=[raw_extracts, ops_load_tables, crm_dbt_models, published_warehouse],
    jobs=[warehouse_job],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
