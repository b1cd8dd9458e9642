"""ML stage as Dagster assets (group `ml`): one asset per output family, so one can fail or be re-run alone.

| asset (op)            | asset keys (= tables of the work file)              | computed by (imported when it runs) |
|-----------------------|-----------------------------------------------------|-------------------------------------|
| `ml_segments`         | ml/customer_segments, ml/segment_profiles, ml/segment_rules, | `ml_assets/segments.py`,   |
|                       | ml/customer_segments_history                         | `ml_assets/history.py`             |
| `ml_campaign_effects` | ml/campaign_effects                                 | `ml_assets/effects.py`              |
| `ml_uplift`           | ml/customer_uplift, ml/uplift_curves                | `ml_assets/uplift.py`               |
| `ml_churn_risk`       | ml/customer_churn_risk, ml/churn_calibration        | `ml_assets/churn.py`                |
| `ml_customer_lifetime_value` | ml/customer_lifetime_value, ml/clv_calibration | `ml_assets/clv.py`               |
| `ml_model_runs`       | ml/model_runs (the run log of the families, published) | `ml_assets/store.py`             |

Each family reads its input frame, a dbt model of `dbt_project/models/ml_inputs/` (schema ml_inputs, built by
the dbt assets at the run's as_of), and depends on it through its dbt asset key (`ml_assets/inputs.py`
FAMILY_INPUTS), so what the frame reads upstream is dbt's lineage; it writes its tables and its model-run
rows in one transaction; a failed family leaves the others' tables written (what reads
it, e.g. reports/rpt_campaign after ml/campaign_effects, and ml_model_runs and the publish after all three,
is skipped). The weekly retrain job and schedule refit the segmentation. The modules that compute are
imported when an asset runs, so loading the definitions does not import scikit-learn (~1.8 s per process).
"""

import math
from collections.abc import Callable
from datetime import date

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.assets.dbt import crm_dbt_models
from orchestration.assets.ingest import resolve_as_of
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.jobs import WAREHOUSE_RUN_TAGS
from orchestration.ml_assets.inputs import FAMILY_INPUTS, INPUT_SCHEMA
from orchestration.ml_assets.tables import FAMILIES, ML_TABLES
from orchestration.settings import connect_duckdb, load_ops_settings

ML_GROUP = "ml"
ML_KEYS = {name: dg.AssetKey([ML_GROUP, name]) for name in ML_TABLES}


def _input_keys(family: str) -> list[dg.AssetKey]:
    """The dbt asset keys of the family's input models (from the dbt manifest, never hand-written)."""
    return [get_asset_key_for_model([crm_dbt_models], name) for name in FAMILY_INPUTS[family]]


def _reads(family: str) -> str:
    models = ", ".join(f"{INPUT_SCHEMA}.{name}" for name in FAMILY_INPUTS[family])
    return f"{models} (dbt models of dbt_project/models/ml_inputs/; what they read: dbt's lineage)"


class MlConfig(dg.Config):
    """Run options of the segments asset."""

    retrain: bool = False  # refit the segmentation (weekly); otherwise score with the saved model


def _specs(family: str, deps: list[dg.AssetKey]) -> list[dg.AssetSpec]:
    """One spec per table of the family: what it holds, what it reads, where it is written."""
    specs = []
    for name in FAMILIES[family]:
        keys, what = ML_TABLES[name]
        description = (f"{what} Reads: {_reads(family)} at the run's as_of. Writes: ml.{name} in the work file, "
                       f"sorted by {', '.join(keys)}; published with schema ml.")
        specs.append(dg.AssetSpec(ML_KEYS[name], group_name=ML_GROUP, deps=deps, description=description,
                                  kinds={"duckdb", "scikitlearn"}))
    return specs


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _run(context: dg.AssetExecutionContext, warehouse: WarehouseResource, hooks: RunHooks,
         build: Callable) -> tuple[dict[str, int], dict, date]:
    """Resolve the run's as_of and the site's `ml:` settings, open the work file and call `build`."""
    hooks.reached("ml")
    settings = warehouse.settings()
    as_of = resolve_as_of(warehouse)
    if as_of is None:
        raise dg.Failure(
            "no complete extract and no CRM_AS_OF: the ML step has no as_of date to measure features at"
        )
    from orchestration.site import load_site

    site = load_site(settings.landing_dir)  # crm.yml `ml:`: outcomes, covariates, RFM window
    context.log.info(f"ml settings ({site.source}): {site.ml}")
    with connect_duckdb(settings.work_db, warehouse_dir=settings.warehouse_dir) as con:
        counts, summary = build(con, as_of, log=context.log.info, settings=site.ml)
    return counts, summary, as_of


