"""Segmentation end to end: the frames behind `ml.customer_segments`, `ml.segment_profiles`,
`ml.segment_rules` and `ml.model_runs`.

Weekly retrain:  result = segment_customers(features, previous=load_model(old_bytes), as_of=...)
                 store save_model(result.model) and the four frames.
Nightly scoring: customer_segments_frame(load_model(bytes), features, run_id=...)  (no refit)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clustering import SegmentModel
from .explain import SegmentExplanation, explain_segments
from .naming import name_clusters
from .rfm import rfm_scores
from .runs import make_run_id, model_run_record
from .stability import label_retention
from .validation import customer_frame

RFM_INPUTS = ("recency_days", "frequency", "monetary")
CUSTOMER_SEGMENT_COLUMNS = ["run_id", "customer_id", "cluster_id", "segment_name", "rfm_segment", "rfm_code",
                            "r_score", "f_score", "m_score", "recency_days", "frequency", "monetary"]
PROFILE_COLUMNS = ["run_id", "cluster_id", "segment_name", "n_customers", "share", "feature", "mean", "median",
                   "centroid", "centroid_z"]


@dataclass(frozen=True)
class SegmentationResult:
    """Everything a retrain produces. Frames map 1:1 to the `ml` tables (columns documented on
    `segment_customers`); `model` is the fitted `SegmentModel`, `explanation` the tree and its fidelity."""

    customer_segments: pd.DataFrame
    segment_profiles: pd.DataFrame
    segment_rules: pd.DataFrame
    model_run: pd.DataFrame
    model: SegmentModel
    explanation: SegmentExplanation
    retention: float | None


def customer_segments_frame(
    model: SegmentModel,
    features: pd.DataFrame,
    run_id: str,
    rfm_columns: tuple[str, str, str] = RFM_INPUTS,
) -> pd.DataFrame:
    """`ml.customer_segments` rows from a fitted model (nightly scoring reuses the saved model).

    Takes the model, the feature frame (customer_id index or column; the model's feature columns, plus
    the three RFM input columns — recency, frequency, monetary — which may or may not be model features)
    and the run id. Returns one row per customer with columns
      run_id, customer_id, cluster_id (int64, persistent), segment_name, rfm_segment, rfm_code,
      r_score, f_score, m_score (Int64, <NA> for no_purchase), recency_days, frequency, monetary (the raw
      RFM inputs the scores rank: days since the last purchase, NaN without one; purchases; their value),
      then every model feature that is not one of those (raw values).
    """
    frame = customer_frame(features, list(dict.fromkeys([*model.feature_names_in_, *rfm_columns])))
    cluster = model.predict(frame[model.feature_names_in_])
    rfm = rfm_scores(frame.reset_index(), *rfm_columns)
    out = pd.DataFrame({"run_id": run_id, "customer_id": frame.index.to_numpy(), "cluster_id": cluster.astype(np.int64),
                        "segment_name": model.segment_name(cluster)})
    for col in ("rfm_segment", "rfm_code", "r_score", "f_score", "m_score"):
        out[col] = rfm[col].to_numpy()
    for col, src in zip(RFM_INPUTS, rfm_columns, strict=True):
        out[col] = frame[src].to_numpy(dtype=float)
    for col in model.feature_names_in_:
        if col not in out.columns:
            out[col] = frame[col].to_numpy(dtype=float)
    return out


def segment_profiles_frame(model: SegmentModel, features: pd.DataFrame, cluster_ids, run_id: str) -> pd.DataFrame:
    """`ml.segment_profiles`: one row per (cluster, feature).

    Columns: run_id, cluster_id, segment_name, n_customers, share (of all customers), feature,
    mean and median (raw feature values of the cluster's customers), centroid (original units) and
    centroid_z (standardised log1p units; > 0 means above the average customer).
    """
    frame = customer_frame(features, model.feature_names_in_).astype(float)
    frame = frame.assign(cluster_id=np.asarray(cluster_ids))
    g = frame.groupby("cluster_id", sort=True)
    mean = g.mean().stack().rename("mean")
    median = g.median().stack().rename("median")
    stats = pd.concat([mean, median], axis=1)
    stats.index.names = ["cluster_id", "feature"]
    stats = stats.reset_index()
    sizes = g.size()
    cz = model.centroids_scaled_.stack().rename("centroid_z")
    cz.index.names = ["cluster_id", "feature"]
    co = model.centroids_.stack().rename("centroid")
    co.index.names = ["cluster_id", "feature"]
    cent = pd.concat([co, cz], axis=1).reset_index()
    out = cent.merge(stats, on=["cluster_id", "feature"], how="left")
    out["n_customers"] = out["cluster_id"].map(sizes).fillna(0).astype(np.int64)
    out["share"] = out["n_customers"] / max(len(frame), 1)
    out["segment_name"] = model.segment_name(out["cluster_id"])
    out["run_id"] = run_id
    order = {f: i for i, f in enumerate(model.feature_names_in_)}
    out = out.sort_values(["cluster_id", "feature"], key=lambda s: s.map(order) if s.name == "feature" else s,
                          ignore_index=True)
    out["cluster_id"] = out["cluster_id"].astype(np.int64)
    return out[PROFILE_COLUMNS]


def name_by_profile(model: SegmentModel, frame: pd.DataFrame, labels, previous: SegmentModel | None) -> None:
    """Set `model.segment_names_` from the clusters' raw profiles (`ml.naming`: tenure, discount ratio,
    activity, frequency and value of the model features and RFM inputs in `frame`). On a retrain a cluster
    matched to `previous` keeps its previous name while the rules still give that name; a name they no
    longer support (or one of an older naming scheme) is replaced by the rule's name."""
    matched = {} if previous is None else {
        int(i): previous.segment_names_[int(i)] for i in model.segment_names_ if int(i) in previous.segment_names_
    }
    names = name_clusters(frame, labels, previous=matched)
    model.segment_names_ = {int(i): names.get(int(i), model.segment_names_[int(i)]) for i in sorted(model.segment_names_)}


