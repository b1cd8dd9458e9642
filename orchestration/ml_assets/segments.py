"""Segments family: ml.customer_segments (master customer), ml.segment_profiles (cluster x feature),
ml.segment_rules (cluster x leaf of the explanation tree) and their ml.model_runs row, from the features of
the dbt model ml_inputs.ml_segment_features (`inputs.py`; `ml.segmentation`, `ml.explain`).

Model stability: the fitted segmentation model is kept in the private schema `ml_store` of the work file
(`ml_store.segment_models`, a BLOB per training run; never published: unpickling runs code), with the
labels of the last two run dates (`ml_store.segment_labels`, the retention reference). Nightly runs
score with the newest saved model, so cluster ids and names stay put; a retrain (config `retrain: true`,
the weekly `ml_weekly_retrain` schedule, or automatically when no usable model is saved) refits k-means
warm-started from the saved centroids and matches new clusters to old ones (Hungarian, `ml.stability`),
recording the share of customers that kept their cluster in ml.model_runs.

Imported only when the `ml_segments` asset runs (it imports scikit-learn).
"""

import json
import time
from collections.abc import Callable
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from ml import customer_segments_frame, load_model, model_run_record, save_model, segment_customers
from ml.clustering import SegmentModel
from ml.explain import explain_segments
from ml.hashing import frame_hash
from ml.naming import is_rule_name
from ml.runs import make_run_id
from ml.segmentation import segment_profiles_frame
from ml.silhouette import silhouettes
from ml.stability import label_retention
from orchestration.ml_assets import inputs
from orchestration.ml_assets.history import record_segment_history
from orchestration.ml_assets.params import RANDOM_STATE, SEGMENT_PARAMS, SILHOUETTE_SAMPLE
from orchestration.ml_assets.settings import MlSettings
from orchestration.ml_assets.store import table_exists, write_family
from orchestration.ml_assets.tables import STORE_SCHEMA


def saved_model(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[str, SegmentModel] | tuple[None, str]:
    """(run_id, model) of the newest saved model trained on or before `as_of`, else (None, why not)."""
    if not table_exists(con, STORE_SCHEMA, "segment_models"):
        return None, "no saved model"
    row = con.execute(
        f"SELECT model_run_id, feature_columns, model_bytes FROM {STORE_SCHEMA}.segment_models "
        "WHERE as_of <= ? ORDER BY as_of DESC, model_run_id DESC LIMIT 1",
        [as_of],
    ).fetchone()
    if row is None:
        return None, f"no model saved on or before {as_of}"
    run_id, columns, blob = row
    if json.loads(columns) != inputs.SEGMENT_FEATURES:
        return None, f"saved model {run_id} uses other features"
    try:
        return run_id, load_model(bytes(blob))
    except ValueError as exc:
        return None, f"saved model {run_id} unusable: {exc}"


def _previous_labels(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.Series | None:
    """Cluster per customer of the last run BEFORE `as_of` (the retention reference; a re-run of the same
    day compares with the day before, so it reproduces the first run exactly)."""
    if table_exists(con, STORE_SCHEMA, "segment_labels"):
        sql = (
            f"SELECT customer_id, cluster_id FROM {STORE_SCHEMA}.segment_labels WHERE as_of = "
            f"(SELECT max(as_of) FROM {STORE_SCHEMA}.segment_labels WHERE as_of < ?)"
        )
    elif table_exists(con, "ml", "customer_segments"):
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
    (`inputs.SEGMENT_PUBLISHED`: the true tenure_days), matched on customer_id."""
    extra = [c for c in inputs.SEGMENT_PUBLISHED if c not in segments.columns]
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
    cols = inputs.SEGMENT_FEATURES
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
            rfm_columns=inputs.RFM_COLUMNS,
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
    segments = _with_published(customer_segments_frame(model, features, run_id, inputs.RFM_COLUMNS), features)
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


def _store(as_of: date, model: tuple[str, bytes] | None) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Writes, inside the family's transaction, today's labels (keeping the previous run's: the retention
    reference of the next run), the segment history (`history.py`) and a newly trained model ((run_id,
    bytes), or None when scoring)."""

    def store(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {STORE_SCHEMA}")
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
        record_segment_history(con, as_of)
        if model is not None:
            run_id, blob = model
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {STORE_SCHEMA}.segment_models (model_run_id VARCHAR PRIMARY KEY, "
                "as_of DATE, feature_columns VARCHAR, model_bytes BLOB)"
            )
            con.execute(f"DELETE FROM {STORE_SCHEMA}.segment_models WHERE model_run_id = ?", [run_id])
            con.execute(
                f"INSERT INTO {STORE_SCHEMA}.segment_models VALUES (?, ?, ?, ?)",
                [run_id, as_of, json.dumps(inputs.SEGMENT_FEATURES), blob],
            )

    return store


def build_segments(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    retrain: bool,
    log: Callable[[str], None] = print,
    settings: MlSettings | None = None,
) -> tuple[dict[str, int], dict]:
    """Read the segment features at `as_of`, score (or train) the segmentation and write the family's
    tables, its run row and the model store in one transaction. Returns (rows per table, summary)."""
    settings = settings or MlSettings()
    started = time.perf_counter()
    features = inputs.segment_features(con, as_of, settings.rfm_window_days)
    t_inputs = time.perf_counter()
    tables, summary, blob = segment_tables(
        features, as_of, saved_model(con, as_of), _previous_labels(con, as_of), retrain, log
    )
    t_model = time.perf_counter()
    model = (summary["model_run_id"], blob) if blob is not None else None
    counts = write_family(con, tables, as_of, also=_store(as_of, model))
    counts["customer_segments_history"] = con.execute("SELECT count(*) FROM ml.customer_segments_history").fetchall()[0][0]
    summary.update(inputs_seconds=round(t_inputs - started, 2), seconds=round(t_model - t_inputs, 2),
                   total_seconds=round(time.perf_counter() - started, 2))
    log(f"segments: inputs {t_inputs - started:.1f} s, model {t_model - t_inputs:.1f} s, "
        f"total {summary['total_seconds']:.1f} s")
    return counts, summary
