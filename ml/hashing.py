"""A stable content hash of a DataFrame (training-data fingerprint for `ml.model_runs`)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 (hex) of a frame's index, column names, dtypes and values.

    The same data gives the same hash in every process and run (no Python `hash()` salt, no row-order
    normalisation: reordering rows changes the hash, as it may change a model fitted on them).
    """
    h = hashlib.sha256()
    h.update(repr([str(c) for c in frame.columns]).encode())
    h.update(repr([str(t) for t in frame.dtypes]).encode())
    h.update(repr(str(frame.index.name)).encode())
    h.update(pd.util.hash_pandas_object(frame.index.to_frame(index=False), index=False).to_numpy().tobytes())
    if frame.shape[1]:
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64).tobytes())
    return h.hexdigest()
