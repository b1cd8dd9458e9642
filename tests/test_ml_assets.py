"""The ML stage as Dagster assets (orchestration/ml_assets/assets.py), acceptance of issue 6 on generated data.

Everything runs on ONE scale-0.1 build (`built_scale01`: seed 7, two nightly runs through the CLI; day 1
trains the segmentation, day 2 scores with the saved model) plus one private copy of it on which the ML
assets are materialised through Dagster twice: as the nightly run (must reproduce the day-2 tables exactly)
and with `retrain: true` (the weekly retrain; labels must stay put). Figures are printed (`pytest -s`) and
recorded as junit properties.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from ml.qini import qini_coefficient
from orchestration.assets.resources import RunHooks, WarehouseResource
from orchestration.ml_assets.assets import (
    ML_ASSETS,
    ML_KEYS,
    ml_campaign_effects,
    ml_churn_risk,
    ml_customer_lifetime_value,
    ml_model_runs,
    ml_retrain_job,
    ml_segments,
    ml_uplift,
    ml_weekly_retrain_schedule,
)
from orchestration.ml_assets.inputs import SEGMENT_FEATURES
from orchestration.ml_assets.tables import FAMILIES, ML_TABLES
from tests.conftest import Built, copy_built

pytestmark = pytest.mark.slow  # the module builds one scale-0.1 warehouse (two nightly runs through the CLI)

ARI_RATIO_MIN = 0.9  # k-means ARI vs an out-of-fold supervised classifier on the same features
FIDELITY_MIN = 0.9
RETENTION_MIN = 0.95
MIN_PAIRS = 40
COVERAGE_MIN = 0.85
QINI_RATIO_MIN = 0.7


def _query(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).df()


def _work(built: Built) -> Path:
    return built.warehouse / "work" / "crm_work.duckdb"


def _runs(path: Path) -> pd.DataFrame:
    runs = _query(path, "SELECT * FROM ml.model_runs ORDER BY as_of, model, run_id")
    runs["metrics"] = runs["metrics_json"].map(json.loads)
    runs["params"] = runs["params_json"].map(json.loads)
    return runs


@contextmanager
def _environment_restored():
    """The warehouse resource exports CRM_* settings into os.environ; keep the session's environment."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _materialize_ml(built: Built, retrain: bool) -> float:
    resource = WarehouseResource(
        landing_dir=str(built.landing),
        warehouse_dir=str(built.warehouse),
        lock_wait_seconds=0,
        record_run_outcome=False,
    )
    start = time.perf_counter()
    with _environment_restored():
        result = dg.materialize(
            ML_ASSETS,
            resources={"warehouse": resource, "hooks": RunHooks()},
            run_config={"ops": {"ml_segments": {"config": {"retrain": retrain}}}},
        )
    assert result.success
    return time.perf_counter() - start


@dataclass(frozen=True)
class Rerun:
    copy: Built
    nightly_seconds: float
    retrain_seconds: float
    nightly_tables: dict[str, pd.DataFrame]  # the ml tables after the nightly re-run, before the retrain
    labels_before_retrain: pd.Series


@pytest.fixture(scope="module")
def rerun(built_scale01: Built, tmp_path_factory) -> Rerun:
    """A copy of the day-2 warehouse: the ML assets re-run as the nightly run did, then retrained."""
    copy = copy_built(built_scale01, tmp_path_factory.mktemp("ml_rerun"))
    nightly = _materialize_ml(copy, retrain=False)
    tables = {name: _query(_work(copy), f"SELECT * FROM ml.{name}") for name in ML_TABLES}
    before = tables["customer_segments"].set_index("customer_id")["cluster_id"]
    retrain = _materialize_ml(copy, retrain=True)
    return Rerun(copy, nightly, retrain, tables, before)


