"""Dagster definitions: gathers the assets, jobs, schedules, sensors and resources of each stage (nothing
else lives here)."""

import dagster as dg

from orchestration.assets.checks import RAW_CHECKS
from orchestration.assets.dbt import crm_dbt_campaign_report, crm_dbt_models, dbt_resource
from orchestration.assets.ingest import ops_load_tables, raw_extracts
from orchestration.assets.mart_gates import marts_have_rows
from orchestration.assets.publish import published_warehouse
from orchestration.assets.report import report_index_html
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.jobs import warehouse_job
from orchestration.ml_assets.assets import ML_ASSETS, ml_retrain_job, ml_weekly_retrain_schedule
from orchestration.schedules import JOBS, SCHEDULES
from orchestration.sensors import SENSORS

defs = dg.Definitions(
    assets=[raw_extracts, ops_load_tables, crm_dbt_models, *ML_ASSETS, crm_dbt_campaign_report, published_warehouse,
            report_index_html],
    asset_checks=[*RAW_CHECKS, marts_have_rows],
    jobs=[warehouse_job, *JOBS, ml_retrain_job],
    schedules=[*SCHEDULES, ml_weekly_retrain_schedule],
    sensors=SENSORS,
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource(), "hooks": RunHooks()},
    executor=dg.in_process_executor,
)
