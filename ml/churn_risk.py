"""Churn risk: P(churned within the next `horizon` days) per customer, with the reasons behind each score.

The model is a scikit-learn `Pipeline` (median imputation, log1p of count/amount features, standard
scaling, L2 logistic regression). A logistic model is chosen over gradient boosting because its reasons are
exact: a customer's log-odds are the intercept plus one contribution per feature (coefficient x the
customer's scaled value minus the training mean, which is 0 after scaling), so "the top reasons" are the
largest positive contributions, not an approximation (no SHAP needed).

Evaluation is time-based: train on the customers' features at an earlier cut-off whose 90-day outcome is
known, evaluate on a later cut-off (`time_split`), never on a random split of one cut-off (that would leak
the future). `evaluate` reports AUC, the Brier score and a reliability curve (mean predicted vs observed
churn per probability bin), the figures ml.model_runs and the report show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

#: risk bands by probability: [0, 0.2) low, [0.2, 0.5) medium, [0.5, 1] high
RISK_BANDS = ((0.5, "high"), (0.2, "medium"), (0.0, "low"))


@dataclass(frozen=True)
class ChurnFeatures:
    """Which columns of the feature frame are skewed counts/amounts (log1p) and which are used as they are."""

    skewed: tuple[str, ...]
    plain: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [*self.skewed, *self.plain]


def build_model(features: ChurnFeatures, random_state: int = 0) -> Pipeline:
    prepare = ColumnTransformer([
        ("skewed", make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(np.log1p)),
         list(features.skewed)),
        ("plain", SimpleImputer(strategy="median"), list(features.plain)),
    ])
    return Pipeline([
        ("prepare", prepare),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=1.0, max_iter=1000, random_state=random_state)),
    ])


def fit(frame: pd.DataFrame, label: str, features: ChurnFeatures, random_state: int = 0) -> Pipeline:
    """Fit on one row per customer at a training cut-off; `label` is 1 when the customer churned within the
    horizon after that cut-off (under the warehouse's churn definition), else 0."""
    y = frame[label].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError(f"churn model needs both outcomes in the training cut-off: only {np.unique(y)}")
    return build_model(features, random_state).fit(frame[features.columns], y)


def risk_band(probability: np.ndarray) -> np.ndarray:
    p = np.asarray(probability, dtype="float64")
    out = np.full(p.shape, RISK_BANDS[-1][1], dtype=object)
    for threshold, name in reversed(RISK_BANDS):
        out[p >= threshold] = name
    return out


def contributions(model: Pipeline, frame: pd.DataFrame, features: ChurnFeatures) -> pd.DataFrame:
    """Per customer and feature: the feature's additive share of the log-odds (coefficient x scaled value).
    Rows sum, with the intercept, to the model's log-odds."""
    prepared = model[:-1].transform(frame[features.columns])
    coef = model.named_steps["model"].coef_[0]
    return pd.DataFrame(prepared * coef, columns=features.columns, index=frame.index)


def score(model: Pipeline, frame: pd.DataFrame, features: ChurnFeatures, top: int = 3) -> pd.DataFrame:
    """churn_probability, risk_band and reason_1..reason_<top>: the features that raise this customer's risk
    the most (positive contributions only, largest first; None when fewer raise it)."""
    probability = model.predict_proba(frame[features.columns])[:, 1]
    parts = contributions(model, frame, features).to_numpy()
    order = np.argsort(-parts, axis=1)[:, :top]
    names = np.asarray(features.columns, dtype=object)
    out = pd.DataFrame({"churn_probability": probability, "risk_band": risk_band(probability)}, index=frame.index)
    for k in range(top):
        idx = order[:, k]
        raises = parts[np.arange(len(parts)), idx] > 0
        out[f"reason_{k + 1}"] = np.where(raises, names[idx], None)
    return out


def reliability_curve(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per probability bin of equal width: customers, mean predicted probability and observed churn rate."""
    frame = pd.DataFrame({"y": np.asarray(y_true, dtype=float), "p": np.asarray(probability, dtype=float)})
    frame["bin"] = np.minimum((frame.p * bins).astype(int), bins - 1)
    curve = frame.groupby("bin").agg(customers=("y", "size"), mean_predicted=("p", "mean"),
                                     observed_rate=("y", "mean")).reset_index()
    curve["bin_low"] = curve["bin"] / bins
    curve["bin_high"] = (curve["bin"] + 1) / bins
    return curve[["bin_low", "bin_high", "customers", "mean_predicted", "observed_rate"]]


def evaluate(y_true, probability) -> dict:
    """AUC, Brier score, the Brier score of always predicting the base rate (a calibrated model beats it),
    expected calibration error (customer-weighted mean |predicted - observed| over the bins)."""
    y, p = np.asarray(y_true, dtype=int), np.asarray(probability, dtype=float)
    curve = reliability_curve(y, p)
    base = float(y.mean())
    return {
        "auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "brier_base_rate": float(brier_score_loss(y, np.full(len(y), base))),
        "expected_calibration_error": float(
            np.average((curve.mean_predicted - curve.observed_rate).abs(), weights=curve.customers)),
        "base_rate": base,
        "customers": int(len(y)),
    }


def time_split(frame: pd.DataFrame, cutoff_col: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on every cut-off but the latest whose outcome is known, evaluate on the latest one."""
    cutoffs = sorted(frame[cutoff_col].unique())
    if len(cutoffs) < 2:
        raise ValueError("a time-based split needs at least two cut-offs")
    return frame[frame[cutoff_col] < cutoffs[-1]], frame[frame[cutoff_col] == cutoffs[-1]]