def _results(family: str, counts: dict[str, int], as_of: date, meta: dict, extra: dict | None = None):
    """One MaterializeResult per table of the family: rows, as_of, the family's `meta`, a table's `extra`."""
    for name in FAMILIES[family]:
        metadata = {"dagster/row_count": counts[name], "as_of": str(as_of), **meta, **(extra or {}).get(name, {})}
        yield dg.MaterializeResult(asset_key=ML_KEYS[name], metadata=metadata)


@dg.multi_asset(name="ml_segments", specs=_specs("segments", _input_keys("segments")))
def ml_segments(context: dg.AssetExecutionContext, config: MlConfig, warehouse: WarehouseResource, hooks: RunHooks):
    """Reads the segment features (dbt model ml_inputs.ml_segment_features; grain: master customer) at the
    run's as_of; writes ml.customer_segments (master customer),
    ml.segment_profiles (cluster x feature), ml.segment_rules (cluster x rule), ml.customer_segments_history
    (master customer x version, from the history store ml_store.segment_history), their model-run row and the
    model store (ml_store.segment_models, segment_labels) in one transaction. Nightly: scores with the saved
    model; `retrain: true` (weekly schedule) or a missing/unusable saved model: refits it, matching new
    clusters to the old."""
    from orchestration.ml_assets.segments import build_segments  # scikit-learn: imported when the step runs

    def build(con, as_of, log, settings):
        return build_segments(con, as_of, config.retrain, log=log, settings=settings)

    counts, seg, as_of = _run(context, warehouse, hooks, build)
    meta = {"segmentation_mode": seg["mode"], "model_run_id": str(seg["model_run_id"]), "k": seg["k"],
            "seconds": dg.MetadataValue.float(seg["seconds"])}
    for key in ("silhouette", "fidelity", "retention"):
        if _num(seg.get(key)) is not None:
            meta[key] = dg.MetadataValue.float(_num(seg[key]))
    sizes = {"customer_segments": {"cluster_sizes": dg.MetadataValue.json(seg["cluster_sizes"])}}
    yield from _results("segments", counts, as_of, meta, sizes)


@dg.multi_asset(name="ml_campaign_effects", specs=_specs("campaign_effects", _input_keys("campaign_effects")))
def ml_campaign_effects(context: dg.AssetExecutionContext, warehouse: WarehouseResource, hooks: RunHooks):
    """Reads the campaign units (dbt model ml_inputs.ml_campaign_units: one row per campaign and unit:
    treatment, outcomes in the attribution window, pre-assignment covariates) and each campaign's paid-for
    treatment members (ml_inputs.ml_campaign_cost_population) at the run's as_of;
    writes ml.campaign_effects (campaign x outcome x method) and its model-run row in one transaction."""
    from orchestration.ml_assets.effects import build_campaign_effects  # statsmodels, scikit-learn

    counts, camp, as_of = _run(context, warehouse, hooks, build_campaign_effects)
    meta = {"campaigns": camp["campaigns"], "campaign_outcome_pairs": camp["pairs"],
            "significant_at_5pct": camp["significant_at_5pct"], "units": camp["units"],
            "seconds": dg.MetadataValue.float(camp["seconds"])}
    yield from _results("campaign_effects", counts, as_of, meta)


@dg.multi_asset(name="ml_uplift", specs=_specs("uplift", _input_keys("uplift")))
def ml_uplift(context: dg.AssetExecutionContext, warehouse: WarehouseResource, hooks: RunHooks):
    """Reads the campaign units of the randomised campaigns (ml_inputs.ml_campaign_units) at the run's as_of; writes ml.customer_uplift
    (randomised campaign x member), ml.uplift_curves (randomised campaign x Qini curve point) and their
    model-run row in one transaction."""
    from orchestration.ml_assets.uplift import build_uplift  # scikit-learn: imported when the step runs

    counts, upl, as_of = _run(context, warehouse, hooks, build_uplift)
    meta = {"units": upl["units"], "uplift_campaigns": upl["uplift_campaigns"],
            "seconds": dg.MetadataValue.float(upl["seconds"])}
    if _num(upl.get("mean_qini")) is not None:
        meta["mean_qini"] = dg.MetadataValue.float(_num(upl["mean_qini"]))
    yield from _results("uplift", counts, as_of, meta)