def segment_customers(
    features: pd.DataFrame,
    feature_columns: list[str] | None = None,
    *,
    previous: SegmentModel | None = None,
    previous_labels: pd.Series | None = None,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 8),
    n_init: int = 4,
    random_state: int = 0,
    rfm_columns: tuple[str, str, str] = RFM_INPUTS,
    max_depth: int = 4,
    as_of: str | None = None,
    run_id: str | None = None,
    **model_params,
) -> SegmentationResult:
    """Fit (or retrain) the segmentation and build every segment table.

    Takes
      features: one row per customer (customer_id index or column) with the behaviour features and the
        RFM inputs `rfm_columns` (recency_days, frequency, monetary). Recommended model features:
        recency_days, frequency, monetary, visits, likes, tickets (service load), campaign_response_rate.
      feature_columns: the columns k-means uses (default: every numeric column).
      previous: last week's model; ids/names are matched to it (Hungarian) and k-means warm-started.
      previous_labels: Series customer_id → cluster_id of the previous run, to report label retention;
        if omitted but `previous` is given, the previous model's predictions on today's features are used.
      k / k_range / n_init / random_state / **model_params: passed to `SegmentModel`.
      max_depth: explanation tree depth (<= 4). as_of: the run's logical date (str). run_id: optional.

    Returns a `SegmentationResult` whose frames are
      customer_segments — see `customer_segments_frame`;
      segment_profiles  — see `segment_profiles_frame`;
      segment_rules     — run_id, cluster_id, segment_name, rule_id, rule, n_customers, support, purity;
      model_run         — one row, see `ml.runs.model_run_record` (model "segments_kmeans"; metrics:
                          k, silhouette, silhouette_by_k, fidelity, cluster_sizes, retention, algorithm,
                          max_match_distance).
    """
    cols = feature_columns or [c for c in features.columns if c != "customer_id"
                               and pd.api.types.is_numeric_dtype(features[c])]
    frame = customer_frame(features, list(dict.fromkeys([*cols, *[c for c in rfm_columns if c in features.columns]])))
    model = SegmentModel(k=k, k_range=k_range, n_init=n_init, random_state=random_state, **model_params)
    model.fit(frame[cols], previous=previous)
    labels = model.labels_
    name_by_profile(model, frame, labels, previous)
    params = {**model.params_dict(), "features": cols, "explain_max_depth": max_depth}
    rid = run_id or make_run_id("segments", as_of, model.training_hash_, params)
    explanation = explain_segments(frame[cols], labels, model.segment_names_, max_depth=max_depth, random_state=random_state)
    retention = None
    if previous is not None or previous_labels is not None:
        old = previous_labels if previous_labels is not None else pd.Series(previous.predict(frame[cols]), index=frame.index)
        retention = label_retention(old, pd.Series(labels, index=frame.index))
    missing_rfm = [c for c in rfm_columns if c not in frame.columns]
    if missing_rfm:
        raise ValueError(f"segment_customers: RFM input column(s) {missing_rfm} missing from features")
    segments = customer_segments_frame(model, frame.reset_index(), rid, rfm_columns)
    profiles = segment_profiles_frame(model, frame[cols], labels, rid)
    rules = explanation.rules.assign(run_id=rid)[["run_id", *explanation.rules.columns]]
    metrics = {
        "k": model.n_clusters_,
        "silhouette": model.silhouette_,
        "silhouette_by_k": {str(k_): v for k_, v in model.silhouette_by_k_.items()},
        "fidelity": explanation.fidelity,
        "cluster_sizes": {str(i): s for i, s in model.cluster_sizes_.items()},
        "segment_names": {str(i): s for i, s in model.segment_names_.items()},
        "retention": retention,
        "algorithm": model.algorithm_,
        "max_match_distance": None if model.matching_ is None else float(np.nanmax(model.matching_["previous_distance"])),
    }
    run = model_run_record("segments_kmeans", model.training_hash_, model.n_train_, params, metrics, as_of, rid)
    return SegmentationResult(segments, profiles, rules, run, model, explanation, retention)