# ------------------------------------------------------------------------------------------------
# definitions (no build needed)
# ------------------------------------------------------------------------------------------------
def test_ml_assets_keys_group_and_schedule():
    """One asset per output family (segments, campaign effects, uplift) plus ml/model_runs after them; the
    asset keys are the ml tables; each family depends only on its dbt input models (ml_inputs), whose lineage
    from the manifest reaches the marts they read."""
    families = {"segments": ml_segments, "campaign_effects": ml_campaign_effects, "uplift": ml_uplift,
                "churn_risk": ml_churn_risk, "lifetime_value": ml_customer_lifetime_value}
    for family, asset in families.items():
        assert set(asset.keys) == {ML_KEYS[name] for name in FAMILIES[family]}, family
        assert not asset.can_subset
    assert set(ml_model_runs.keys) == {ML_KEYS["model_runs"]}
    assert {k for a in ML_ASSETS for k in a.keys} == set(ML_KEYS.values())
    assert {g for a in ML_ASSETS for g in a.group_names_by_key.values()} == {"ml"}
    # each family depends on its dbt input models only; what they read comes from dbt's lineage (the manifest)
    deps = {name: {k.to_user_string() for k in asset.dependency_keys} for name, asset in families.items()}
    assert deps["segments"] == {"ml_inputs/ml_input_settings", "ml_inputs/ml_segment_features"}
    assert deps["campaign_effects"] == {"ml_inputs/ml_input_settings", "ml_inputs/ml_campaign_units",
                                        "ml_inputs/ml_campaign_cost_population"}
    assert deps["uplift"] == {"ml_inputs/ml_input_settings", "ml_inputs/ml_campaign_units"}
    assert deps["churn_risk"] == {"ml_inputs/ml_input_settings", "ml_inputs/ml_churn_features"}
    assert deps["lifetime_value"] == {"ml_inputs/ml_input_settings", "ml_inputs/ml_clv_purchases"}
    assert set(ml_model_runs.dependency_keys) == set(ML_KEYS.values()) - {ML_KEYS["model_runs"]}
    assert ml_weekly_retrain_schedule.job_name == ml_retrain_job.name
    assert ml_retrain_job.config["ops"]["ml_segments"]["config"] == {"retrain": True}
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = {family: {k.to_user_string() for k in dg.AssetSelection.assets(*asset.keys).upstream().resolve(graph)}
                for family, asset in families.items()}
    assert {"marts/dim_customers", "marts/customer_id_map", "marts/fct_orders", "marts/fct_order_items",
            "intermediate/int_customer_behavior_events", "intermediate/int_customer_as_of"} <= upstream["segments"]
    assert "marts/fct_campaign_members" not in upstream["segments"], "segments do not wait for the campaign marts"
    for family in ("campaign_effects", "uplift"):
        assert {"marts/fct_campaign_members", "marts/dim_campaigns", "marts/fct_tickets",
                "intermediate/int_customer_versions"} <= upstream[family], family
    assert "ml_inputs/ml_campaign_cost_population" not in upstream["uplift"]
    rpt = graph.get(dg.AssetKey(["reports", "rpt_campaign"]))
    assert dg.AssetKey(["ml", "campaign_effects"]) in rpt.parent_keys
    assert not {ML_KEYS[name] for name in FAMILIES["segments"] + FAMILIES["uplift"]} & rpt.parent_keys
    publish_parents = graph.get(dg.AssetKey(["serving", "crm_duckdb"])).parent_keys
    assert set(ML_KEYS.values()) | {dg.AssetKey(["reports", "rpt_campaign"])} <= publish_parents
    assert defs.resolve_schedule_def("ml_weekly_retrain") is not None


# ------------------------------------------------------------------------------------------------
# a. segments: ARI vs a supervised classifier, tree fidelity, stability across a retrain
# ------------------------------------------------------------------------------------------------
def _truth_segments(built: Built) -> pd.Series:
    ids = built.query("SELECT customer_id, master_customer_id FROM marts.customer_id_map")
    truth = built.truth("segments").merge(ids, on="customer_id")
    per_master = truth.groupby("master_customer_id")["true_segment"].agg(["first", "nunique"])
    assert (per_master["nunique"] == 1).all(), "records of one person carry one segment"
    return per_master["first"]


