"""K-means customer segments on standardised log1p behaviour features, with k chosen by silhouette.

Pipeline (`SegmentModel.pipeline_`, a fitted scikit-learn `Pipeline`):
    log1p(max(x, 0))  →  median imputation of NaN  →  StandardScaler  →  KMeans | MiniBatchKMeans

* k: fixed (`k=5`) or chosen in `k_range` by the (sampled) silhouette on the scaled features; on a retrain
  (`fit(X, previous=old_model)`) the previous k is kept unless another k beats its silhouette by more
  than `k_switch_margin` (hysteresis, so segments do not reshuffle over a small silhouette wobble).
* Large inputs (more than `minibatch_threshold` rows): k is selected with `KMeans` on a random subsample
  of `selection_sample` rows, the final model is a `MiniBatchKMeans` on all rows initialised from the
  subsample's centroids; silhouettes are always computed on at most `silhouette_sample` rows.
* Cluster ids: 0..k-1 ordered by training size (largest first) on a first fit; on a retrain, new centroids
  are matched to the previous ones (Hungarian algorithm, `ml.stability`) so ids persist, and the
  k-means is warm-started from the previous centroids when k is unchanged.
* Names (`segment_names_`): from each cluster's profile of raw feature medians by the rules of
  `ml.naming` (new, bargain hunters, at risk, champions, loyal, occasional); on a retrain a matched
  cluster keeps its previous name while the rules still give it.
* `save_model(model) -> bytes` / `load_model(bytes)` persist the fitted model for nightly scoring.

Features: any numeric columns, one row per customer, indexed by `customer_id` (or with that column).
Counts, amounts and rates are all non-negative; negative values are clipped to 0 before the log.
For customers without a purchase pass a finite recency (e.g. a 365-day cap or days since sign-up):
NaN is imputed with the training median, which is rarely what a missing recency means.
"""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Sequence

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .hashing import frame_hash
from .naming import name_clusters
from .silhouette import silhouettes
from .stability import match_clusters
from .threads import one_thread
from .validation import customer_frame

MODEL_FORMAT = 1


