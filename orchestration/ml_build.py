"""ML stage, the computation behind the `ml_models` asset (orchestration/assets/ml.py): customer segments,
campaign effects and uplift scores, as tables of schema `ml` in the work file.

The multi-asset (`ml_models`, group `ml`) runs after dbt has built the marts it reads and before
`reports/rpt_campaign` (which joins the primary effect estimates) and the publish (which copies schema
`ml` to the serving file). It reads the input frames with the SQL of `orchestration/ml_inputs/` (one
parameter: the run's `as_of`, never the clock), calls the plain functions of `ml/`, and replaces the seven
tables in one transaction (CREATE OR REPLACE, rows sorted by their grain):

| table                  | grain                                                   | from                          |
|------------------------|---------------------------------------------------------|-------------------------------|
| ml.customer_segments   | master customer                                         | `ml.segmentation`             |
| ml.segment_profiles    | cluster × feature                                       | `ml.segmentation`             |
| ml.segment_rules       | cluster × rule (leaf of the explanation tree)           | `ml.explain`                  |
| ml.model_runs          | model run (history: every run of every model so far)    | `ml.runs`                     |
| ml.campaign_effects    | campaign × outcome × method (one primary per pair)      | `ml.effects`                  |
| ml.customer_uplift     | randomised campaign × member (source customer id)       | `ml.uplift`                   |
| ml.uplift_curves       | randomised campaign × point of the Qini curve           | `ml.uplift`, `ml.qini`        |

Model stability: the fitted segmentation model is kept in the private schema `ml_store` of the work file
(`ml_store.segment_models`, a BLOB per training run; never published: unpickling runs code), with the
labels of the last two run dates (`ml_store.segment_labels`, the retention reference). Nightly runs
score with the newest saved model, so cluster ids and names stay put; a retrain (config `retrain: true`,
the weekly `ml_weekly_retrain` schedule, or automatically when no usable model is saved) refits k-means
warm-started from the saved centroids and matches new clusters to old ones (Hungarian, `ml.stability`),
recording the share of customers that kept their cluster in ml.model_runs.
"""

import json
import time
from collections.abc import Callable
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from ml import (
    customer_segments_frame,
    estimate_campaign_effects,
    load_model,
    model_run_record,
    save_model,
    score_campaign_uplift,
    segment_customers,
)
from ml.clustering import SegmentModel
from ml.explain import explain_segments
from ml.hashing import frame_hash
from ml.naming import is_rule_name
from ml.runs import MODEL_RUN_COLUMNS, make_run_id
from ml.segmentation import segment_profiles_frame
from ml.silhouette import silhouettes
from ml.stability import label_retention
from ml.uplift import CURVE_TABLE_COLUMNS, CUSTOMER_UPLIFT_COLUMNS, METRIC_COLUMNS
from orchestration import ml_inputs
from orchestration.ml_settings import MlSettings
from orchestration.ml_tables import EFFECT_TYPES, ML_TABLES, MONEY_COLUMNS, MONEY_TYPE, STORE_SCHEMA

RANDOM_STATE = 0
SEGMENT_PARAMS = {"k_range": (2, 8), "n_init": 4, "max_depth": 4}
EFFECT_PARAMS = {"n_bootstrap": 500, "n_folds": 5, "learner": "linear", "alpha": 0.05}
# "linear" nuisances: as good as gradient boosting on the campaign covariates (monotone in log counts and
# money) at a fraction of the cost; see ml/uplift.py for the learners.
UPLIFT_PARAMS = {"learner": "dr", "nuisance": "linear", "final": "linear", "n_folds": 5}
UPLIFT_OUTCOME = "conversion"
MIN_UPLIFT_ARM = 10 * UPLIFT_PARAMS["n_folds"]  # members per arm below which a campaign gets no uplift score
SILHOUETTE_SAMPLE = 10_000