def test_segments_recover_the_planted_archetypes(built_scale01: Built, record_property):
    seg = built_scale01.query("SELECT * FROM ml.customer_segments ORDER BY customer_id")
    truth = _truth_segments(built_scale01)
    assert set(seg["customer_id"]) == set(
        built_scale01.query("SELECT master_customer_id FROM marts.dim_customers")["master_customer_id"]
    )
    seg = seg[seg["customer_id"].isin(truth.index)]
    y = truth.loc[seg["customer_id"]].to_numpy()
    ari = adjusted_rand_score(y, seg["cluster_id"])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    with threadpool_limits(1):
        oof = cross_val_predict(
            HistGradientBoostingClassifier(random_state=0),
            seg[SEGMENT_FEATURES].to_numpy(dtype=float),
            y,
            cv=folds,
        )
    ari_supervised = adjusted_rand_score(y, oof)
    ratio = ari / ari_supervised
    print(f"\nsegments: ARI {ari:.3f}, supervised (5-fold HGB) ARI {ari_supervised:.3f}, ratio {ratio:.3f}")
    print(pd.crosstab(pd.Series(y, name="truth"), seg["segment_name"].to_numpy()))
    record_property("ari_ratio", round(ratio, 4))
    assert ratio >= ARI_RATIO_MIN


def test_tree_fidelity_and_nightly_reuse_of_the_saved_model(built_scale01: Built, record_property):
    runs = _runs(built_scale01.published)
    (d1, d2) = sorted(runs["as_of"].unique())
    train = runs[runs["model"] == "segments_kmeans"]
    assert list(train["as_of"]) == [d1], "day 1 trains (no saved model yet), day 2 does not retrain"
    score = runs[(runs["model"] == "segments_scoring")]
    assert list(score["as_of"]) == [d2]
    assert score["params"].iloc[0]["model_run_id"] == train["run_id"].iloc[0]
    seg = built_scale01.query("SELECT DISTINCT run_id FROM ml.customer_segments")
    assert list(seg["run_id"]) == [score["run_id"].iloc[0]]
    for label, row in (("training", train.iloc[0]), ("nightly", score.iloc[0])):
        m = row["metrics"]
        print(
            f"{label}: k={m['k']} silhouette={m['silhouette']:.3f} fidelity={m['fidelity']:.3f} sizes={m['cluster_sizes']}"
        )
        assert m["fidelity"] >= FIDELITY_MIN
        assert {"python", "numpy", "pandas", "scikit-learn"} <= set(json.loads(row["library_versions_json"]))
        assert len(row["training_data_hash"]) == 64
    record_property("fidelity_training", round(train["metrics"].iloc[0]["fidelity"], 4))
    rules = built_scale01.query("SELECT * FROM ml.segment_rules")
    assert set(rules["cluster_id"]) <= set(
        built_scale01.query("SELECT cluster_id FROM ml.customer_segments")["cluster_id"]
    )
    profiles = built_scale01.query("SELECT * FROM ml.segment_profiles")
    assert set(profiles["feature"]) == set(SEGMENT_FEATURES)


def test_weekly_retrain_keeps_the_labels(rerun: Rerun, built_scale01: Built, record_property):
    runs = _runs(_work(rerun.copy))
    retrained = runs[(runs["model"] == "segments_kmeans") & (runs["as_of"] == runs["as_of"].max())]
    assert len(retrained) == 1, "the retrain of day 2 is recorded"
    recorded = retrained["metrics"].iloc[0]["retention"]
    after = _query(_work(rerun.copy), "SELECT customer_id, cluster_id FROM ml.customer_segments").set_index(
        "customer_id"
    )["cluster_id"]
    day1 = _query(
        built_scale01.warehouse.parent / "day1_crm.duckdb",
        "SELECT customer_id, cluster_id FROM ml.customer_segments",
    ).set_index("customer_id")["cluster_id"]
    both = day1.index.intersection(after.index)
    vs_day1 = float((day1.loc[both] == after.loc[both]).mean())
    vs_nightly = float((rerun.labels_before_retrain.loc[after.index] == after).mean())
    print(
        f"\nretrain on day 2: retention {recorded:.4f} (recorded), {vs_day1:.4f} vs day-1 labels, "
        f"{vs_nightly:.4f} vs the nightly labels; {rerun.retrain_seconds:.1f} s"
    )
    record_property("retention_vs_day1", round(vs_day1, 4))
    assert recorded == pytest.approx(vs_day1), "retention is measured against the previous day's labels"
    assert min(vs_day1, vs_nightly) >= RETENTION_MIN
    models = _query(
        _work(rerun.copy), "SELECT model_run_id, as_of FROM ml_store.segment_models ORDER BY as_of"
    )
    assert len(models) == 2 and models["model_run_id"].iloc[-1] == retrained["run_id"].iloc[0]
    assert "ml_store" not in set(
        rerun.copy.query("SELECT DISTINCT table_schema FROM information_schema.tables")["table_schema"]
    ), "the pickled model is never published"


