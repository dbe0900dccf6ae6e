"""Step 3 of training: fit the scaler + K-Means pipeline and measure a fit.

The scaler step is scikit-learn's ``StandardScaler`` when every feature is a number read as it
is; otherwise a ``ColumnTransformer`` with one transformer per feature, in the schema's order: a
``StandardScaler`` (after ``log1p`` where the schema says so) for a number, and a one-hot
encoder of the schema's levels (0/1 indicators) for a categorical feature. Two customers who
differ in a categorical feature are sqrt(2) apart on it whatever its number of levels and their
shares, as far as two customers 1.4 standard deviations apart on one number. Weighting the
indicators by the levels' shares (so that each block has the variance of one standardised
number) was measured against it and lost on three seeds of planted mixed data, by 0.02 to 0.05
adjusted Rand index overall and 0.12 to 0.18 on two-level columns (``bench/categorical_encoding``;
the table is in ``docs/own-data.md``).

Up to ``MINIBATCH_THRESHOLD`` rows the model is scikit-learn's ``KMeans`` with ten
initialisations; above it, ``MiniBatchKMeans``, which fits millions of rows in seconds at the
cost of a slightly higher inertia. Both write the same bundle and are served the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.compose import ColumnTransformer
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from segmentation.metadata import PIPELINE_KMEANS_STEP, PIPELINE_SCALER_STEP, FitMetrics, KScore
from segmentation.schema import FeatureSchema, NumericFeature
from training.columns import LARGEST_NUMBER

MINIBATCH_THRESHOLD = 100_000
# Silhouette costs O(n^2) time and memory; above this many rows it is computed on a seeded sample.
SILHOUETTE_MAX_ROWS = 5_000
N_INIT = 10
DISTINCT_CHECK_ROWS = 100_000
WARM_START_ROWS = 50_000
MINIBATCH_SIZE = 4096

Algorithm = Literal["kmeans", "minibatch_kmeans"]
Clusterer: TypeAlias = KMeans | MiniBatchKMeans


class FitError(Exception):
    """The data cannot support the requested model."""


@dataclass(frozen=True)
class Clustering:
    """One fitted k: the estimator, its labels on the training rows, and its scores."""

    estimator: Clusterer
    algorithm: Algorithm
    labels: np.ndarray
    score: KScore


def choose_algorithm(rows: int, threshold: int = MINIBATCH_THRESHOLD) -> Algorithm:
    return "minibatch_kmeans" if rows > threshold else "kmeans"


def make_clusterer(
    k: int, seed: int, algorithm: Algorithm, init: np.ndarray | None = None
) -> Clusterer:
    if algorithm == "kmeans":
        return KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)
    if init is None:
        return MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=MINIBATCH_SIZE, n_init=3)
    return MiniBatchKMeans(
        n_clusters=k, random_state=seed, batch_size=MINIBATCH_SIZE, init=init, n_init=1
    )


def warm_start(scaled: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Centroids of a full K-Means on a seeded sample, to start mini-batch K-Means from.

    Started from k-means++ on millions of rows, mini-batch K-Means can wander for many epochs
    before its early stopping triggers (measured: 290 s for 10 million rows); started from a
    converged solution on a sample it settles in a few.
    """
    rows = len(scaled)
    size = min(rows, WARM_START_ROWS)
    sample = scaled[np.random.default_rng(seed).choice(rows, size, replace=False)]
    centres: np.ndarray = make_clusterer(k, seed, "kmeans").fit(sample).cluster_centers_
    return centres


Scaler: TypeAlias = StandardScaler | ColumnTransformer


def fit_scaler(features: pd.DataFrame, schema: FeatureSchema) -> tuple[Scaler, np.ndarray]:
    """The fitted scaler step for ``schema`` and the training rows it scales."""
    plain = all(isinstance(f, NumericFeature) and f.transform is None for f in schema.features)
    scaler: Scaler = StandardScaler() if plain else _column_transformer(schema)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.ascontiguousarray(scaler.fit_transform(features), dtype=np.float64)
    if not np.isfinite(scaled).all():
        raise FitError(_unscalable(features, schema))
    return scaler, scaled


