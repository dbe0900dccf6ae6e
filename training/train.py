"""Training from start to finish: validated data in, a new bundle on disk out.

Nothing touches the models directory until the model is fitted, described and reported, and the
bundle is then written atomically, so a failed run leaves the model in use exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.bundle import Bundle, load_bundle, numbers_of, save_bundle
from segmentation.comparison import (
    ComparedModel,
    compare,
    describe_left_out,
    not_known_to_keep,
)
from segmentation.console import Progress
from segmentation.metadata import REPORT_FILE, REPORT_SAMPLE_FILE, ScorerNumbers, TrainingSummary
from segmentation.rfm import RFM_PRESET
from segmentation.schema import PRESETS_DIR, CategoricalFeature, NumericFeature
from segmentation.sources import DataSource
from training.align import (
    DEFAULT_MAX_DISTANCE,
    Reference,
    align,
    highest_segment_id,
    inherit_words,
    lineage,
    old_centres_on,
    reference_model,
    renumber_split_tree,
    reorder_estimator,
)
from training.choose_k import DEFAULT_K_RANGE, candidate_ks, fixed_k, select_k
from training.columns import plan_columns
from training.data import DEFAULT_MIN_ROWS, load_customers, load_order_customers
from training.fit import (
    MINIBATCH_THRESHOLD,
    build_pipeline,
    check_enough_data,
    fit_metrics,
    fit_scaler,
)
from training.names import apply_names, load_names
from training.profiles import build_profiles, describe_distribution, histogram, level_shares
from training.report import render_report, report_sample
from training.stability import DEFAULT_SAMPLES, measure_stability

logger = logging.getLogger("training")
DEFAULT_SEED = 42


@dataclass(frozen=True)
class TrainingOptions:
    source: DataSource
    models_dir: Path
    # None: the schema file's features, else the classic study's preset's (the RFM preset's
    # with ``orders``).
    features: Sequence[str] | None = None
    schema_file: Path | None = None
    # The source holds orders: train on each customer's RFM features (segmentation.rfm).
    orders: bool = False
    as_of: date | None = None
    k: int | None = None  # None: choose automatically within k_range
    k_range: tuple[int, int] = DEFAULT_K_RANGE
    seed: int = DEFAULT_SEED
    promote: bool = True
    # Number segments after the current model's (or align_to's); see training.align.
    align: bool = True
    align_to: str | None = None
    max_distance: float = DEFAULT_MAX_DISTANCE
    # Write but do not promote a model that moves more than this share of the training
    # customers to another segment than the aligned-to model gives them.
    max_moved: float | None = None
    names_file: Path | None = None
    drop_invalid: bool = False
    min_rows: int = DEFAULT_MIN_ROWS
    minibatch_threshold: int = MINIBATCH_THRESHOLD
    stability_samples: int = DEFAULT_SAMPLES


def train(options: TrainingOptions) -> Bundle:
    schema_file = options.schema_file
    if options.orders and schema_file is None:
        schema_file = PRESETS_DIR / f"{RFM_PRESET}.toml"
    plan = plan_columns(options.features, schema_file)
    names = load_names(options.names_file) if options.names_file else None
    with Progress("reading data") as progress:
        if options.orders:
            customers = load_order_customers(
                options.source,
                plan,
                options.as_of,
                drop_invalid=options.drop_invalid,
                min_rows=options.min_rows,
                on_chunk=progress.advance,
            )
        else:
            customers = load_customers(
                options.source,
                plan,
                drop_invalid=options.drop_invalid,
                min_rows=options.min_rows,
                on_chunk=progress.advance,
            )
    # The bundle's schema also reads the columns by the names the source gave them.
    schema = customers.schema.with_source_names(options.source.columns)
    features = schema.names
    matrix = customers.model_input()
    scaler, scaled = fit_scaler(matrix, schema)
    if options.k is None:
        check_enough_data(scaled, options.k_range[0])
        tried = candidate_ks(scaled, options.k_range)
        with Progress("choosing k", total=len(tried), unit="k") as progress:
            selection, clustering = select_k(
                scaled,
                (tried[0], tried[-1]),
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
    reference = aligned_to(options)
    alignment = align(
        estimator.cluster_centers_,
        numbers_of(build_pipeline(scaler, estimator)),
        reference,
        highest_segment_id(options.models_dir),
        options.max_distance,
        schema=schema,
    )
    reorder_estimator(estimator, alignment)
    labels = alignment.relabel(clustering.labels)
    selection = renumber_split_tree(selection, alignment)
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
                segment_ids=alignment.ids,
            )
        if stability.warning:
            logger.warning("%s", stability.warning)
    pipeline = build_pipeline(scaler, estimator)
    numbers = numbers_of(pipeline)
    input_centroids = estimator.cluster_centers_ * numbers.scale + numbers.mean
    offsets = scaled - estimator.cluster_centers_[labels]
    profiles = build_profiles(
        customers.frame,
        schema,
        labels,
        np.sqrt(np.einsum("ij,ij->i", offsets, offsets)),
        input_centroids,
        estimator.cluster_centers_,
        alignment.ids,
    )
    profiles = inherit_words(profiles, alignment)
    if names and options.names_file:
        profiles = apply_names(profiles, names, str(options.names_file))
    numeric = [f.name for f in schema.features if isinstance(f, NumericFeature)]
    summary = TrainingSummary(
        algorithm=clustering.algorithm,
        features=features,
        feature_schema=schema,
        feature_stats={f: describe_distribution(matrix[f]) for f in numeric},
        feature_histograms={f: histogram(matrix[f]) for f in numeric},
        feature_levels={
            f.name: {level: s.share for level, s in level_shares(matrix[f.name], f).items()}
            for f in schema.features
            if isinstance(f, CategoricalFeature)
        },
        k=selection.chosen_k,
        seed=options.seed,
        training_data=customers.training_data,
        data_quality=customers.quality,
        k_selection=selection,
        metrics=fit_metrics(clustering.score, len(scaled)),
        stability=stability,
        segments=profiles,
        lineage=lineage(profiles, alignment),
    )
    summary = with_comparison(summary, numbers, reference, customers.frame)
    sample = report_sample(matrix, np.asarray(alignment.ids)[labels], options.seed)
    return save_bundle(
        options.models_dir,
        pipeline,
        summary,
        _report_files(summary, sample),
        promote=options.promote and gate_refusal(summary, options.max_moved) is None,
    )


def aligned_to(options: TrainingOptions) -> Reference | None:
    """The model whose segment ids the new one continues: ``--align-to``, else the current
    one (none with ``--no-align``, or when there is no current model)."""
    if not options.align:
        return None
    return reference_model(options.models_dir, options.align_to)


def with_comparison(
    summary: TrainingSummary,
    numbers: ScorerNumbers,
    reference: Reference | None,
    rows: pd.DataFrame | pa.Table,
    data: str = "the training customers",
) -> TrainingSummary:
    """The summary with its training rows compared between the aligned-to model and itself."""
    if reference is None or summary.lineage is None:
        return summary  # nothing to compare with
    if old_centres_on(reference.numbers, numbers.features) is None:
        return summary  # another model's features: no customer keeps a segment of it
    comparison = compare(
        ComparedModel.of(reference.metadata, reference.numbers, reference.metadata.version),
        ComparedModel.of(summary, numbers, None),
        rows,
        data,
    )
    return summary.model_copy(update={"comparison": comparison})


def gate_refusal(summary: TrainingSummary, max_moved: float | None) -> str | None:
    """Why the new model is not made current (``--max-moved``), or None when it may be.

    The gate measures the share of the training customers **not known to keep their
    segment**: those who move, and those the comparison left out because the model it replaces
    refuses them (a value outside its ranges or levels). Counting the left-out as not kept,
    rather than refusing below some share compared, was chosen because:

    - the gate keeps one meaning and one threshold: the true share moved lies between the moved
      share of all customers and this one, so the gate checks the upper bound and can only err
      towards holding a model back for review, never towards promoting one it has no evidence
      for (600 customers, none comparable, used to pass as "0 of 0 moved");
    - such a customer has no segment in the model in use to keep: the service refuses them, so
      nothing keyed on that model's ids holds them;
    - with every customer compared it is exactly the moved share, so nothing else changes.
    """
    comparison, lineage = summary.comparison, summary.lineage
    if max_moved is None or lineage is None or lineage.aligned_to is None:
        return None  # nothing it replaces, so nobody moves
    if comparison is None:
        return (
            f"every customer's segment id changes against {lineage.aligned_to}, which reads "
            f"other columns, more than --max-moved {max_moved:g} allows"
        )
    unknown, rows, share = not_known_to_keep(comparison)
    if not rows:
        return (
            f"no training customer was compared against {comparison.old_version}, so none is "
            f"known to keep their segment, more than --max-moved {max_moved:g} allows"
        )
    if share <= max_moved:
        return None
    if not comparison.left_out:
        return (
            f"{comparison.moved:,} of {comparison.customers:,} training customers "
            f"({comparison.moved_share:.1%}) would change segment against "
            f"{comparison.old_version}, more than --max-moved {max_moved:g} allows"
        )
    return (
        f"{unknown:,} of {rows:,} training customers ({share:.1%}) are not known to keep their "
        f"segment against {comparison.old_version}: {comparison.moved:,} would change segment "
        f"and {comparison.left_out:,} could not be compared, {describe_left_out(comparison)}; "
        f"--max-moved counts those not compared as changing, and {max_moved:g} allows at most "
        f"{max_moved:.1%}"
    )


def rename_segments(
    models_dir: Path, names_file: Path, version: str | None = None, *, promote: bool = True
) -> Bundle | None:
    """A new bundle version with the names file applied to an existing one, without refitting;
    None when the file changes nothing (an untouched template), so no version is written."""
    source = load_bundle(models_dir, version)
    names = load_names(names_file)
    profiles = apply_names(list(source.metadata.segments), names, str(names_file))
    if profiles == list(source.metadata.segments):
        return None
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
