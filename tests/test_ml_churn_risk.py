"""ml/churn_risk.py on customers with a planted churn hazard: a time-based split, AUC against the AUC of the
true hazard, calibration (Brier below the base rate's, small calibration error), exact reasons."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from ml.churn_risk import (
    ChurnFeatures,
    contributions,
    evaluate,
    fit,
    reliability_curve,
    risk_band,
    score,
    time_split,
)

FEATURES = ChurnFeatures(skewed=("days_since_last_purchase", "purchases_365d", "tickets_90d"),
                         plain=("discount_ratio", "noise"))


def _cohort(n: int, cutoff: str, rng: np.random.Generator) -> pd.DataFrame:
    """Features at a cut-off and a 90-day churn label drawn from a known logistic hazard (noise and
    discount_ratio play no part)."""
    frame = pd.DataFrame({
        "customer_id": [f"{cutoff}-{i}" for i in range(n)],
        "cutoff": pd.Timestamp(cutoff),
        "days_since_last_purchase": rng.gamma(1.5, 40, n),
        "purchases_365d": rng.poisson(rng.gamma(2.0, 2.0, n)),
        "tickets_90d": rng.poisson(0.4, n),
        "discount_ratio": rng.uniform(0, 0.6, n),
        "noise": rng.normal(size=n),
    })
    frame["true_hazard"] = expit(-1.0 + 1.1 * (np.log1p(frame.days_since_last_purchase) - 3.7)
                                 - 0.9 * (np.log1p(frame.purchases_365d) - 1.3) + 0.8 * frame.tickets_90d)
    frame["churned_90d"] = (rng.random(n) < frame.true_hazard).astype(int)
    return frame


@pytest.fixture(scope="module")
def cohorts() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.concat([_cohort(6000, "2025-01-01", rng), _cohort(6000, "2025-04-01", rng)], ignore_index=True)


def test_time_split_trains_on_the_earlier_cutoff(cohorts):
    train, test = time_split(cohorts, "cutoff")
    assert train.cutoff.max() < test.cutoff.min() and len(train) + len(test) == len(cohorts)


def test_auc_near_the_true_hazard_and_calibrated(cohorts):
    train, test = time_split(cohorts, "cutoff")
    model = fit(train, "churned_90d", FEATURES)
    scored = score(model, test, FEATURES)
    metrics = evaluate(test.churned_90d, scored.churn_probability)
    true_auc = roc_auc_score(test.churned_90d, test.true_hazard)
    assert metrics["auc"] >= 0.9 * true_auc and metrics["auc"] > 0.7
    assert metrics["brier"] < metrics["brier_base_rate"]
    assert metrics["expected_calibration_error"] < 0.03
    curve = reliability_curve(test.churned_90d, scored.churn_probability)
    assert curve.customers.sum() == len(test)
    big = curve[curve.customers >= 200]
    assert (big.mean_predicted - big.observed_rate).abs().max() < 0.06


def test_reasons_are_exact_contributions(cohorts):
    train, test = time_split(cohorts, "cutoff")
    model = fit(train, "churned_90d", FEATURES)
    parts = contributions(model, test, FEATURES)
    log_odds = np.log(model.predict_proba(test[FEATURES.columns])[:, 1] /
                      model.predict_proba(test[FEATURES.columns])[:, 0])
    assert np.allclose(parts.sum(axis=1) + model.named_steps["model"].intercept_[0], log_odds)
    scored = score(model, test, FEATURES)
    silent = test.days_since_last_purchase.idxmax()  # not seen for the longest time
    assert scored.loc[silent, "reason_1"] == "days_since_last_purchase"
    assert scored.loc[silent, "risk_band"] in {"medium", "high"}
    # irrelevant features rarely lead where the risk is high: noise is the top reason of few of them
    high = scored[scored.risk_band == "high"]
    assert len(high) > 300 and (high.reason_1 == "noise").mean() < 0.02
    # a reason is given only when the feature raises the risk
    for k in (1, 2, 3):
        named = scored[f"reason_{k}"].notna()
        picked = [parts.loc[i, scored.loc[i, f"reason_{k}"]] for i in scored.index[named][:200]]
        assert all(v > 0 for v in picked)


def test_risk_bands_and_refusals():
    assert list(risk_band([0.0, 0.19, 0.2, 0.49, 0.5, 1.0])) == ["low", "low", "medium", "medium", "high", "high"]
    one_outcome = pd.DataFrame({c: [1.0, 2.0] for c in FEATURES.columns} | {"y": [0, 0]})
    with pytest.raises(ValueError, match="both outcomes"):
        fit(one_outcome, "y", FEATURES)
