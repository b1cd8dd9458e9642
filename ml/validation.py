"""Input checks shared by the `ml` functions (one error type: ValueError with a message naming the column)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def customer_frame(frame: pd.DataFrame, columns: Sequence[str], id_col: str = "customer_id") -> pd.DataFrame:
    """`frame` indexed by customer id (taken from column `id_col` if present, else the index).

    Checks that the ids are unique and the `columns` exist; returns the frame restricted to `columns`.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("expected a pandas DataFrame")
    if id_col in frame.columns:
        frame = frame.set_index(id_col)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; got {list(frame.columns)}")
    if not frame.index.is_unique:
        dup = frame.index[frame.index.duplicated()][:5].tolist()
        raise ValueError(f"customer ids must be unique; duplicated: {dup}")
    out = frame[list(columns)]
    out.index.name = id_col
    return out


def numeric_matrix(frame: pd.DataFrame, columns: Sequence[str], allow_nan: bool = False) -> np.ndarray:
    """The `columns` of `frame` as a float64 matrix (n, p); raises if any is non-numeric or (unless allowed) NaN."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}")
    try:
        x = frame[list(columns)].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"columns {list(columns)} must be numeric: {exc}") from exc
    if not allow_nan and np.isnan(x).any():
        bad = [c for c, j in zip(columns, np.isnan(x).any(axis=0), strict=True) if j]
        raise ValueError(f"column(s) {bad} contain missing values; fill them (e.g. 0 for counts) before calling")
    return x.reshape(len(frame), len(columns))


def binary_vector(values, name: str) -> np.ndarray:
    """A 0/1 float vector from bools/ints; raises if any value is not 0/1 (or missing)."""
    t = pd.Series(values).to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(t).any() or not np.isin(t, (0.0, 1.0)).all():
        raise ValueError(f"`{name}` must be 0/1 (or bool) with no missing values")
    return t