def log1p_nonneg(x):
    """log1p(max(x, 0)), NaN kept: the transform applied to every behaviour feature."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0.0, None))


def expm1_nonneg(z):
    """Inverse of `log1p_nonneg` on its range."""
    return np.expm1(np.asarray(z, dtype=float))


def _preprocess() -> Pipeline:
    return Pipeline(
        [
            ("log1p", FunctionTransformer(log1p_nonneg, inverse_func=expm1_nonneg, check_inverse=False,
                                          feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )


class SegmentModel(ClusterMixin, BaseEstimator):
    """K-means segmentation with silhouette-chosen k, persistent ids and names (see module docstring).

    Parameters
    ----------
    k : int or None — fixed number of clusters; None selects k in `k_range` by silhouette.
    k_range : (low, high) inclusive range of k tried when `k` is None.
    n_init : k-means restarts per k (scikit-learn `n_init`).
    random_state : seed for k-means, subsampling and silhouette sampling.
    minibatch_threshold : above this many rows use subsample selection + MiniBatchKMeans.
    selection_sample : rows used to select k (and initialise the final fit) on large inputs.
    silhouette_sample : rows used to compute each silhouette.
    batch_size : MiniBatchKMeans batch size.
    k_switch_margin : on a retrain, silhouette gain needed to move away from the previous k.

    Fitted attributes
    -----------------
    feature_names_in_ : list[str]; n_clusters_ : int; algorithm_ : "kmeans" | "minibatch_kmeans"
    pipeline_ : fitted Pipeline (log1p → impute → scale → k-means); its labels are internal
    cluster_ids_ : array mapping internal label → persistent cluster id
    segment_names_ : dict cluster id → name
    silhouette_by_k_ : dict k → sampled silhouette; silhouette_ : silhouette of the chosen k
    centroids_scaled_ : DataFrame (index cluster_id, columns features) in standardised log1p units
    centroids_ : same in original units (expm1 of the un-scaled centroid: a geometric-mean-like centre)
    cluster_sizes_ : dict cluster id → training customers; n_train_ ; training_hash_ (`ml.hashing.frame_hash`)
    matching_ : DataFrame (cluster_id, previous_distance) after a retrain, else None
    labels_ : persistent cluster id per training row
    """

    def __init__(
        self,
        k: int | None = None,
        k_range: tuple[int, int] = (2, 8),
        n_init: int = 4,
        random_state: int = 0,
        minibatch_threshold: int = 200_000,
        selection_sample: int = 100_000,
        silhouette_sample: int = 10_000,
        batch_size: int = 4096,
        k_switch_margin: float = 0.02,
    ):
        self.k = k
        self.k_range = k_range
        self.n_init = n_init
        self.random_state = random_state
        self.minibatch_threshold = minibatch_threshold
        self.selection_sample = selection_sample
        self.silhouette_sample = silhouette_sample
        self.batch_size = batch_size
        self.k_switch_margin = k_switch_margin

    # ------------------------------------------------------------------ fitting
    def _features(self, X: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("SegmentModel expects a DataFrame of features indexed by customer_id")
        cols = list(columns) if columns is not None else [c for c in X.columns if c != "customer_id"]
        frame = customer_frame(X, cols)
        non_numeric = [c for c in cols if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ValueError(f"feature column(s) {non_numeric} are not numeric")
        return frame.astype(float)

    def _kmeans(self, k: int, init=None) -> KMeans:
        if init is not None:
            return KMeans(n_clusters=k, init=init, n_init=1, random_state=self.random_state)
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)

    def fit(self, X: pd.DataFrame, y=None, *, previous: SegmentModel | None = None) -> SegmentModel:
        """Fit on a feature frame (rows = customers). With `previous`, align ids/names to that model.

        Returns self. The features must be the same columns as `previous.feature_names_in_` when given.
        """
        frame = self._features(X, previous.feature_names_in_ if previous is not None else None)
        n = len(frame)
        low, high = self.k_range
        ks = [int(self.k)] if self.k is not None else list(range(int(low), int(high) + 1))
        if n < max(ks) + 1 or min(ks) < 2:
            raise ValueError(f"need k >= 2 and more customers ({n}) than clusters ({max(ks)})")
        self.feature_names_in_ = list(frame.columns)
        self.training_hash_ = frame_hash(frame)
        self.n_train_ = n
        pre = _preprocess()
        Z = pre.fit_transform(frame.to_numpy())
        rng = np.random.default_rng(self.random_state)
        large = n > self.minibatch_threshold
        self.algorithm_ = "minibatch_kmeans" if large else "kmeans"
        sel = np.sort(rng.choice(n, size=self.selection_sample, replace=False)) if large and n > self.selection_sample else None
        Zsel = Z if sel is None else Z[sel]

        prev_init = None
        if previous is not None:
            # previous centroids expressed in this fit's scaled space
            log_space = previous.pipeline_.named_steps["scale"].inverse_transform(previous.centroids_scaled_.to_numpy())
            prev_init = pre.named_steps["scale"].transform(log_space)

        fits: dict[int, KMeans] = {}
        with one_thread():
            for k in ks:
                warm = prev_init is not None and k == len(prev_init)
                fits[k] = self._kmeans(k, prev_init if warm else None).fit(Zsel)
        # one shared sample of points scores every k (distances computed once)
        m = len(Zsel)
        sil = np.sort(rng.choice(m, size=self.silhouette_sample, replace=False)) if m > self.silhouette_sample else np.arange(m)
        with one_thread():
            self.silhouette_by_k_ = silhouettes(Zsel[sil], {k: fits[k].labels_[sil] for k in ks})
        best = max(ks, key=lambda k: (np.nan_to_num(self.silhouette_by_k_[k], nan=-2.0), -k))
        if previous is not None and self.k is None and previous.n_clusters_ in fits:
            kp = previous.n_clusters_
            if self.silhouette_by_k_[best] - self.silhouette_by_k_[kp] <= self.k_switch_margin:
                best = kp
        self.n_clusters_ = best
        if large:
            with one_thread():
                km = MiniBatchKMeans(n_clusters=best, init=fits[best].cluster_centers_, n_init=1,
                                     batch_size=self.batch_size, random_state=self.random_state).fit(Z)
                internal = km.predict(Z)
        else:
            km = fits[best]
            internal = km.labels_
        self.silhouette_ = self.silhouette_by_k_[best]
        self.pipeline_ = Pipeline([*pre.steps, ("kmeans", km)])
        sizes = np.bincount(internal, minlength=best)

        if previous is None:
            order = np.lexsort((np.arange(best), -sizes))  # largest first, ties by internal label
            self.cluster_ids_ = np.empty(best, dtype=np.int64)
            self.cluster_ids_[order] = np.arange(best)
            self.matching_ = None
            previous_names = None
        else:
            # compare in the previous model's scaled space
            new_log = pre.named_steps["scale"].inverse_transform(km.cluster_centers_)
            new_in_prev = previous.pipeline_.named_steps["scale"].transform(new_log)
            old_ids = np.asarray(sorted(previous.segment_names_))
            old_z = previous.centroids_scaled_.loc[old_ids].to_numpy()
            ids, dist = match_clusters(old_z, new_in_prev, old_ids, sizes=sizes)
            self.cluster_ids_ = ids
            self.matching_ = pd.DataFrame({"cluster_id": ids, "previous_distance": dist}).sort_values("cluster_id", ignore_index=True)
            previous_names = {int(i): previous.segment_names_[int(i)] for i in ids if int(i) in previous.segment_names_}
        labels = self.cluster_ids_[internal]
        names = name_clusters(frame, labels, previous=previous_names)
        for i in sorted(int(i) for i in self.cluster_ids_ if int(i) not in names):  # a cluster left empty
            names[i] = next(f"occasional {n}" for n in range(2, 2 + len(names) + 2)
                            if f"occasional {n}" not in names.values())
        self.segment_names_ = {int(i): names[int(i)] for i in sorted(self.cluster_ids_)}
        order = np.argsort(self.cluster_ids_)
        idx = pd.Index(self.cluster_ids_[order], name="cluster_id")
        self.centroids_scaled_ = pd.DataFrame(km.cluster_centers_[order], index=idx, columns=self.feature_names_in_)
        log_c = pre.named_steps["scale"].inverse_transform(km.cluster_centers_[order])
        self.centroids_ = pd.DataFrame(expm1_nonneg(log_c), index=idx, columns=self.feature_names_in_)
        self.cluster_sizes_ = {int(self.cluster_ids_[j]): int(sizes[j]) for j in range(best)}
        self.labels_ = labels
        return self

    # ------------------------------------------------------------------ scoring
    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Standardised log1p features (n, p) as the k-means sees them."""
        frame = self._features(X, self.feature_names_in_)
        return self.pipeline_[:-1].transform(frame.to_numpy())

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Persistent cluster id (int64) per row of X (same feature columns as the training frame)."""
        Z = self.transform(X)
        with one_thread():
            internal = self.pipeline_[-1].predict(Z)
        return self.cluster_ids_[internal]

    def segment_name(self, cluster_ids) -> np.ndarray:
        """Segment name for each cluster id."""
        return np.array([self.segment_names_[int(i)] for i in np.asarray(cluster_ids)], dtype=object)

    def params_dict(self) -> dict:
        """Hyper-parameters as a JSON-friendly dict (for `ml.model_runs`)."""
        p = self.get_params()
        p["k_range"] = list(p["k_range"])
        return p


def save_model(model: SegmentModel) -> bytes:
    """Serialise a fitted model for scoring (pickle, with a header naming the format and library versions).

    Per-row training arrays (`labels_`) are left out, so the bytes stay small (tens of kB) at any scale.
    """
    if not hasattr(model, "pipeline_"):
        raise ValueError("save_model: the model is not fitted")
    slim = copy.copy(model)  # drop per-training-row arrays: scoring needs only the pipeline and the id map
    slim.__dict__.pop("labels_", None)
    km = copy.copy(model.pipeline_.steps[-1][1])
    km.__dict__.pop("labels_", None)
    slim.pipeline_ = Pipeline([*model.pipeline_.steps[:-1], ("kmeans", km)])
    buf = io.BytesIO()
    header = {"format": MODEL_FORMAT, "sklearn": sklearn.__version__, "numpy": np.__version__,
              "training_hash": model.training_hash_}
    pickle.dump((header, slim), buf, protocol=5)
    return buf.getvalue()


def load_model(blob: bytes) -> SegmentModel:
    """Inverse of `save_model`. Raises ValueError when the bytes were written by another format or
    scikit-learn version (retrain instead of scoring with a model the library may read wrongly).

    Only load bytes this pipeline wrote itself: unpickling runs code.
    """
    header, model = pickle.loads(blob)
    if header.get("format") != MODEL_FORMAT:
        raise ValueError(f"model format {header.get('format')} is not {MODEL_FORMAT}; retrain the model")
    if header.get("sklearn") != sklearn.__version__:
        raise ValueError(f"model saved with scikit-learn {header.get('sklearn')}, running {sklearn.__version__}; retrain")
    if not isinstance(model, SegmentModel):
        raise ValueError("the bytes do not hold a SegmentModel")
    return model
