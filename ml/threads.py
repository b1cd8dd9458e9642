"""Native thread limit for model fits: `ml` fits run on one thread.

OpenMP/BLAS-parallel estimators (HistGradientBoosting, KMeans, statsmodels' SVD) degrade badly when the
machine is oversubscribed — e.g. several Dagster assets or dbt threads running at once on 2 cores — because
OpenMP threads spin waiting for each other: on a busy 2-core box a 100 k-row HistGradientBoosting fit
took 8.7 s with 2 threads and 0.8 s with 1. On an idle box one thread costs at most ~2x on the largest
fits, and nothing in `ml` needs more to meet its budget. `one_thread()` limits the native pools for the
duration of a `with` block and restores them on exit; the controller (the list of loaded native libraries)
is built once and cached because building it costs ~20 ms.
"""

from __future__ import annotations

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime before the libraries are listed)
    import sklearn.linear_model  # noqa: F401

    return ThreadpoolController()


def one_thread():
    """Context manager limiting OpenMP and BLAS thread pools to one thread inside the block."""
    return _controller().limit(limits=1)
