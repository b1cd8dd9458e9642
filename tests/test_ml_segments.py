"""Segmentation: k-means model, silhouette, naming, Hungarian persistence, explanation tree, tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.tree import DecisionTreeClassifier

from ml.clustering import SegmentModel, load_model, save_model
from ml.explain import explain_segments, format_threshold, tree_rules
from ml.hashing import frame_hash
from ml.naming import base_name, cluster_profile, is_rule_name, name_clusters, profile_names
from ml.runs import MODEL_RUN_COLUMNS
from ml.segmentation import CUSTOMER_SEGMENT_COLUMNS, PROFILE_COLUMNS, segment_customers
from ml.silhouette import silhouettes
from ml.simulate import simulate_customers
from ml.stability import label_retention, match_clusters


@pytest.fixture(scope="module")
def customers():
    return simulate_customers(4000, random_state=3)


@pytest.fixture(scope="module")
def result(customers):
    feats, _ = customers
    return segment_customers(feats, k_range=(2, 6), as_of="2025-06-30")


def test_silhouettes_match_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X[:100] += 4
    labelings = {2: (X[:, 0] > 2).astype(int), 3: rng.integers(0, 3, 300), 4: np.r_[0, np.ones(299, int)]}
    got = silhouettes(X, labelings, block=64)
    for k, lab in labelings.items():
        assert got[k] == pytest.approx(silhouette_score(X, lab), abs=1e-10)
    assert np.isnan(silhouettes(X, {1: np.zeros(300)})[1])


def test_model_finds_the_archetypes(result, customers):
    _, truth = customers
    m = result.model
    assert set(m.silhouette_by_k_) == {2, 3, 4, 5, 6}
    assert m.n_clusters_ == max(m.silhouette_by_k_, key=m.silhouette_by_k_.get)
    assert adjusted_rand_score(truth, m.labels_) > 0.6
    sizes = [m.cluster_sizes_[i] for i in sorted(m.cluster_sizes_)]
    assert sizes == sorted(sizes, reverse=True)  # first fit: ids by size
    assert list(m.centroids_.index) == list(range(m.n_clusters_))
    # original-space centroids are the inverse of the log/scale transform
    back = m.pipeline_.named_steps["scale"].inverse_transform(m.centroids_scaled_.to_numpy())
    assert np.allclose(np.log1p(m.centroids_.to_numpy()), back)
    assert len(set(m.segment_names_.values())) == m.n_clusters_


def test_fixed_k_and_predict_reuses_pipeline(customers):
    feats, _ = customers
    m = SegmentModel(k=4, random_state=1).fit(feats)
    assert m.n_clusters_ == 4 and list(m.silhouette_by_k_) == [4]
    assert (m.predict(feats) == m.labels_).all()
    # column order of the scoring frame does not matter; customer_id as a column works
    shuffled = feats[feats.columns[::-1]].reset_index()
    assert (m.predict(shuffled) == m.labels_).all()


def test_minibatch_path_for_large_inputs(customers):
    feats, _ = customers
    m = SegmentModel(k_range=(3, 4), minibatch_threshold=1000, selection_sample=1500, silhouette_sample=800).fit(feats)
    assert m.algorithm_ == "minibatch_kmeans"
    assert len(m.labels_) == len(feats) and (m.predict(feats) == m.labels_).all()


def test_save_load_round_trip_and_hash(result, customers):
    feats, _ = customers
    blob = save_model(result.model)
    again = load_model(blob)
    assert (again.predict(feats) == result.model.predict(feats)).all()
    assert again.training_hash_ == frame_hash(feats[again.feature_names_in_]) == result.model.training_hash_
    changed = feats.copy()
    changed.iloc[0, 0] += 1
    assert frame_hash(changed) != frame_hash(feats)
    with pytest.raises(ValueError, match="not fitted"):
        save_model(SegmentModel())


def test_match_clusters_recovers_permutation():
    rng = np.random.default_rng(5)
    old = rng.normal(size=(5, 4)) * 3
    old_ids = np.array([10, 11, 12, 13, 14])
    perm = np.array([3, 0, 4, 1, 2])
    new = old[perm] + rng.normal(scale=0.05, size=(5, 4))
    ids, dist = match_clusters(old, new, old_ids)
    assert ids.tolist() == old_ids[perm].tolist()
    assert np.all(dist < 0.5)
    # one more new cluster than old: it gets a fresh id; one fewer: an old id retires
    ids6, d6 = match_clusters(old, np.vstack([new, [50, 50, 50, 50]]), old_ids, sizes=[1] * 6)
    assert ids6[-1] == 15 and np.isnan(d6[-1]) and sorted(ids6[:5]) == old_ids.tolist()
    ids4, _ = match_clusters(old, new[:4], old_ids)
    assert ids4.tolist() == old_ids[perm[:4]].tolist()


def test_retrain_keeps_ids_and_names_when_rows_are_permuted(result, customers):
    feats, _ = customers
    old = result.model
    shuffled = feats.sample(frac=1.0, random_state=7)
    fresh = SegmentModel(k_range=(2, 6), random_state=99).fit(shuffled)  # no previous: arbitrary ids
    again = segment_customers(shuffled, k_range=(2, 6), random_state=99, previous=old)
    new_labels = pd.Series(again.model.labels_, index=shuffled.index)
    old_labels = pd.Series(old.labels_, index=feats.index)
    assert again.retention == pytest.approx(label_retention(old_labels, new_labels))
    assert again.retention >= 0.95
    assert again.model.segment_names_ == old.segment_names_
    assert adjusted_rand_score(fresh.labels_, again.model.labels_) > 0.9
    assert (again.model.matching_["previous_distance"] < 0.5).all()


def _profiles() -> tuple[pd.DataFrame, pd.Series]:
    """Cluster medians in raw units (index = cluster id) and the established customers' medians."""
    profile = pd.DataFrame(
        {   # new, bargain hunters, at risk, champions, loyal, occasional
            "observed_tenure_days": [60, 540, 540, 540, 540, 540],
            "discounted_line_ratio": [0.21, 0.53, 0.18, 0.10, 0.12, 0.15],
            "days_since_last_activity": [11, 7, 232, 5, 13, 20],
            "activity_trend": [1.0, 0.98, 0.39, 0.99, 1.0, 0.97],
            "frequency": [0, 3, 2, 11, 4, 1],
            "monetary": [0, 1500, 970, 10800, 2900, 600],
        },
        index=pd.Index([0, 1, 2, 3, 4, 5], name="cluster_id"),
    )
    reference = pd.Series({"observed_tenure_days": 540, "discounted_line_ratio": 0.18, "days_since_last_activity": 17,
                           "activity_trend": 1.0, "frequency": 3, "monetary": 1970})
    return profile, reference