# ------------------------------------------------------------------------------------------------
# b. campaign effects: CI coverage of the true effects
# ------------------------------------------------------------------------------------------------
def test_primary_effects_cover_the_true_effects(built_scale01: Built, record_property):
    eff = built_scale01.query("SELECT * FROM ml.campaign_effects")
    assert (eff.groupby(["campaign_id", "outcome"])["is_primary"].sum() == 1).all()
    primary = eff[eff["is_primary"]]
    truth = built_scale01.truth("campaign_effects").astype({"true_effect": float})
    m = primary.merge(truth, on=["campaign_id", "outcome"], suffixes=("", "_truth"), validate="one_to_one")
    assert len(m) == len(truth) >= MIN_PAIRS
    assert (m["design"] == m["design_truth"]).all()
    assert set(m.loc[m["design"] == "randomised", "method"]) == {"lin_hc2"}
    assert set(m.loc[m["design"] == "observational", "method"]) == {"aipw_att"}
    covered = (m["ci_low"] <= m["true_effect"]) & (m["true_effect"] <= m["ci_high"])
    width = m["ci_high"] - m["ci_low"]
    nonzero = m["true_effect"] != 0
    rel_width = (width[nonzero] / m.loc[nonzero, "true_effect"].abs()).median()
    print(
        f"\neffects: {len(m)} campaign-outcome pairs, coverage {covered.mean():.3f}, median CI width / |true "
        f"effect| {rel_width:.2f} (non-zero effects); median width conversion "
        f"{width[m['outcome'] == 'conversion'].median():.4f}, revenue {width[m['outcome'] == 'revenue'].median():.2f}"
    )
    print(
        m.loc[~covered, ["campaign_id", "outcome", "design", "estimate", "ci_low", "ci_high", "true_effect"]]
    )
    record_property("effect_pairs", len(m))
    record_property("ci_coverage", round(float(covered.mean()), 4))
    record_property("median_relative_ci_width", round(float(rel_width), 3))
    assert covered.mean() >= COVERAGE_MIN


# ------------------------------------------------------------------------------------------------
# c. uplift: held-out Qini vs the Qini of the true per-customer effects
# ------------------------------------------------------------------------------------------------
def test_uplift_scores_rank_like_the_true_effects(built_scale01: Built, record_property):
    up = built_scale01.query("SELECT * FROM ml.customer_uplift")
    designs = built_scale01.query("SELECT campaign_id, design FROM marts.dim_campaigns").set_index(
        "campaign_id"
    )["design"]
    assert set(up["campaign_id"]) == set(designs[designs == "randomised"].index), "observational: no score"
    members = built_scale01.query(
        "SELECT campaign_id, customer_id, member_group = 'treatment' AS treated, converted FROM marts.fct_campaign_members"
    )
    truth = built_scale01.truth("uplift").astype({"true_effect": float})
    s = up.merge(members, on=["campaign_id", "customer_id"], validate="one_to_one").merge(
        truth, on=["campaign_id", "customer_id"], validate="one_to_one"
    )
    assert len(s) == len(up)
    assert set(s["fold"]) == set(range(5)) and s["decile"].between(1, 10).all()
    t = s["treated"].astype(int)
    learned = qini_coefficient(s["converted"], t, s["uplift_score"])
    oracle = qini_coefficient(s["converted"], t, s["true_effect"])
    print(
        f"\nuplift: pooled held-out Qini {learned:.5f}, Qini of the true effects {oracle:.5f}, "
        f"ratio {learned / oracle:.3f} ({s['campaign_id'].nunique()} randomised campaigns, {len(s)} members)"
    )
    record_property("qini_ratio", round(learned / oracle, 4))
    assert oracle > 0 and learned >= QINI_RATIO_MIN * oracle
    curves = built_scale01.query("SELECT * FROM ml.uplift_curves")
    assert set(curves["campaign_id"]) == set(up["campaign_id"])