def _unscalable(features: pd.DataFrame, schema: FeatureSchema) -> str:
    """Which feature overflowed when standardised: one whose range the schema declares wider
    than float64 can square (derived ranges leave such values out, ``training.columns``)."""
    numeric = [f.name for f in schema.features if isinstance(f, NumericFeature)]
    largest = features[numeric].abs().max()
    name = str(largest.idxmax())
    return (
        f"feature {name!r} cannot be standardised: its largest value, {largest[name]:g}, is too "
        f"large to square in floating point; keep its values within {LARGEST_NUMBER:g} (a "
        "declared minimum and maximum refuse the rows beyond them)"
    )


def _column_transformer(schema: FeatureSchema) -> ColumnTransformer:
    steps: list[tuple[str, BaseEstimator, list[str]]] = []
    for feature in schema.features:
        if isinstance(feature, NumericFeature):
            scaler: BaseEstimator = StandardScaler()
            if feature.transform == "log1p":
                log1p = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
                scaler = Pipeline([("log1p", log1p), ("scale", scaler)])
            steps.append((feature.name, scaler, [feature.name]))
        else:
            encoder = OneHotEncoder(
                categories=[list(feature.levels)], sparse_output=False, dtype=np.float64
            )
            steps.append((feature.name, encoder, [feature.name]))
    return ColumnTransformer(steps)


def check_enough_data(scaled: np.ndarray, k: int) -> None:
    rows = len(scaled)
    if rows < k:
        raise FitError(f"{rows} rows are fewer than k={k}: need at least {k} customers")
    distinct = distinct_rows(scaled, k)
    if distinct < k:
        raise FitError(
            f"only {distinct} distinct customers in {rows} rows, fewer than k={k} segments"
        )


def distinct_rows(scaled: np.ndarray, enough: int) -> int:
    """How many distinct customers there are, or at least ``enough`` of them: enough distinct
    rows among the first ones settles it without sorting millions of rows."""
    distinct = len(np.unique(scaled[:DISTINCT_CHECK_ROWS], axis=0))
    if distinct < enough and len(scaled) > DISTINCT_CHECK_ROWS:
        distinct = len(np.unique(scaled, axis=0))
    return distinct


def single_threaded() -> threadpool_limits:
    """Fits run on one thread.

    With a handful of features each K-Means iteration is memory-bound and short, and OpenMP's
    synchronisation costs more than a second thread saves; on a shared machine it is far worse
    (measured here: KMeans on 50,000 rows 0.2 s on one thread, 2.0 s on two under load).
    """
    return threadpool_limits(limits=1)


def cluster(scaled: np.ndarray, k: int, seed: int, minibatch_threshold: int) -> Clustering:
    """Fit k segments with the algorithm this many rows call for, and score the result."""
    algorithm = choose_algorithm(len(scaled), minibatch_threshold)
    with single_threaded():
        init = warm_start(scaled, k, seed) if algorithm == "minibatch_kmeans" else None
        estimator = make_clusterer(k, seed, algorithm, init).fit(scaled)
    labels = np.asarray(estimator.labels_)
    return Clustering(
        estimator=estimator,
        algorithm=algorithm,
        labels=labels,
        score=score_clustering(scaled, labels, k, float(estimator.inertia_), seed),
    )


def score_clustering(
    scaled: np.ndarray, labels: np.ndarray, k: int, inertia: float, seed: int
) -> KScore:
    rows = len(labels)
    found = len(np.unique(labels))
    defined = 2 <= found <= rows - 1
    sample = SILHOUETTE_MAX_ROWS if rows > SILHOUETTE_MAX_ROWS else None
    return KScore(
        k=k,
        inertia=inertia,
        silhouette=(
            float(silhouette_score(scaled, labels, sample_size=sample, random_state=seed))
            if defined
            else None
        ),
        calinski_harabasz=float(calinski_harabasz_score(scaled, labels)) if defined else None,
        davies_bouldin=float(davies_bouldin_score(scaled, labels)) if defined else None,
        knee_distance=None,
    )


def build_pipeline(scaler: Scaler, estimator: Clusterer) -> Pipeline:
    """The served artefact: the fitted scaler and clusterer as one scikit-learn pipeline."""
    return Pipeline([(PIPELINE_SCALER_STEP, scaler), (PIPELINE_KMEANS_STEP, estimator)])


def fit_metrics(score: KScore, rows: int) -> FitMetrics:
    return FitMetrics(
        inertia=score.inertia,
        silhouette=score.silhouette,
        silhouette_sample_size=SILHOUETTE_MAX_ROWS if rows > SILHOUETTE_MAX_ROWS else None,
    )
