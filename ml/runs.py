"""Rows for `ml.model_runs`: what was trained, on which data, with which libraries and how well."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping

import numpy as np
import pandas as pd

MODEL_RUN_COLUMNS = [
    "run_id", "model", "as_of", "training_data_hash", "n_train", "params_json", "metrics_json",
    "library_versions_json",
]


def library_versions() -> dict[str, str]:
    """Versions of python, numpy, pandas, scikit-learn, scipy and statsmodels in this process."""
    import scipy
    import sklearn
    import statsmodels

    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__}


def _json(obj) -> str:
    def default(o):
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return None if np.isnan(o) else float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    def clean(o):
        if isinstance(o, float) and np.isnan(o):
            return None
        if isinstance(o, Mapping):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), sort_keys=True, default=default, ensure_ascii=False)


def make_run_id(model: str, as_of: str | None, training_data_hash: str, params: Mapping) -> str:
    """Deterministic run id: `<model>-<as_of>-<12 hex of sha256(hash + params)>` (no wall clock)."""
    digest = hashlib.sha256((training_data_hash + _json(params)).encode()).hexdigest()[:12]
    return f"{model}-{as_of or 'na'}-{digest}"


def model_run_record(
    model: str,
    training_data_hash: str,
    n_train: int,
    params: Mapping,
    metrics: Mapping,
    as_of: str | None = None,
    run_id: str | None = None,
) -> pd.DataFrame:
    """One `ml.model_runs` row as a DataFrame.

    Columns: run_id (given, else `make_run_id`), model (e.g. "segments_kmeans"), as_of (the run's logical
    date, str), training_data_hash, n_train, params_json, metrics_json (e.g. silhouette, fidelity, sizes),
    library_versions_json — JSON with sorted keys, NaN written as null, so equal inputs give equal rows.
    """
    rid = run_id or make_run_id(model, as_of, training_data_hash, params)
    return pd.DataFrame(
        [[rid, model, as_of, training_data_hash, int(n_train), _json(params), _json(metrics), _json(library_versions())]],
        columns=MODEL_RUN_COLUMNS,
    )