# ------------------------------------------------------------------------------------------------
# d. determinism; e. the report
# ------------------------------------------------------------------------------------------------
def test_a_rerun_on_the_same_data_gives_identical_ml_tables(
    rerun: Rerun, built_scale01: Built, record_property
):
    print(f"\nML step (nightly scoring, scale 0.1) through Dagster: {rerun.nightly_seconds:.1f} s")
    record_property("ml_step_seconds", round(rerun.nightly_seconds, 1))
    for name in ML_TABLES:
        original = _query(_work(built_scale01), f"SELECT * FROM ml.{name}")
        again = rerun.nightly_tables[name]
        assert list(original.columns) == list(again.columns), name
        assert len(original) == len(again), name
        pd.testing.assert_frame_equal(original, again, check_exact=True, obj=f"ml.{name}")


def test_rpt_campaign_carries_the_primary_effects(built_scale01: Built):
    rpt = built_scale01.query("SELECT * FROM reports.rpt_campaign ORDER BY campaign_id")
    primary = built_scale01.query("SELECT * FROM ml.campaign_effects WHERE is_primary")
    conv = primary[primary["outcome"] == "conversion"].set_index("campaign_id")
    rev = primary[primary["outcome"] == "revenue"].set_index("campaign_id")
    with_estimate = rpt[rpt["campaign_id"].isin(conv.index[conv["estimate"].notna()])]
    assert len(with_estimate) == len(rpt) == 20
    cols = [
        "effect_estimate",
        "effect_ci_low",
        "effect_ci_high",
        "effect_p_value",
        "effect_design",
        "incremental_revenue",
        "incremental_roi",
        "incremental_roi_ci_low",
        "incremental_roi_ci_high",
    ]
    assert with_estimate[cols].notna().all().all()
    r = with_estimate.set_index("campaign_id")
    assert np.allclose(r["effect_estimate"], conv.loc[r.index, "estimate"])
    assert np.allclose(r["effect_p_value"], conv.loc[r.index, "p_value"])
    assert (r["effect_design"] == r["design"]).all()
    # incremental revenue on the population the cost paid for: every treatment-group member
    assert (rev.loc[r.index, "treatment_members"] == r["treatment_members"]).all()
    expected = (rev.loc[r.index, "estimate"] * rev.loc[r.index, "treatment_members"]).round(2)
    assert np.allclose(r["incremental_revenue"].astype(float), expected, atol=0.01)
    assert (r["effect_treated_analysed"] == rev.loc[r.index, "n_treated"]).all()
    roi = (r["incremental_revenue"].astype(float) - r["cost"].astype(float)) / r["cost"].astype(float)
    assert np.allclose(r["incremental_roi"].astype(float), roi, atol=1e-4)
    assert (r["incremental_roi_ci_low"] <= r["incremental_roi"]).all()
    assert (r["incremental_roi"] <= r["incremental_roi_ci_high"]).all()
    assert r["lift_pct"].notna().any()


# ------------------------------------------------------------------------------------------------
# f. issue 16: configured outcomes (the planted visit lift), RFM without caps, names from the profile
# ------------------------------------------------------------------------------------------------
# Randomised campaigns whose 95 % visit CI may miss the truth: the 99th percentile of Binomial(n, 0.05), so an
# honest CI fails this test 1 % of the time (a fixed 1 of 16 failed 19 % of honest runs, e.g. 2 marginal misses
# after the churn hazard changed which at_risk customers were still active when campaigns ran).
VISIT_MISS_QUANTILE = 0.99