# --- segmentation ---------------------------------------------------------------------------------


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def saved_model(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[str, SegmentModel] | tuple[None, str]:
    """(run_id, model) of the newest saved model trained on or before `as_of`, else (None, why not)."""
    if not _table_exists(con, STORE_SCHEMA, "segment_models"):
        return None, "no saved model"
    row = con.execute(
        f"SELECT model_run_id, feature_columns, model_bytes FROM {STORE_SCHEMA}.segment_models "
        "WHERE as_of <= ? ORDER BY as_of DESC, model_run_id DESC LIMIT 1",
        [as_of],
    ).fetchone()
    if row is None:
        return None, f"no model saved on or before {as_of}"
    run_id, columns, blob = row
    if json.loads(columns) != ml_inputs.SEGMENT_FEATURES:
        return None, f"saved model {run_id} uses other features"
    try:
        return run_id, load_model(bytes(blob))
    except ValueError as exc:
        return None, f"saved model {run_id} unusable: {exc}"


def _previous_labels(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.Series | None:
    """Cluster per customer of the last run BEFORE `as_of` (the retention reference; a re-run of the same
    day compares with the day before, so it reproduces the first run exactly)."""
    if _table_exists(con, STORE_SCHEMA, "segment_labels"):
        sql = (
            f"SELECT customer_id, cluster_id FROM {STORE_SCHEMA}.segment_labels WHERE as_of = "
            f"(SELECT max(as_of) FROM {STORE_SCHEMA}.segment_labels WHERE as_of < ?)"
        )
    elif _table_exists(con, "ml", "customer_segments"):
        sql = "SELECT customer_id, cluster_id FROM ml.customer_segments WHERE as_of < ?"
    else:
        return None
    prev = con.execute(sql, [as_of]).df()
    return prev.set_index("customer_id")["cluster_id"] if len(prev) else None


def _silhouette(model: SegmentModel, features: pd.DataFrame, labels: np.ndarray) -> float:
    """Silhouette of today's labels in the model's standardised space (a seeded sample of rows)."""
    Z = model.transform(features[model.feature_names_in_])
    rng = np.random.default_rng(RANDOM_STATE)
    idx = (
        np.sort(rng.choice(len(Z), SILHOUETTE_SAMPLE, replace=False))
        if len(Z) > SILHOUETTE_SAMPLE
        else np.arange(len(Z))
    )
    return float(silhouettes(Z[idx], {0: np.asarray(labels)[idx]})[0])


def _with_published(segments: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """customer_segments plus the raw columns published beside the model features
    (`ml_inputs.SEGMENT_PUBLISHED`: the true tenure_days), matched on customer_id."""
    extra = [c for c in ml_inputs.SEGMENT_PUBLISHED if c not in segments.columns]
    values = features.set_index("customer_id")[extra]
    return segments.assign(**{c: values[c].reindex(segments["customer_id"]).to_numpy(dtype=float) for c in extra})


def segment_tables(
    features: pd.DataFrame,
    as_of: date,
    model_info: tuple,
    previous_labels: pd.Series | None,
    retrain: bool,
    log: Callable[[str], None],
) -> tuple[dict[str, pd.DataFrame], dict, bytes | None]:
    """customer_segments, segment_profiles, segment_rules and the model_runs row(s); summary; new model bytes.

    Retrains when asked, when `model_info` holds no usable model, or when the saved model's segment names
    are not ones the rules of `ml.naming` give (with the saved model as `previous` when there is one);
    otherwise scores with the saved model and re-fits only the explanation tree.
    """
    cols = ml_inputs.SEGMENT_FEATURES
    stored_id, stored = model_info
    as_of_s = as_of.isoformat()
    # a saved model whose names no rule of ml.naming gives (an older naming scheme, e.g. "mid value") is
    # retrained with itself as `previous`: ids stay, names follow the profiles again
    legacy = stored_id is not None and not all(map(is_rule_name, stored.segment_names_.values()))
    if retrain or stored_id is None or legacy:
        why = "retrain requested" if retrain else stored if stored_id is None else (
            f"saved model {stored_id} carries segment names of an older naming scheme"
        )
        previous = stored if stored_id is not None else None
        log(f"segmentation: training ({why}); previous model: {stored_id or 'none'}")
        res = segment_customers(
            features,
            cols,
            previous=previous,
            previous_labels=previous_labels if previous is not None else None,
            k_range=SEGMENT_PARAMS["k_range"],
            n_init=SEGMENT_PARAMS["n_init"],
            max_depth=SEGMENT_PARAMS["max_depth"],
            random_state=RANDOM_STATE,
            as_of=as_of_s,
            rfm_columns=ml_inputs.RFM_COLUMNS,
        )
        metrics = json.loads(res.model_run["metrics_json"].iloc[0])
        summary = {
            "mode": "retrain",
            "model_run_id": res.model_run["run_id"].iloc[0],
            "previous_model": stored_id,
            "k": res.model.n_clusters_,
            "silhouette": res.model.silhouette_,
            "fidelity": res.explanation.fidelity,
            "retention": res.retention,
            "cluster_sizes": metrics["cluster_sizes"],
        }
        tables = {
            "customer_segments": _with_published(res.customer_segments, features),
            "segment_profiles": res.segment_profiles,
            "segment_rules": res.segment_rules,
            "model_runs": res.model_run,
        }
        return tables, summary, save_model(res.model)

    model = stored
    frame = features.set_index("customer_id")
    data_hash = frame_hash(frame[cols])
    params = {"model_run_id": stored_id, "features": cols, "explain_max_depth": SEGMENT_PARAMS["max_depth"]}
    run_id = make_run_id("segments_scoring", as_of_s, data_hash, params)
    segments = _with_published(customer_segments_frame(model, features, run_id, ml_inputs.RFM_COLUMNS), features)
    labels = segments["cluster_id"].to_numpy()
    profiles = segment_profiles_frame(model, frame[cols], labels, run_id)
    explanation = explain_segments(
        frame[cols],
        labels,
        model.segment_names_,
        max_depth=SEGMENT_PARAMS["max_depth"],
        random_state=RANDOM_STATE,
    )
    rules = explanation.rules.assign(run_id=run_id)[["run_id", *explanation.rules.columns]]
    sizes = {str(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)}
    retention = None
    if previous_labels is not None:
        retention = label_retention(previous_labels, pd.Series(labels, index=frame.index))
    silhouette = _silhouette(model, frame, labels)
    metrics = {
        "k": model.n_clusters_,
        "silhouette": silhouette,
        "fidelity": explanation.fidelity,
        "cluster_sizes": sizes,
        "segment_names": {str(i): s for i, s in model.segment_names_.items()},
        "retention": retention,
    }
    run = model_run_record("segments_scoring", data_hash, len(frame), params, metrics, as_of_s, run_id)
    summary = {
        "mode": "score",
        "model_run_id": stored_id,
        "k": model.n_clusters_,
        "silhouette": silhouette,
        "fidelity": explanation.fidelity,
        "retention": retention,
        "cluster_sizes": sizes,
    }
    log(f"segmentation: scored {len(frame)} customers with saved model {stored_id}")
    return (
        {
            "customer_segments": segments,
            "segment_profiles": profiles,
            "segment_rules": rules,
            "model_runs": run,
        },
        summary,
        None,
    )


# --- campaigns ------------------------------------------------------------------------------------


INCREMENTAL_OUTCOME = "revenue"  # the outcome whose effect, scaled to the paid-for members, is money


def with_incremental_revenue(effects: pd.DataFrame, treatment_members: pd.Series) -> pd.DataFrame:
    """`effects` plus treatment_members (per campaign: the members its cost paid for) and, on rows of the
    revenue outcome, incremental_revenue (+ CI) = the per-member revenue effect (and its CI ends) x
    treatment_members; NaN on other outcomes and where the estimate is missing.

    Why not x n_treated: the cost covers every treatment-group member, while the estimate may analyse
    fewer of them (windows still open at as_of, targeted members without prior activity); scaling the
    revenue to the cost's population makes (incremental revenue - cost) / cost an ROI of one population.
    It assumes the analysed members stand for the others (the ATE/ATT extrapolated to them)."""
    members = effects["campaign_id"].map(treatment_members)
    members = members.fillna(effects["n_treated"]).astype("int64")
    money = (effects["outcome"] == INCREMENTAL_OUTCOME).to_numpy()
    out = effects.assign(treatment_members=members)
    for col, src in (("incremental_revenue", "estimate"), ("incremental_revenue_ci_low", "ci_low"),
                     ("incremental_revenue_ci_high", "ci_high")):
        out[col] = np.where(money, out[src].astype(float) * members, np.nan)
    return out


def campaign_tables(
    units: pd.DataFrame,
    as_of: date,
    settings: MlSettings | None = None,
    treatment_members: pd.Series | None = None,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """campaign_effects, customer_uplift, uplift_curves and their model_runs rows; a summary for the UI.

    `settings` (crm.yml `ml:`) chooses the outcomes and covariates; categorical covariates are one-hot
    encoded and a missing numeric value (recency of a never-purchasing customer) is imputed with a missing
    indicator, by the ColumnTransformer of `ml.covariates`. `treatment_members` (campaign_id -> members
    the cost paid for, `ml_inputs.campaign_treatment_members`) scales the revenue effect to the
    incremental revenue (`with_incremental_revenue`); default: the treated units analysed."""
    settings = settings or MlSettings()
    as_of_s = as_of.isoformat()
    covs = list(settings.campaign_covariates)
    outcomes = list(settings.campaign_outcomes)
    matrix = {
        "categorical": list(settings.categorical_covariates),
        "min_frequency": settings.covariate_min_frequency,
        "impute_missing": True,
    }
    inputs = units[["campaign_id", "customer_id", "design", "treated", *outcomes, *covs]]
    if units.empty:
        effects = pd.DataFrame(columns=list(EFFECT_TYPES)[:-1])
    else:
        effects = estimate_campaign_effects(
            units, covs, outcomes, None, random_state=RANDOM_STATE, **EFFECT_PARAMS, **matrix
        )
        if treatment_members is None:
            treatment_members = units[units["treated"] == 1].groupby("campaign_id").size()
        effects = with_incremental_revenue(effects, treatment_members)
    effect_params = {**EFFECT_PARAMS, "covariates": covs, "outcomes": outcomes, **matrix}
    primary = effects[effects["is_primary"].astype(bool)]
    effect_metrics = {
        "campaigns": int(effects["campaign_id"].nunique()),
        "pairs": len(primary),
        "significant_at_5pct": int((primary["p_value"] < 0.05).sum()),
        "by_design": {str(k): int(v) for k, v in primary.groupby("design")["campaign_id"].nunique().items()},
    }
    effect_hash = frame_hash(inputs.reset_index(drop=True))
    effect_run = model_run_record(
        "campaign_effects", effect_hash, len(units), effect_params, effect_metrics, as_of_s
    )

    randomised = units[units["design"] == "randomised"]
    # cross-fitting needs both arms in every fold: a campaign with fewer members per arm gets no score
    arms = randomised.groupby("campaign_id")["treated"].agg(["sum", "count"])
    too_small = arms.index[
        (arms["sum"] < MIN_UPLIFT_ARM) | (arms["count"] - arms["sum"] < MIN_UPLIFT_ARM)
    ].tolist()
    randomised = randomised[~randomised["campaign_id"].isin(too_small)]
    upl_params = {**UPLIFT_PARAMS, "covariates": covs, "outcome": UPLIFT_OUTCOME, **matrix}
    if randomised.empty:
        cu = pd.DataFrame(columns=CUSTOMER_UPLIFT_COLUMNS)
        uc = pd.DataFrame(columns=CURVE_TABLE_COLUMNS)
        metrics = pd.DataFrame(columns=METRIC_COLUMNS)
    else:
        uplift = score_campaign_uplift(
            randomised, covs, UPLIFT_OUTCOME, None, random_state=RANDOM_STATE, **UPLIFT_PARAMS, **matrix
        )
        cu, uc, metrics = uplift.customer_uplift, uplift.uplift_curves, uplift.metrics
    ids = units[["campaign_id", "customer_id", "master_customer_id"]]
    cu = cu.merge(ids, on=["campaign_id", "customer_id"], how="left")
    cu = cu[
        [
            "campaign_id",
            "customer_id",
            "master_customer_id",
            *[c for c in cu.columns if c not in ("campaign_id", "customer_id", "master_customer_id")],
        ]
    ]
    upl_metrics = {
        "campaigns_scored": int(cu["campaign_id"].nunique()),
        "campaigns_too_small": too_small,
        "mean_qini": float(metrics["qini_coefficient"].mean()) if len(metrics) else None,
        "by_campaign": metrics.set_index("campaign_id")
        .drop(columns=["outcome", "learner"])
        .to_dict(orient="index")
        if len(metrics)
        else {},
    }
    upl_hash = frame_hash(inputs[inputs["design"] == "randomised"].reset_index(drop=True))
    upl_run = model_run_record(
        "uplift_" + UPLIFT_PARAMS["learner"], upl_hash, len(randomised), upl_params, upl_metrics, as_of_s
    )
    summary = {
        **effect_metrics,
        "units": len(units),
        "uplift_campaigns": upl_metrics["campaigns_scored"],
        "uplift_rows": len(cu),
        "mean_qini": upl_metrics["mean_qini"],
    }
    return {
        "campaign_effects": effects,
        "customer_uplift": cu,
        "uplift_curves": uc,
        "model_runs": pd.concat([effect_run, upl_run], ignore_index=True),
    }, summary


# --- writing --------------------------------------------------------------------------------------


def _model_run_history(con: duckdb.DuckDBPyConnection, new_runs: pd.DataFrame) -> pd.DataFrame:
    """Previous ml.model_runs rows (other run ids) plus this run's rows."""
    runs = new_runs[MODEL_RUN_COLUMNS].assign(as_of=lambda d: pd.to_datetime(d["as_of"]).dt.date)
    if not _table_exists(con, "ml", "model_runs"):
        return runs
    old = con.execute(f"SELECT {', '.join(MODEL_RUN_COLUMNS)} FROM ml.model_runs").df()
    old = old[~old["run_id"].isin(runs["run_id"])]
    old["as_of"] = pd.to_datetime(old["as_of"]).dt.date
    return pd.concat([old, runs], ignore_index=True)


FLOAT_DECIMALS = 10  # far below any meaningful precision, far above floating-point noise


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to FLOAT_DECIMALS places. The same data reached by a different build order
    (day by day vs one full refresh) can differ in the last bits of a float (summation order inside BLAS
    and DuckDB); rounding makes the published tables identical, as the incremental-parity test requires."""
    floats = frame.select_dtypes(include="floating").columns
    return frame.assign(**{c: frame[c].round(FLOAT_DECIMALS) for c in floats}) if len(floats) else frame


def write_ml_tables(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame], as_of: date, model: tuple | None
) -> dict[str, int]:
    """Replace every ml table (sorted by its grain) and store a newly trained model, in one transaction.

    `model` is (run_id, bytes) after a retrain, else None. Returns rows per table.
    """
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS ml")
        for name, (keys, _) in ML_TABLES.items():
            frame = tables[name]
            if name != "model_runs":
                frame = frame.assign(as_of=as_of)
            con.register("ml_frame", _rounded(frame))
            order = ", ".join(keys)
            if name == "campaign_effects":  # fixed column types: dbt's source (and its cold-start stub) match
                select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in EFFECT_TYPES.items())
            elif name in MONEY_COLUMNS:  # money is DECIMAL (identifiers from the allow-list)
                casts = ", ".join(f"CAST({c} AS {MONEY_TYPE}) AS {c}" for c in MONEY_COLUMNS[name])
                select = f"* REPLACE ({casts})"
            else:
                select = "*"
            con.execute(
                f"CREATE OR REPLACE TABLE ml.{name} AS SELECT {select} FROM ml_frame ORDER BY {order}"
            )
            con.unregister("ml_frame")
            counts[name] = len(frame)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {STORE_SCHEMA}")
        # labels of this day and of the previous run only: the retention reference of the next run
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {STORE_SCHEMA}.segment_labels (as_of DATE, customer_id VARCHAR, "
            "cluster_id BIGINT)"
        )
        con.execute(f"DELETE FROM {STORE_SCHEMA}.segment_labels WHERE as_of = ?", [as_of])
        con.execute(
            f"DELETE FROM {STORE_SCHEMA}.segment_labels WHERE as_of < "
            f"(SELECT max(as_of) FROM {STORE_SCHEMA}.segment_labels WHERE as_of < ?)",
            [as_of],
        )
        con.execute(
            f"INSERT INTO {STORE_SCHEMA}.segment_labels SELECT as_of, customer_id, cluster_id "
            "FROM ml.customer_segments"
        )
        if model is not None:
            run_id, blob = model
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {STORE_SCHEMA}.segment_models (model_run_id VARCHAR PRIMARY KEY, "
                "as_of DATE, feature_columns VARCHAR, model_bytes BLOB)"
            )
            con.execute(f"DELETE FROM {STORE_SCHEMA}.segment_models WHERE model_run_id = ?", [run_id])
            con.execute(
                f"INSERT INTO {STORE_SCHEMA}.segment_models VALUES (?, ?, ?, ?)",
                [run_id, as_of, json.dumps(ml_inputs.SEGMENT_FEATURES), blob],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def build_ml(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    retrain: bool,
    log: Callable[[str], None] = print,
    settings: MlSettings | None = None,
) -> tuple[dict[str, int], dict, dict]:
    """Read the input frames, run every model and write the ml tables. Returns (row counts, segment
    summary, campaign summary). The plain-function core of the `ml_models` asset (tests call it too).
    `settings`: the site's `ml:` settings (crm.yml; default: `MlSettings()`)."""
    settings = settings or MlSettings()
    started = time.perf_counter()
    features = ml_inputs.segment_features(con, as_of, settings.rfm_window_days)
    units = ml_inputs.campaign_units(con, as_of)
    paid_for = ml_inputs.campaign_treatment_members(con)
    t_inputs = time.perf_counter()
    seg, seg_summary, blob = segment_tables(
        features, as_of, saved_model(con, as_of), _previous_labels(con, as_of), retrain, log
    )
    t_seg = time.perf_counter()
    camp, camp_summary = campaign_tables(units, as_of, settings, paid_for)
    t_camp = time.perf_counter()
    tables = {
        **seg,
        **camp,
        "model_runs": pd.concat([seg["model_runs"], camp["model_runs"]], ignore_index=True),
    }
    tables["model_runs"] = _model_run_history(con, tables["model_runs"])
    model = (seg_summary["model_run_id"], blob) if blob is not None else None
    counts = write_ml_tables(con, tables, as_of, model)
    seg_summary["seconds"] = round(t_seg - t_inputs, 2)
    camp_summary["seconds"] = round(t_camp - t_seg, 2)
    seg_summary["inputs_seconds"] = round(t_inputs - started, 2)
    seg_summary["total_seconds"] = round(time.perf_counter() - started, 2)
    log(
        f"ml: inputs {t_inputs - started:.1f} s, segmentation {t_seg - t_inputs:.1f} s, campaigns "
        f"{t_camp - t_seg:.1f} s, total {seg_summary['total_seconds']:.1f} s"
    )
    return counts, seg_summary, camp_summary
