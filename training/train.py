"""Training from start to finish: validated data in, a new bundle on disk out.

Nothing touches the models directory until the model is fitted and described, and the bundle is
then written atomically, so a failed run leaves the model in use exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from segmentation.bundle import (
    PIPELINE_KMEANS_STEP,
    PIPELINE_SCALER_STEP,
    Bundle,
    TrainingData,
    TrainingSummary,
    save_bundle,
)
from segmentation.features import DEFAULT_FEATURES
from training.data import load_customers
from training.fit import fit_segments
from training.profiles import build_profiles, describe_distribution, histogram
from training.report import render_report

DEFAULT_K = 5
DEFAULT_SEED = 42


@dataclass(frozen=True)
class TrainingOptions:
    data: Path
    models_dir: Path
    features: Sequence[str] = DEFAULT_FEATURES
    k: int = DEFAULT_K
    seed: int = DEFAULT_SEED
    promote: bool = True


def train(options: TrainingOptions) -> Bundle:
    features = list(options.features)
    customers = load_customers(options.data, features)
    matrix = customers.feature_matrix(features)
    fitted = fit_segments(matrix, options.k, options.seed)
    scaler = fitted.pipeline.named_steps[PIPELINE_SCALER_STEP]
    scaled_centroids = fitted.pipeline.named_steps[PIPELINE_KMEANS_STEP].cluster_centers_
    centroids = scaler.inverse_transform(scaled_centroids)
    summary = TrainingSummary(
        features=features,
        feature_stats={f: describe_distribution(matrix[f]) for f in features},
        feature_histograms={f: histogram(matrix[f]) for f in features},
        k=options.k,
        seed=options.seed,
        training_data=TrainingData(
            source=customers.source, sha256=customers.sha256, rows=customers.rows
        ),
        metrics=fitted.metrics,
        segments=build_profiles(
            customers.frame, features, fitted.labels, centroids, scaled_centroids
        ),
    )
    return save_bundle(
        options.models_dir,
        fitted.pipeline,
        summary,
        render_report(summary),
        promote=options.promote,
    )