def test_visit_effect_covers_the_planted_visit_lift(built_scale01: Built, record_property):
    """crm.yml of the generated site asks for `visit`: every campaign gets a primary effect on `visits`
    (visit events per unit in the attribution window) whose CI covers the planted lift."""
    eff = built_scale01.query("SELECT * FROM ml.campaign_effects WHERE is_primary AND outcome = 'visits'")
    truth = built_scale01.truth("campaign_event_effects").astype({"true_effect": float})
    m = eff.merge(truth, on=["campaign_id", "outcome"], suffixes=("", "_truth"), validate="one_to_one")
    assert len(m) == len(truth) == 20
    assert (m["design"] == m["design_truth"]).all()
    covered = (m["ci_low"] <= m["true_effect"]) & (m["true_effect"] <= m["ci_high"])
    width = m["ci_high"] - m["ci_low"]
    rnd = m["design"] == "randomised"
    print(
        f"\nvisits: randomised covered {int(covered[rnd].sum())}/{int(rnd.sum())}, targeted "
        f"{int(covered[~rnd].sum())}/{int((~rnd).sum())}; median CI width {width[rnd].median():.3f} "
        f"(randomised), {width[~rnd].median():.3f} (targeted) visits per member"
    )
    print(m.loc[~covered, ["campaign_id", "design", "estimate", "ci_low", "ci_high", "true_effect"]])
    record_property("visit_coverage_randomised", f"{int(covered[rnd].sum())}/{int(rnd.sum())}")
    assert int((~covered[rnd]).sum()) <= binom.ppf(VISIT_MISS_QUANTILE, int(rnd.sum()), 0.05)
    assert covered[~rnd].mean() >= 0.75
    lifted = m["true_effect"] > 0
    assert (m.loc[lifted & rnd, "ci_low"] > 0).mean() >= 0.8, "planted visit lifts are detected"


def test_rfm_values_are_uncapped_and_published(built_scale01: Built):
    seg = built_scale01.query("SELECT * FROM ml.customer_segments")
    assert {"recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"} <= set(seg.columns)
    buyers = seg["frequency"] > 0
    assert seg.loc[~buyers, "recency_days"].isna().all(), "no purchase: NULL recency, not a cap"
    assert seg.loc[buyers, "recency_days"].notna().all()
    assert seg["recency_days"].max() > 365 and seg["tenure_days"].max() > 365
    assert (seg["recency_days"] == 365).mean() < 0.01, "no pile-up at a cap"
    assert seg["tenure_days"].nunique() > 100


def test_segment_names_follow_the_planted_archetypes(built_scale01: Built, record_property):
    """The cluster holding most customers of a planted archetype carries that archetype's name."""
    seg = built_scale01.query("SELECT customer_id, cluster_id, segment_name FROM ml.customer_segments")
    truth = _truth_segments(built_scale01)
    seg = seg[seg["customer_id"].isin(truth.index)]
    seg["truth"] = truth.loc[seg["customer_id"]].to_numpy()
    table = pd.crosstab(seg["truth"], seg["segment_name"])
    print(f"\n{table}")
    expected = {"new": "new", "bargain_hunter": "bargain hunters", "at_risk": "at risk", "champion": "champions",
                "loyal": "loyal"}
    got = {arch: table.loc[arch].idxmax() for arch in expected}
    record_property("segment_names", json.dumps(got))
    for arch in ("new", "bargain_hunter", "at_risk", "champion"):
        assert got[arch] == expected[arch], (arch, got)
    assert got["loyal"].startswith("loyal") or got["loyal"] == "occasional", got
    says = {"new": "new", "bargain_hunter": "bargain", "at_risk": "at risk"}
    for arch, word in says.items():  # most of each archetype, not only a plurality, sits under its name
        share = table.loc[arch, [c for c in table.columns if word in c]].sum() / table.loc[arch].sum()
        assert share >= 0.8, (arch, round(float(share), 3))
