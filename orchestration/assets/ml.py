"""ML stage as Dagster assets: one multi-asset `ml_models` (group `ml`, one asset per table of
orchestration/ml_tables.py) after the dbt marts it reads and before `reports/rpt_campaign` and the publish,
plus the weekly retrain job and schedule. The computation is orchestration/ml_build.py (plain functions over
a DuckDB connection, calling `ml/`); it is imported when the step runs, so loading the definitions does not
import scikit-learn (~1.8 s per process on 2 cores).
"""

from datetime import date

import dagster as dg
import duckdb
import numpy as np
from dagster_dbt import get_asset_key_for_model

from orchestration.assets.dbt import crm_dbt_models
from orchestration.assets.ingest import resolve_as_of
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.jobs import WAREHOUSE_RUN_TAGS
from orchestration.ml_tables import ML_TABLES
from orchestration.settings import load_ops_settings

ML_GROUP = "ml"

# dbt models the feature SQL reads (asset keys come from the dbt manifest, not hand-written)
UPSTREAM_MODELS = (
    "customer_id_map",
    "dim_customers",
    "fct_orders",
    "fct_order_items",
    "fct_tickets",
    "dim_campaigns",
    "fct_campaign_members",
    "int_customer_behavior_events",
    "int_customer_versions",
)
UPSTREAM_KEYS = [get_asset_key_for_model([crm_dbt_models], name) for name in UPSTREAM_MODELS]

ML_KEYS = {name: dg.AssetKey([ML_GROUP, name]) for name in ML_TABLES}


class MlConfig(dg.Config):
    """Run options for the ML step."""

    retrain: bool = False  # refit the segmentation (weekly); otherwise score with the saved model


# --- the asset ------------------------------------------------------------------------------------


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def _metadata(name: str, rows: int, as_of: date, seg: dict, camp: dict) -> dict:
    meta: dict = {"dagster/row_count": rows, "as_of": str(as_of)}
    if name in ("customer_segments", "segment_profiles", "segment_rules", "model_runs"):
        meta.update(
            {
                "segmentation_mode": seg["mode"],
                "model_run_id": str(seg["model_run_id"]),
                "k": seg["k"],
                "seconds": dg.MetadataValue.float(seg["seconds"]),
            }
        )
        for key in ("silhouette", "fidelity", "retention"):
            if _num(seg.get(key)) is not None:
                meta[key] = dg.MetadataValue.float(_num(seg[key]))
        if name == "customer_segments":
            meta["cluster_sizes"] = dg.MetadataValue.json(seg["cluster_sizes"])
    else:
        meta.update(
            {
                "campaigns": camp["campaigns"],
                "campaign_outcome_pairs": camp["pairs"],
                "significant_at_5pct": camp["significant_at_5pct"],
                "units": camp["units"],
                "uplift_campaigns": camp["uplift_campaigns"],
                "seconds": dg.MetadataValue.float(camp["seconds"]),
            }
        )
        if _num(camp.get("mean_qini")) is not None:
            meta["mean_qini"] = dg.MetadataValue.float(_num(camp["mean_qini"]))
    return meta


_SEGMENT_READS = (
    "marts.customer_id_map, dim_customers, fct_orders, fct_order_items; intermediate behaviour events"
)
_CAMPAIGN_READS = (
    "marts.dim_campaigns, fct_campaign_members, fct_orders, fct_tickets, customer_id_map; intermediate behaviour "
    "events and customer versions"
)


def _spec_description(name: str) -> str:
    """What the table holds, what it is computed from, where it is written (UI asset description)."""
    reads = {
        "customer_segments": _SEGMENT_READS,
        "segment_profiles": _SEGMENT_READS,
        "segment_rules": _SEGMENT_READS,
        "model_runs": "the inputs of every model of the run",
    }.get(name, _CAMPAIGN_READS)
    keys, what = ML_TABLES[name]
    return (
        f"{what} Reads: {reads} (orchestration/ml_inputs/*.sql at the run's as_of). Writes: ml.{name} "
        f"in the work file, sorted by {', '.join(keys)}; published with schema ml."
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name=ML_GROUP,
            deps=UPSTREAM_KEYS,
            description=_spec_description(name),
            kinds={"duckdb", "scikitlearn"},
        )
        for name, key in ML_KEYS.items()
    ],
    can_subset=False,
)
def ml_models(context: dg.AssetExecutionContext, config: MlConfig, warehouse: WarehouseResource, hooks: RunHooks):
    """Reads the marts of the work file (customer_id_map, dim_customers, fct_orders, fct_order_items,
    fct_tickets, dim_campaigns, fct_campaign_members) and the behaviour events / customer versions of the
    intermediate layer, through orchestration/ml_inputs/*.sql at the run's as_of; writes the seven ml
    tables (see the module docstring for each grain) in one transaction, and a newly trained segmentation
    model to ml_store.segment_models. Nightly: scores with the saved model; `retrain: true` (weekly schedule)
    or a missing/unusable saved model: refits it, matching new clusters to the old."""
    hooks.reached("ml")
    settings = warehouse.settings()
    as_of = resolve_as_of(warehouse)
    if as_of is None:
        raise dg.Failure(
            "no complete extract and no CRM_AS_OF: the ML step has no as_of date to measure features at"
        )
    from orchestration.ml_build import build_ml  # scikit-learn: imported when the step runs
    from orchestration.site import load_site

    site = load_site(settings.landing_dir)  # crm.yml `ml:`: outcomes, covariates, RFM window
    context.log.info(f"ml settings ({site.source}): {site.ml}")
    with duckdb.connect(str(settings.work_db)) as con:
        counts, seg, camp = build_ml(con, as_of, config.retrain, log=context.log.info, settings=site.ml)
    for name, key in ML_KEYS.items():
        yield dg.MaterializeResult(asset_key=key, metadata=_metadata(name, counts[name], as_of, seg, camp))


ML_KEY_LIST = list(ML_KEYS.values())

ml_retrain_job = dg.define_asset_job(
    "ml_weekly_retrain",
    selection=dg.AssetSelection.assets(*ML_KEY_LIST).downstream(),
    description="Refit the customer segmentation on the current marts (matching clusters to the saved model), "
    "rebuild every ml table and what reads them (rpt_campaign, the publish); nightly runs then score with the "
    "new model.",
    config={"ops": {"ml_models": {"config": {"retrain": True}}}},
    tags=WAREHOUSE_RUN_TAGS,
    executor_def=dg.in_process_executor,
)

ML_RETRAIN_CRON = "0 4 * * 0"  # Sundays 04:00, after the nightly refresh (CRM_NIGHTLY_CRON, default 02:00)

ml_weekly_retrain_schedule = dg.ScheduleDefinition(
    name="ml_weekly_retrain",
    job=ml_retrain_job,
    cron_schedule=ML_RETRAIN_CRON,
    execution_timezone=load_ops_settings().timezone,
    description="Weekly segmentation retrain (ml_models with retrain=true) on the marts of the last nightly run.",
    tags={**WAREHOUSE_RUN_TAGS, "crm-warehouse/trigger": "ml_weekly_retrain"},
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
