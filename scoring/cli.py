"""``segment-score`` / ``python -m scoring``: score a CSV or Parquet file with a bundle."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scoring.batch import ScoringError, score_file
from segmentation.assigner import Assigner
from segmentation.bundle import load_bundle
from segmentation.console import Progress, configure_logging
from segmentation.metadata import MODELS_DIR_HELP, BundleError, default_models_dir

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-score",
        description="Assign every customer of a CSV or Parquet file to a segment, without the "
        "service: the rows are written out as they came, with segment_id, segment_name, "
        "distance and atypical appended (the same columns as POST /segment with CSV).",
    )
    parser.add_argument("--input", type=Path, required=True, help=".csv or .parquet file")
    parser.add_argument("--output", type=Path, required=True, help=".csv or .parquet file")
    parser.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help=MODELS_DIR_HELP
    )
    parser.add_argument("--version", help="bundle version (default: the current one)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also append runner_up_segment_id, margin, confidence and contribution_<feature>",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("segment-score", quiet=args.quiet)
    try:
        bundle = load_bundle(args.models_dir, args.version)
        with Progress("scoring") as progress:
            summary = score_file(
                Assigner.from_bundle(bundle),
                args.input,
                args.output,
                explain=args.explain,
                on_rows=progress.advance,
            )
    except (BundleError, ScoringError, OSError) as exc:
        sys.stderr.write(f"segment-score: error: {exc}\n")
        return EXIT_BAD_INPUT
    names = {p.id: p.name for p in bundle.metadata.segments}
    sys.stdout.write(
        f"scored {summary.rows:,} customers with {bundle.metadata.version} into {args.output} "
        f"({summary.atypical:,} atypical)\n"
    )
    for segment, count in sorted(summary.per_segment.items()):
        sys.stdout.write(f"  segment {segment}: {names[segment]}: {count:,}\n")
    return 0
