"""Training from start to finish: validated data in, a new bundle on disk out.

Nothing touches the models directory until the model is fitted, described and reported, and the
bundle is then written atomically, so a failed run leaves the model in use exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.bundle import Bundle, load_bundle, save_bundle
from segmentation.console import Progress
from segmentation.features import DEFAULT_FEATURES
from segmentation.metadata import REPORT_FILE, REPORT_SAMPLE_FILE, TrainingSummary
from segmentation.sources import DataSource
from training.choose_k import DEFAULT_K_RANGE, fixed_k, select_k
from training.data import DEFAULT_MIN_ROWS, load_customers
from training.fit import (
    MINIBATCH_THRESHOLD,
    build_pipeline,
    check_enough_data,
    fit_metrics,
    fit_scaler,
)
from training.names import apply_names, load_names
from training.profiles import build_profiles, describe_distribution, histogram
from training.report import render_report, report_sample
from training.stability import DEFAULT_SAMPLES, measure_stability

logger = logging.getLogger("training")
DEFAULT_SEED = 42


@dataclass(frozen=True)
class TrainingOptions:
    source: DataSource
    models_dir: Path
    features: Sequence[str] = DEFAULT_FEATURES
    k: int | None = None  # None: choose automatically within k_range
    k_range: tuple[int, int] = DEFAULT_K_RANGE
    seed: int = DEFAULT_SEED
    promote: bool = True
    names_file: Path | None = None
    drop_invalid: bool = False
    min_rows: int = DEFAULT_MIN_ROWS
    minibatch_threshold: int = MINIBATCH_THRESHOLD
    stability_samples: int = DEFAULT_SAMPLES


def train(options: TrainingOptions) -> Bundle:
    features = list(options.features)
    names = load_names(options.names_file) if options.names_file else None
    with Progress("reading data") as progress:
        customers = load_customers(
            options.source,
            features,
            drop_invalid=options.drop_invalid,
            min_rows=options.min_rows,
            on_chunk=progress.advance,
        )
    matrix = customers.feature_matrix(features)
    scaler, scaled = fit_scaler(matrix)
    if options.k is None:
        check_enough_data(scaled, options.k_range[0])
        low, high = options.k_range
        with Progress("choosing k", total=high - low + 1, unit="k") as progress:
            selection, clustering = select_k(
                scaled,
                options.k_range,
                options.seed,
                options.minibatch_threshold,
                on_k=lambda s: progress.advance(1, f"k={s.k} silhouette {s.silhouette or 0:.3f}"),
                on_testing=lambda: progress.advance(0, "testing whether there are segments at all"),
            )
        if selection.warning:
            logger.warning("%s", selection.warning)
    else:
        check_enough_data(scaled, options.k)
        selection, clustering = fixed_k(
            scaled, options.k, options.seed, options.minibatch_threshold
        )
    estimator = clustering.estimator
    stability = None
    if options.stability_samples > 0:
        with Progress("stability", total=options.stability_samples, unit="refits") as progress:
            stability = measure_stability(
                scaled,
                estimator,
                options.seed,
                options.stability_samples,
                options.minibatch_threshold,
                on_sample=lambda _: progress.advance(),
            )
        if stability.warning:
            logger.warning("%s", stability.warning)
    centroids = scaler.inverse_transform(estimator.cluster_centers_)
    offsets = scaled - estimator.cluster_centers_[clustering.labels]
    profiles = build_profiles(
        customers.frame,
        features,
        clustering.labels,
        np.sqrt(np.einsum("ij,ij->i", offsets, offsets)),
        centroids,
        estimator.cluster_centers_,
    )
    if names and options.names_file:
        profiles = apply_names(profiles, names, str(options.names_file))
    summary = TrainingSummary(
        algorithm=clustering.algorithm,
        features=features,
        feature_stats={f: describe_distribution(matrix[f]) for f in features},
        feature_histograms={f: histogram(matrix[f]) for f in features},
        k=selection.chosen_k,
        seed=options.seed,
        training_data=customers.training_data,
        data_quality=customers.quality,
        k_selection=selection,
        metrics=fit_metrics(clustering.score, len(scaled)),
        stability=stability,
        segments=profiles,
    )
    sample = report_sample(matrix, clustering.labels, options.seed)
    return save_bundle(
        options.models_dir,
        build_pipeline(scaler, estimator),
        summary,
        _report_files(summary, sample),
        promote=options.promote,
    )


def rename_segments(
    models_dir: Path, names_file: Path, version: str | None = None, *, promote: bool = True
) -> Bundle:
    """A new bundle version with the names file applied to an existing one, without refitting."""
    source = load_bundle(models_dir, version)
    names = load_names(names_file)
    profiles = apply_names(list(source.metadata.segments), names, str(names_file))
    summary = TrainingSummary.model_validate(
        {
            **source.metadata.model_dump(include=set(TrainingSummary.model_fields)),
            "segments": profiles,
        }
    )
    sample = pd.read_csv(source.path / REPORT_SAMPLE_FILE)
    return save_bundle(
        models_dir,
        source,
        summary,
        _report_files(summary, sample),
        promote=promote,
        derived_from=source.metadata.version,
    )


def _report_files(summary: TrainingSummary, sample: pd.DataFrame) -> dict[str, str]:
    return {
        REPORT_FILE: render_report(summary, sample),
        REPORT_SAMPLE_FILE: sample.to_csv(index=False, float_format="%.17g"),
    }