@dg.multi_asset(name="ml_churn_risk", specs=_specs("churn_risk", _input_keys("churn_risk")))
def ml_churn_risk(context: dg.AssetExecutionContext, warehouse: WarehouseResource, hooks: RunHooks):
    """Reads the churn frame (ml_inputs.ml_churn_features: master customer x cut-off, features and the
    3-month churn label) at the run's as_of; writes ml.customer_churn_risk (active master customer),
    ml.churn_calibration (probability bin of the held-out cut-off) and their model-run row (AUC, Brier) in
    one transaction."""
    from orchestration.ml_assets.churn import build_churn_risk  # scikit-learn: imported when the step runs

    counts, churn, as_of = _run(context, warehouse, hooks, build_churn_risk)
    meta = {"scored": churn["scored"], "seconds": dg.MetadataValue.float(churn["seconds"])}
    for key in ("auc", "brier"):
        if _num(churn.get(key)) is not None:
            meta[key] = dg.MetadataValue.float(_num(churn[key]))
    if churn["skipped"]:
        meta["skipped"] = churn["skipped"]
    yield from _results("churn_risk", counts, as_of, meta)


@dg.multi_asset(name="ml_customer_lifetime_value", specs=_specs("lifetime_value", _input_keys("lifetime_value")))
def ml_customer_lifetime_value(context: dg.AssetExecutionContext, warehouse: WarehouseResource, hooks: RunHooks):
    """Reads the purchase history (ml_inputs.ml_clv_purchases: master customer x purchase day) at the
    run's as_of; writes ml.customer_lifetime_value (master customer with a completed order),
    ml.clv_calibration (decile of the hold-out check) and their model-run row in one transaction."""
    from orchestration.ml_assets.clv import build_lifetime_value  # scipy: imported when the step runs

    counts, value, as_of = _run(context, warehouse, hooks, build_lifetime_value)
    meta = {"customers": value["customers"], "seconds": dg.MetadataValue.float(value["seconds"])}
    if _num(value.get("value_ratio")) is not None:
        meta["holdout_value_ratio"] = dg.MetadataValue.float(_num(value["value_ratio"]))
    if value["skipped"]:
        meta["skipped"] = value["skipped"]
    yield from _results("lifetime_value", counts, as_of, meta)


FAMILY_KEYS = [ML_KEYS[name] for tables in FAMILIES.values() for name in tables]


_RUNS_SPEC = dg.AssetSpec(
    ML_KEYS["model_runs"], group_name=ML_GROUP, deps=FAMILY_KEYS, kinds={"duckdb"},
    description=f"{ML_TABLES['model_runs'][1]} Reads: the run log ml_store.model_runs that each ML family writes "
    "with its tables. Writes: ml.model_runs in the work file, sorted by as_of, model, run_id; published with schema ml.",
)


@dg.multi_asset(name="ml_model_runs", specs=[_RUNS_SPEC])
def ml_model_runs(warehouse: WarehouseResource):
    """Reads the run log ml_store.model_runs (one row per model run of every family so far); writes it to
    ml.model_runs (grain: model run), after the families of the run."""
    from orchestration.ml_assets.store import publish_model_runs

    settings = warehouse.settings()
    with connect_duckdb(settings.work_db, warehouse_dir=settings.warehouse_dir) as con:
        rows = publish_model_runs(con)
    if rows is None:
        raise dg.Failure("no model run recorded yet: materialize the ML families (ml_segments, "
                         "ml_campaign_effects, ml_uplift, ml_churn_risk, ml_customer_lifetime_value) first")
    return dg.MaterializeResult(asset_key=ML_KEYS["model_runs"], metadata={"dagster/row_count": rows})


ML_ASSETS = [ml_segments, ml_campaign_effects, ml_uplift, ml_churn_risk, ml_customer_lifetime_value, ml_model_runs]
ML_KEY_LIST = list(ML_KEYS.values())

ml_retrain_job = dg.define_asset_job(
    "ml_weekly_retrain",
    selection=dg.AssetSelection.assets(*ML_KEY_LIST).downstream(),
    description="Refit the customer segmentation on the current marts (matching clusters to the saved model), "
    "rebuild every ml table and what reads them (rpt_campaign, the publish); nightly runs then score with the "
    "new model.",
    config={"ops": {"ml_segments": {"config": {"retrain": True}}}},
    tags=WAREHOUSE_RUN_TAGS,
    executor_def=dg.in_process_executor,
)

ML_RETRAIN_CRON = "0 4 * * 0"  # Sundays 04:00, after the nightly refresh (CRM_NIGHTLY_CRON, default 02:00)

ml_weekly_retrain_schedule = dg.ScheduleDefinition(
    name="ml_weekly_retrain",
    job=ml_retrain_job,
    cron_schedule=ML_RETRAIN_CRON,
    execution_timezone=load_ops_settings().timezone,
    description="Weekly segmentation retrain (ml_segments with retrain=true) on the marts of the last nightly run.",
    tags={**WAREHOUSE_RUN_TAGS, "crm-warehouse/trigger": "ml_weekly_retrain"},
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
