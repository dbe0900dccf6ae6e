"""``segment-train`` / ``python -m training``: fit a model and write a new bundle.

Expected failures (bad data, impossible k, unreadable models folder) end with one line on stderr
and exit code 2; the model in use is never touched by a failed run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from segmentation.bundle import BundleError
from segmentation.features import DEFAULT_FEATURES, parse_feature_list
from training.data import DataError
from training.fit import FitError
from training.train import DEFAULT_K, DEFAULT_SEED, TrainingOptions, train

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-train",
        description="Fit a StandardScaler + K-Means customer segmentation model and write a "
        "versioned bundle into the models directory.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data/sample_customers.csv"),
        help="CSV with classic or snake_case column names (default: %(default)s)",
    )
    parser.add_argument(
        "--features",
        type=_feature_list,
        default=DEFAULT_FEATURES,
        help=f"comma-separated features (default: {','.join(DEFAULT_FEATURES)}); "
        "'gender' may be added",
    )
    parser.add_argument("--k", type=_segment_count, default=DEFAULT_K, help="number of segments")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--models-dir", type=Path, default=Path("models"), help="where bundles are written"
    )
    parser.add_argument(
        "--no-promote",
        action="store_true",
        help="write the bundle but leave the current model pointer as it is",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = TrainingOptions(
        data=args.data,
        models_dir=args.models_dir,
        features=args.features,
        k=args.k,
        seed=args.seed,
        promote=not args.no_promote,
    )
    try:
        bundle = train(options)
    except (DataError, FitError, BundleError) as exc:
        sys.stderr.write(f"segment-train: error: {exc}\n")
        return EXIT_BAD_INPUT
    except OSError as exc:
        sys.stderr.write(f"segment-train: error: {exc}\n")
        return EXIT_BAD_INPUT
    meta = bundle.metadata
    silhouette = "n/a" if meta.metrics.silhouette is None else f"{meta.metrics.silhouette:.3f}"
    sys.stdout.write(
        f"trained {meta.version}: k={meta.k}, {meta.training_data.rows} customers, "
        f"silhouette {silhouette}\n"
    )
    for profile in meta.segments:
        sys.stdout.write(
            f"  segment {profile.id}: {profile.name} ({profile.size} customers, "
            f"{profile.share:.1%})\n"
        )
    state = "now current" if options.promote else "not promoted"
    sys.stdout.write(f"bundle written to {bundle.path} ({state})\n")
    return 0


def _feature_list(text: str) -> tuple[str, ...]:
    try:
        return parse_feature_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _segment_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be a whole number, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"k must be at least 2, got {value}")
    return value