def test_profile_rules_name_each_archetype():
    profile, reference = _profiles()
    names = profile_names(profile, reference)
    assert names == {0: "new", 1: "bargain hunters", 2: "at risk", 3: "champions", 4: "loyal", 5: "occasional"}
    assert names == profile_names(profile, reference), "deterministic"
    # without behaviour events activity is the last order: bargain hunters look lapsed, the discount decides
    no_events = profile.assign(days_since_last_activity=[40, 105, 330, 21, 85, 120], activity_trend=1.0)
    ref = reference.copy()
    ref["days_since_last_activity"] = 130.0
    assert profile_names(no_events, ref)[1] == "bargain hunters" and profile_names(no_events, ref)[2] == "at risk"
    # a recently lapsing cluster (trend down) is at risk before its days since activity grow
    assert base_name(profile.loc[4].replace({1.0: 0.5}), reference) == "at risk"


def test_names_are_unique_and_keep_a_matched_name_while_the_rule_holds():
    profile, reference = _profiles()
    twice = pd.concat([profile, profile.loc[[4]].assign(monetary=900).rename(index={4: 6})])
    names = profile_names(twice, reference)
    assert names[4] == "loyal high spend" and names[6] == "loyal low spend" and len(set(names.values())) == 7
    kept = profile_names(profile, reference, previous={4: "loyal high spend", 3: "champions 2"})
    assert kept[4] == "loyal high spend" and kept[3] == "champions 2", "names stable across retrains"
    moved = profile_names(profile, reference, previous={4: "champions", 1: "mid value", 0: "low value browsing"})
    assert moved[4] == "loyal" and moved[1] == "bargain hunters" and moved[0] == "new", "stale or old-scheme names go"
    assert all(map(is_rule_name, moved.values())) and not is_rule_name("mid value")


def test_reference_is_the_established_customers():
    frame = pd.DataFrame({"observed_tenure_days": [30, 30, 30, 400, 400, 400], "frequency": [0, 0, 0, 4, 5, 6]})
    _, reference = cluster_profile(frame, [0, 0, 0, 1, 1, 1])
    assert reference["frequency"] == 5, "new sign-ups (no orders yet) do not pull the yardstick down"
    assert name_clusters(frame, [0, 0, 0, 1, 1, 1]) == {0: "new", 1: "loyal"}


def test_label_retention():
    a = pd.Series([0, 1, 2, 2], index=["a", "b", "c", "d"])
    b = pd.Series([0, 1, 1, 9], index=["a", "b", "c", "x"])
    assert label_retention(a, b) == pytest.approx(2 / 3)


