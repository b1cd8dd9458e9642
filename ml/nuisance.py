"""Nuisance models shared by AIPW and uplift: a propensity classifier and an outcome regressor.

Two learners, both deterministic:
* "linear" — features expanded to [x, log1p(max(x, 0)) for non-negative columns], standardised; logistic
  regression (L2, C=1; `LogLinearLogit`, Newton) for propensities, ridge regression (alpha=1;
  `LogLinearRidge`, closed form) for outcomes. Fast and stable; the
  log terms capture the usual skew of counts and money (the generator's targeting is logistic in
  standardised log1p features, so this propensity model is correctly specified for it).
* "hgb" — HistGradientBoosting (100 trees, 15 leaves, min 40 rows per leaf, L2 1.0, no early stopping):
  flexible, for large member sets with non-linear response.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

LEARNERS = ("linear", "hgb")


class LogLinearBasis(TransformerMixin, BaseEstimator):
    """[x, log1p(max(x,0)) for columns non-negative in training], standardised with training moments."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.log_cols_ = np.flatnonzero(X.min(axis=0) >= 0) if len(X) else np.array([], dtype=int)
        B = self._expand(X)
        self.mean_ = B.mean(axis=0)
        sd = B.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        return self

    def _expand(self, X):
        return np.hstack([X, np.log1p(np.clip(X[:, self.log_cols_], 0, None))])

    def transform(self, X):
        B = self._expand(np.asarray(X, dtype=float))
        return (B - self.mean_) / self.scale_


class LogLinearLogit(ClassifierMixin, BaseEstimator):
    """L2-penalised logistic regression on `LogLinearBasis` features, solved by Newton's method.

    Minimises  Σ logloss + ||w||² / (2 C)  (intercept unpenalised) — the objective of scikit-learn's
    `LogisticRegression(C=C)` — in a few numpy iterations; far cheaper than lbfgs on small data.
    """

    def __init__(self, C: float = 1.0, tol: float = 1e-10, max_iter: int = 50):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        self.basis_ = LogLinearBasis().fit(X)
        B = np.column_stack([np.ones(len(X)), self.basis_.transform(X)])
        y = np.asarray(y, dtype=float)
        self.classes_ = np.array([0, 1])
        pen = np.full(B.shape[1], 1.0 / self.C)
        pen[0] = 0.0
        w = np.zeros(B.shape[1])
        m = np.clip(y.mean(), 1e-6, 1 - 1e-6)
        w[0] = np.log(m / (1 - m))
        for _ in range(self.max_iter):
            p = 1 / (1 + np.exp(-(B @ w)))
            g = B.T @ (p - y) + pen * w
            H = (B * (p * (1 - p))[:, None]).T @ B + np.diag(pen) + 1e-10 * np.eye(len(w))
            step = np.linalg.solve(H, g)
            w -= step
            if np.max(np.abs(step)) < self.tol:
                break
        self.coef_ = w
        return self

    def predict_proba(self, X):
        B = np.column_stack([np.ones(len(X)), self.basis_.transform(X)])
        p = 1 / (1 + np.exp(-(B @ self.coef_)))
        return np.column_stack([1 - p, p])


class LogLinearRidge(RegressorMixin, BaseEstimator):
    """Ridge regression (closed form, intercept unpenalised) on `LogLinearBasis` features."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        self.basis_ = LogLinearBasis().fit(X)
        B = self.basis_.transform(X)
        y = np.asarray(y, dtype=float)
        self.intercept_ = y.mean()
        G = B.T @ B + self.alpha * np.eye(B.shape[1])
        self.coef_ = np.linalg.solve(G, B.T @ (y - self.intercept_))
        return self

    def predict(self, X):
        return self.intercept_ + self.basis_.transform(X) @ self.coef_


def _hgb_params(random_state: int) -> dict:
    return dict(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                early_stopping=False, random_state=random_state)


def propensity_model(learner: str = "linear", random_state: int = 0):
    """An unfitted classifier with `predict_proba` for P(treated | x)."""
    if learner == "linear":
        return LogLinearLogit(C=1.0)
    if learner == "hgb":
        return HistGradientBoostingClassifier(**_hgb_params(random_state))
    raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")


def outcome_model(learner: str = "linear", random_state: int = 0):
    """An unfitted regressor for E[y | x] (binary outcomes are regressed as 0/1)."""
    if learner == "linear":
        return LogLinearRidge(alpha=1.0)
    if learner == "hgb":
        return HistGradientBoostingRegressor(**_hgb_params(random_state))
    raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")


def fit_predict(model, X_train, y_train, X_apply, proba: bool = False) -> np.ndarray:
    """Fit `model` on (X_train, y_train) and predict X_apply (P(class 1) when `proba`).

    A training set holding a single class (classifier) or a constant (regressor) predicts that constant.
    """
    y_train = np.asarray(y_train, dtype=float)
    if len(y_train) == 0:
        return np.full(len(X_apply), np.nan)
    if np.all(y_train == y_train[0]):
        return np.full(len(X_apply), y_train[0])
    model.fit(X_train, y_train.astype(int) if proba else y_train)
    return model.predict_proba(X_apply)[:, 1] if proba else model.predict(X_apply)
