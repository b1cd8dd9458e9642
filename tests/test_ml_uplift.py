"""Uplift: Qini/AUUC/uplift@k on hand-built data, cross-fitted learners, guards, determinism, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.qini import auuc, curve_points, pooled_qini, qini_coefficient, uplift_at_k, uplift_metrics
from ml.simulate import COVARIATES, simulate_uplift
from ml.uplift import (
    CURVE_TABLE_COLUMNS,
    CUSTOMER_UPLIFT_COLUMNS,
    METRIC_COLUMNS,
    score_campaign_uplift,
    uplift_scores,
)

# 8 members: the first four respond only when treated (persuadables), the last four never buy
Y = np.array([1, 0, 1, 0, 0, 0, 0, 0], dtype=float)
T = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=float)
GOOD = np.array([8, 7, 6, 5, 4, 3, 2, 1], dtype=float)


def test_qini_prefers_the_right_order_and_ties_score_zero():
    assert qini_coefficient(Y, T, GOOD) > 0
    assert qini_coefficient(Y, T, -GOOD) < 0
    assert qini_coefficient(Y, T, np.zeros(8)) == pytest.approx(0.0)  # one tie block = random targeting
    # ties are a block: grouping the persuadables into one tied score keeps the credit
    assert qini_coefficient(Y, T, np.r_[np.ones(4), np.zeros(4)]) > 0


def test_qini_curve_by_hand():
    pts = curve_points(Y, T, GOOD, n_points=4)  # fractions 0, .25, .5, .75, 1
    # top 4: Y_T=2, Y_C=0 -> qini = 2 extra conversions / 8 members
    assert pts.loc[2, "qini"] == pytest.approx(2 / 8)
    assert pts.loc[4, "qini"] == pytest.approx(2 / 8) and pts.loc[4, "qini_random"] == pytest.approx(2 / 8)
    assert pts.loc[0, "qini"] == 0 and np.isnan(pts.loc[0, "uplift_in_top"])
    assert pts.loc[2, "uplift_in_top"] == pytest.approx(1.0)  # ȳ_T − ȳ_C among the top half
    assert pts["n_targeted"].tolist() == [0, 2, 4, 6, 8]
    assert uplift_at_k(Y, T, GOOD, 0.5) == pytest.approx(1.0)
    assert uplift_at_k(Y, T, GOOD, 1.0) == pytest.approx(0.5)
    assert auuc(Y, T, GOOD) > auuc(Y, T, -GOOD)
    m = uplift_metrics(Y, T, GOOD)
    assert set(m) == {"qini_coefficient", "auuc", "uplift_top10", "uplift_top20", "uplift_top30"}


def test_pooled_qini_is_member_weighted():
    a = pd.DataFrame({"campaign_id": 1, "y": Y, "t": T, "s": GOOD})
    b = pd.DataFrame({"campaign_id": 2, "y": np.r_[Y, Y], "t": np.r_[T, T], "s": -np.r_[GOOD, GOOD]})
    qa, qb = qini_coefficient(Y, T, GOOD), qini_coefficient(b["y"], b["t"], b["s"])
    got = pooled_qini(pd.concat([a, b]), "s", "y", "t")
    assert got == pytest.approx((8 * qa + 16 * qb) / 24)


def test_learned_uplift_reaches_70pct_of_the_true_effect_qini():
    """Acceptance 3 (simulated): Qini of out-of-fold scores >= 0.7 × Qini of the true effects as scores."""
    m = simulate_uplift(20_000, random_state=5)
    scores, fold = uplift_scores(m["conversion"], m["treated"], m[COVARIATES], random_state=0)
    learned = qini_coefficient(m["conversion"], m["treated"], scores)
    oracle = qini_coefficient(m["conversion"], m["treated"], m["true_effect"])
    print(f"Qini learned {learned:.5f} vs true effects {oracle:.5f} (ratio {learned / oracle:.2f})")
    assert oracle > 0 and learned >= 0.7 * oracle
    assert sorted(np.unique(fold)) == [0, 1, 2, 3, 4]
    assert np.corrcoef(scores, m["true_effect"])[0, 1] > 0.5


def test_t_learner_runs_and_guards():
    m = simulate_uplift(3000, random_state=1)
    s, _ = uplift_scores(m["conversion"], m["treated"], m[COVARIATES], learner="t", nuisance="linear")
    assert np.isfinite(s).all()
    with pytest.raises(ValueError, match="randomised"):
        uplift_scores(m["conversion"], m["treated"], m[COVARIATES], design="observational")
    with pytest.raises(ValueError, match="learner"):
        uplift_scores(m["conversion"], m["treated"], m[COVARIATES], learner="s")


def test_score_campaign_uplift_tables_skip_observational_and_are_deterministic():
    a = simulate_uplift(3000, random_state=2, campaign_id=1)
    b = simulate_uplift(2000, random_state=3, campaign_id=2)
    members = pd.concat([a, b], ignore_index=True)
    designs = {1: "randomised", 2: "observational"}
    r1 = score_campaign_uplift(members, COVARIATES, "conversion", designs, nuisance="linear")
    r2 = score_campaign_uplift(members, COVARIATES, "conversion", designs, nuisance="linear")
    for x, y in [(r1.customer_uplift, r2.customer_uplift), (r1.uplift_curves, r2.uplift_curves), (r1.metrics, r2.metrics)]:
        pd.testing.assert_frame_equal(x, y)
    cu = r1.customer_uplift
    assert r1.skipped == [2] and set(cu["campaign_id"]) == {1}
    assert list(cu.columns) == CUSTOMER_UPLIFT_COLUMNS and len(cu) == 3000
    assert list(r1.uplift_curves.columns) == CURVE_TABLE_COLUMNS and len(r1.uplift_curves) == 101
    assert list(r1.metrics.columns) == METRIC_COLUMNS
    # decile 1 holds the highest scores; equal scores share a decile
    by = cu.groupby("decile")["uplift_score"]
    assert sorted(cu["decile"].unique()) == list(range(1, 11))
    assert (by.min().sort_index().to_numpy()[:-1] >= by.max().sort_index().to_numpy()[1:]).all()
    assert cu.groupby("uplift_score")["decile"].nunique().max() == 1