def test_tree_rules_text_on_hand_built_frame():
    # cluster 0: recent buyers; 1: lapsed with few orders; 2: lapsed with many orders
    X = pd.DataFrame({"customer_id": range(12),
                      "recency_days": [5, 10, 20, 30, 200, 220, 240, 260, 200, 220, 240, 260],
                      "frequency": [1, 2, 9, 10, 1, 2, 1, 2, 8, 9, 10, 11]})
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    tree = DecisionTreeClassifier(criterion="entropy", max_depth=2, random_state=0).fit(X[["recency_days", "frequency"]], y)
    rules = tree_rules(tree, ["recency_days", "frequency"])
    got = dict(zip(rules["cluster_id"], rules["rule"], strict=True))
    assert got == {0: "recency_days <= 115", 1: "recency_days > 115 AND frequency <= 5", 2: "recency_days > 115 AND frequency > 5"}
    assert rules["support"].sum() == pytest.approx(1.0) and (rules["purity"] == 1.0).all()
    assert format_threshold(45.5) == "45.5" and format_threshold(3.0) == "3" and format_threshold(0.03456) == "0.03456"


def test_explain_segments_fidelity_and_rules(result):
    exp = result.explanation
    assert exp.fidelity >= 0.85
    assert exp.tree.get_depth() <= 4 and exp.tree.criterion == "entropy"
    rules = result.segment_rules
    assert list(rules.columns) == ["run_id", "cluster_id", "segment_name", "rule_id", "rule", "n_customers", "support", "purity"]
    assert rules["rule"].str.contains(r"(?:<=|>) ").all()
    assert rules["support"].sum() == pytest.approx(1.0)
    assert ((rules["purity"] > 0) & (rules["purity"] <= 1)).all()
    assert rules.groupby("cluster_id")["rule_id"].apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()
    with pytest.raises(ValueError, match="max_depth"):
        explain_segments(pd.DataFrame({"x": [1, 2]}), [0, 1], max_depth=5)


def test_segment_tables(result, customers):
    feats, _ = customers
    cs = result.customer_segments
    # the raw RFM inputs sit beside the scores; the other model features follow
    assert list(cs.columns) == CUSTOMER_SEGMENT_COLUMNS + [c for c in feats.columns if c not in CUSTOMER_SEGMENT_COLUMNS]
    assert np.allclose(cs.set_index("customer_id")[["recency_days", "frequency", "monetary"]],
                       feats[["recency_days", "frequency", "monetary"]])
    assert len(cs) == len(feats) and cs["customer_id"].is_unique
    assert (cs["segment_name"] == cs["cluster_id"].map(result.model.segment_names_)).all()
    assert ((cs["frequency"] == 0) == (cs["rfm_segment"] == "no_purchase")).all()
    prof = result.segment_profiles
    assert list(prof.columns) == PROFILE_COLUMNS
    assert len(prof) == result.model.n_clusters_ * feats.shape[1]
    assert prof.groupby("cluster_id")["share"].first().sum() == pytest.approx(1.0)
    means = feats.assign(c=result.model.labels_).groupby("c")["monetary"].mean()
    got = prof[prof["feature"] == "monetary"].set_index("cluster_id")["mean"]
    assert np.allclose(got.sort_index().to_numpy(), means.sort_index().to_numpy())
    run = result.model_run
    assert list(run.columns) == MODEL_RUN_COLUMNS and len(run) == 1
    metrics = json.loads(run.loc[0, "metrics_json"])
    assert metrics["k"] == result.model.n_clusters_ and metrics["fidelity"] == pytest.approx(result.explanation.fidelity)
    assert set(json.loads(run.loc[0, "library_versions_json"])) >= {"numpy", "pandas", "scikit-learn", "statsmodels"}
    assert run.loc[0, "run_id"].startswith("segments-2025-06-30-") and (cs["run_id"] == run.loc[0, "run_id"]).all()


def test_segmentation_is_deterministic(result, customers):
    feats, _ = customers
    again = segment_customers(feats, k_range=(2, 6), as_of="2025-06-30")
    for a, b in [(result.customer_segments, again.customer_segments), (result.segment_profiles, again.segment_profiles),
                 (result.segment_rules, again.segment_rules), (result.model_run, again.model_run)]:
        pd.testing.assert_frame_equal(a, b)


def test_bad_input_is_named():
    feats, _ = simulate_customers(50, random_state=1)
    with pytest.raises(ValueError, match="not numeric"):
        SegmentModel(k=2).fit(feats.assign(city="x"))
    with pytest.raises(ValueError, match="more customers"):
        SegmentModel(k=60).fit(feats)
