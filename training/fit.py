"""Step 2 of training: fit the StandardScaler + K-Means pipeline and measure the fit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from segmentation.bundle import PIPELINE_KMEANS_STEP, PIPELINE_SCALER_STEP, FitMetrics

# Silhouette costs O(n^2) time and memory; above this many rows it is computed on a seeded sample.
SILHOUETTE_MAX_ROWS = 10_000
N_INIT = 10


class FitError(Exception):
    """The data cannot support the requested model."""


@dataclass(frozen=True)
class FittedModel:
    pipeline: Pipeline
    labels: np.ndarray
    metrics: FitMetrics


def build_pipeline(k: int, seed: int) -> Pipeline:
    return Pipeline(
        [
            (PIPELINE_SCALER_STEP, StandardScaler()),
            (PIPELINE_KMEANS_STEP, KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)),
        ]
    )


def fit_segments(features: pd.DataFrame, k: int, seed: int) -> FittedModel:
    """Fit k segments; refuse data that cannot hold k distinct segments."""
    if k < 2:
        raise FitError(f"k must be at least 2, got {k}")
    rows = len(features)
    if rows < k:
        raise FitError(f"{rows} rows are fewer than k={k}: need at least {k} customers")
    distinct = len(features.drop_duplicates())
    if distinct < k:
        raise FitError(
            f"only {distinct} distinct customers in {rows} rows, fewer than k={k} segments"
        )
    pipeline = build_pipeline(k, seed)
    pipeline.fit(features)
    kmeans = pipeline.named_steps[PIPELINE_KMEANS_STEP]
    labels = np.asarray(kmeans.labels_)
    scaled = pipeline.named_steps[PIPELINE_SCALER_STEP].transform(features)
    return FittedModel(
        pipeline=pipeline,
        labels=labels,
        metrics=_metrics(scaled, labels, float(kmeans.inertia_), seed),
    )


def _metrics(scaled: np.ndarray, labels: np.ndarray, inertia: float, seed: int) -> FitMetrics:
    rows = len(labels)
    sample = SILHOUETTE_MAX_ROWS if rows > SILHOUETTE_MAX_ROWS else None
    found = len(np.unique(labels))
    silhouette = (
        float(silhouette_score(scaled, labels, sample_size=sample, random_state=seed))
        if 2 <= found <= rows - 1
        else None
    )
    return FitMetrics(inertia=inertia, silhouette=silhouette, silhouette_sample_size=sample)
