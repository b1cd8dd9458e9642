"""Covariate frames → numeric matrices for the effect and uplift models (a scikit-learn `ColumnTransformer`).

Campaign covariates are numeric pre-period features (counts, money, days) and categorical customer
attributes (region, source, customer type, ...). `covariate_transformer` turns both into one float matrix:

    numeric      → SimpleImputer(median, add_indicator=True)   (NaN only when `impute_missing`; values are
                   otherwise passed through: Lin's regression and the nuisance models apply their own
                   log1p to non-negative columns, so a numeric-only frame gives exactly the old matrix)
    categorical  → SimpleImputer(constant "missing") → OneHotEncoder(handle_unknown="ignore",
                   min_frequency=..., drop="first")   (rare categories share one "infrequent" column,
                   dropped as well when it is still rarer than `min_frequency`; the first category is the
                   reference level, so the dummies are not collinear with the intercept)

The transformer is fitted per campaign on that campaign's units (unsupervised: it never sees treatment or
outcome), so a category that no unit of a campaign has costs nothing there. Which columns are categorical:
the ones named in `categorical`, else every non-numeric column (strings, categories, booleans as text).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

MIN_FREQUENCY = 20
MISSING_CATEGORY = "missing"


def categorical_columns(frame: pd.DataFrame, covariates: Sequence[str],
                        categorical: Sequence[str] | None = None) -> list[str]:
    """The covariates treated as categorical: `categorical` when given, else the non-numeric columns."""
    if categorical is not None:
        return [c for c in covariates if c in set(categorical)]
    return [c for c in covariates if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]


def covariate_transformer(numeric: Sequence[str], categorical: Sequence[str],
                          min_frequency: int = MIN_FREQUENCY) -> ColumnTransformer:
    """An unfitted `ColumnTransformer` for the numeric and categorical covariates (module docstring)."""
    parts = []
    if numeric:
        parts.append(("numeric", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                      list(numeric)))
    if categorical:
        parts.append((
            "categorical",
            Pipeline([
                ("fill", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY, keep_empty_features=True)),
                ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=min_frequency, drop="first",
                                         sparse_output=False, dtype=np.float64)),
            ]),
            list(categorical),
        ))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)


def covariate_matrix(
    frame: pd.DataFrame,
    covariates: Sequence[str],
    categorical: Sequence[str] | None = None,
    *,
    min_frequency: int = MIN_FREQUENCY,
    impute_missing: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """(X, feature names): the covariates of `frame` as a float matrix, fitted on `frame` itself.

    Numeric covariates must be free of NaN unless `impute_missing` (then median + a missing indicator per
    column with NaN); categorical ones may hold missing values (their own level). Raises ValueError
    naming the offending column otherwise. No covariates: an (n, 0) matrix.
    """
    covariates = list(covariates)
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}")
    if not covariates:
        return np.empty((len(frame), 0)), []
    cats = categorical_columns(frame, covariates, categorical)
    nums = [c for c in covariates if c not in cats]
    data = pd.DataFrame(index=frame.index)
    for c in nums:
        try:
            data[c] = frame[c].to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"covariate {c!r} must be numeric (or be declared categorical): {exc}") from exc
    if nums and not impute_missing:
        bad = [c for c in nums if data[c].isna().any()]
        if bad:
            raise ValueError(f"column(s) {bad} contain missing values; fill them (e.g. 0 for counts) before calling")
    for c in cats:
        data[c] = frame[c].astype(object).where(frame[c].notna(), MISSING_CATEGORY).astype(str)
    ct = covariate_transformer(nums, cats, min_frequency)
    X = np.asarray(ct.fit_transform(data), dtype=float).reshape(len(frame), -1)
    names = [str(n) for n in ct.get_feature_names_out()]
    keep = np.ones(X.shape[1], dtype=bool)
    if cats:
        # a dummy held by fewer than `min_frequency` units (the "infrequent" group itself, when small) joins
        # the reference level: a handful of units would get leverage ~1 in Lin's interacted regression
        block = ct.output_indices_["categorical"]
        small = X[:, block].sum(axis=0) < min_frequency
        keep[np.arange(X.shape[1])[block][small]] = False
    return X[:, keep], [n for n, k in zip(names, keep, strict=True) if k]
