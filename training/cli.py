"""Command lines: ``segment-train`` (fit a model) and ``segment-names`` (rename segments).

Expected failures (bad data, impossible k, unreadable names file, bad bundle) end with a message
on stderr whose first line says what and where, and exit code 2; the model in use is never
touched by a failed run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from segmentation.bundle import Bundle, load_bundle
from segmentation.comparison import describe_left_out, describe_moves
from segmentation.console import (
    add_spark_arguments,
    configure_logging,
    ends_quietly_on_closed_pipe,
)
from segmentation.excerpts import counted
from segmentation.k_choice import CRITERION_LABELS, how_chosen, runner_up_change
from segmentation.metadata import (
    MODELS_DIR_HELP,
    REPORT_FILE,
    BundleError,
    BundleMetadata,
    SegmentProfile,
    current_version,
    default_models_dir,
)
from segmentation.rfm import parse_as_of
from segmentation.schema import SchemaError, parse_feature_list
from segmentation.sources import DataSource, parse_column_mapping
from training.align import DEFAULT_MAX_DISTANCE
from training.choose_k import DEFAULT_K_RANGE, parse_k_range
from training.data import DEFAULT_MIN_ROWS, DataError
from training.fit import MINIBATCH_THRESHOLD, FitError
from training.names import NamesError, names_template
from training.stability import DEFAULT_SAMPLES
from training.train import (
    DEFAULT_SEED,
    TrainingOptions,
    gate_refusal,
    rename_segments,
    train,
)

EXIT_BAD_INPUT = 2
# Trained and written, but held back by --max-moved: a scheduled retrain's job should not look
# like one that put a model live, and a script should not have to read the words to tell.
EXIT_HELD_BACK = 3
DEFAULT_DATA = "data/sample_customers.csv"
EXPECTED_FAILURES = (DataError, FitError, BundleError, NamesError, SchemaError, OSError)
T = TypeVar("T")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-train",
        description="Fit a StandardScaler + K-Means customer segmentation model and write a "
        "versioned bundle (model, metadata, HTML report) into the models directory.",
    )
    source = parser.add_argument_group("data")
    where = source.add_mutually_exclusive_group()
    where.add_argument(
        "--data",
        help="customers, one row each: a .csv or .parquet file, or a SQLAlchemy database URL "
        "such as sqlite:///crm.db or postgresql+psycopg://user@host/db "
        f"(default: {DEFAULT_DATA})",
    )
    where.add_argument(
        "--transactions",
        metavar="FILE|URL",
        help="orders, one row each (customer_id, order_date, amount; rename with --columns): "
        "trains on each customer's recency_days, frequency, monetary, average_order_value and "
        "tenure_days",
    )
    source.add_argument(
        "--as-of",
        type=_argument(parse_as_of),
        help="with --transactions: count recency and tenure up to this day, YYYY-MM-DD "
        "(default: the day after the last order)",
    )
    source.add_argument("--table", help="with a database URL: the table to read")
    source.add_argument("--query", help="with a database URL: the SELECT query to run")
    source.add_argument(
        "--columns",
        type=_argument(parse_column_mapping),
        default={},
        help="rename source columns, e.g. 'Income=annual_income,Cust=customer_id' (with "
        "--transactions: 'Client=customer_id,Day=order_date,Total=amount')",
    )
    source.add_argument(
        "--drop-invalid",
        action="store_true",
        help="train without the invalid rows (counted in the metadata) instead of refusing",
    )
    source.add_argument(
        "--min-rows",
        type=_argument(_positive),
        default=DEFAULT_MIN_ROWS,
        help="fail when fewer valid rows remain (default: %(default)s)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--features",
        type=_argument(parse_feature_list),
        default=None,
        help="comma-separated columns to segment on, any numeric or categorical ones "
        "(default: the --schema file's features, else the classic study's age, "
        "annual_income, spending_score); kinds, ranges and levels not declared in --schema "
        "are derived from the data",
    )
    model.add_argument(
        "--schema",
        type=Path,
        help="TOML file declaring features: kind, range, unit, transform (log1p), "
        "description, levels (see docs/own-data.md)",
    )
    model.add_argument(
        "--k",
        type=_argument(_k_value),
        default=None,
        metavar="N|auto",
        help="number of segments, or 'auto' to choose within --k-range (default: auto)",
    )
    model.add_argument(
        "--k-range",
        type=_argument(parse_k_range),
        default=DEFAULT_K_RANGE,
        metavar="LOW-HIGH",
        help=f"range for --k auto (default: {DEFAULT_K_RANGE[0]}-{DEFAULT_K_RANGE[1]})",
    )
    model.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    model.add_argument(
        "--minibatch-threshold",
        type=_argument(_positive),
        default=MINIBATCH_THRESHOLD,
        help="above this many rows, fit with MiniBatchKMeans (default: %(default)s)",
    )
    model.add_argument(
        "--stability-samples",
        type=_argument(_non_negative),
        default=DEFAULT_SAMPLES,
        help="bootstrap refits to measure stability; 0 skips it (default: %(default)s)",
    )
    model.add_argument("--names", type=Path, help="YAML or JSON file naming the segments")
    ids = parser.add_argument_group(
        "segment ids (see docs/training.md#segment-ids-across-versions)"
    )
    aligned = ids.add_mutually_exclusive_group()
    aligned.add_argument(
        "--align-to",
        metavar="VERSION",
        help="number the segments after this version's (default: the current model's): a "
        "segment matching one of its segments keeps that id, name and colour",
    )
    aligned.add_argument(
        "--no-align",
        action="store_true",
        help="number the segments 0 to k-1 as K-Means found them, continuing no earlier model",
    )
    ids.add_argument(
        "--max-distance",
        type=_argument(_positive_float),
        default=DEFAULT_MAX_DISTANCE,
        metavar="SD",
        help="a segment whose centre is farther than this from its match, in standard "
        "deviations, is a new segment with a new id (default: %(default)s)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help=MODELS_DIR_HELP
    )
    output.add_argument(
        "--no-promote",
        action="store_true",
        help="write the bundle but leave the current model pointer as it is",
    )
    output.add_argument(
        "--max-moved",
        type=_argument(_share),
        default=None,
        metavar="SHARE",
        help="write the bundle but do not make it current, and exit with code 3, when more "
        "than this share (0 to 1) of the training customers are not known to keep their "
        "segment against the model it is aligned to (they would change segment, or that model "
        "refuses them); segment-promote VERSION makes it current after review",
    )
    output.add_argument("--quiet", action="store_true", help="no progress lines")
    add_spark_arguments(
        parser,
        "local: this process (default); spark: Spark MLlib fits the scaler and K-Means on "
        "every row of --data or --transactions (a Parquet or CSV path, or a catalog table), k is "
        "chosen and the segments described on a seeded sample; the bundle is the same",
    )
    return parser


@ends_quietly_on_closed_pipe
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.engine == "spark" and (args.table or args.query):
        parser.error("with --engine spark, give the path or catalog table in --data")
    if args.engine == "local" and (args.master or args.spark_conf):
        parser.error("--master and --spark-conf go with --engine spark")
    bad_conf = [item for item in args.spark_conf or [] if "=" not in item]
    if bad_conf:
        parser.error(f"--spark-conf {bad_conf[0]!r} is not of the form key=value")
    if args.as_of and not args.transactions:
        parser.error("--as-of goes with --transactions")
    configure_logging("segment-train", quiet=args.quiet)
    location = args.transactions or args.data or DEFAULT_DATA
    options = TrainingOptions(
        source=DataSource(location, table=args.table, query=args.query, columns=args.columns),
        orders=args.transactions is not None,
        as_of=args.as_of,
        models_dir=args.models_dir,
        features=args.features,
        schema_file=args.schema,
        k=args.k,
        k_range=args.k_range,
        seed=args.seed,
        promote=not args.no_promote,
        align=not args.no_align,
        align_to=args.align_to,
        max_distance=args.max_distance,
        max_moved=args.max_moved,
        names_file=args.names,
        drop_invalid=args.drop_invalid,
        min_rows=args.min_rows,
        minibatch_threshold=args.minibatch_threshold,
        stability_samples=args.stability_samples,
    )
    try:
        bundle = _train_on_spark(options, args) if args.engine == "spark" else train(options)
    except EXPECTED_FAILURES as exc:
        return _fail("segment-train", exc)
    meta = bundle.metadata
    out = sys.stdout.write
    silhouette = "n/a" if meta.metrics.silhouette is None else f"{meta.metrics.silhouette:.3f}"
    out(
        f"trained {meta.version}: k={meta.k} ({meta.k_selection.mode}), "
        f"{meta.training_data.rows:,} customers, silhouette {silhouette}\n"
    )
    if meta.k_selection.mode == "auto":
        tree = meta.k_selection.split_tree
        change = runner_up_change(meta)
        out("  k    inertia  silhouette  calinski-harabasz  davies-bouldin  knee\n")
        for row in meta.k_selection.table:
            mark = "  <- chosen" if row.k == meta.k else ""
            if change and tree is not None and row.k == tree.runner_up:
                mark = f"  <- runner-up: {change}"
            out(
                f"  {row.k:<3} {row.inertia:>9.2f}  {_num(row.silhouette):>10}  "
                f"{_num(row.calinski_harabasz, 1):>17}  {_num(row.davies_bouldin):>14}  "
                f"{_num(row.knee_distance):>5}{mark}\n"
            )
    selection = meta.k_selection
    if selection.structure == "none":
        out(f"  NO CLEAR SEGMENTS: {selection.warning}\n")
    elif selection.structure == "segments" and selection.votes:
        votes = ", ".join(
            f"{CRITERION_LABELS.get(name, name)} {k}" for name, k in selection.votes.items()
        )
        how = how_chosen(selection.votes, selection.voted_k, meta.k)
        out(f"  segments found; best k by {votes}; chosen k={meta.k}, {how}\n")

    quality = meta.data_quality
    if quality.rows_dropped:
        out(f"  dropped {counted(quality.rows_dropped, 'invalid row')} of {quality.rows_read:,}\n")
    if meta.stability:
        out(
            f"  stability: mean adjusted Rand index {meta.stability.mean_ari:.3f} over "
            f"{meta.stability.samples} bootstrap refits\n"
        )
    _print_segments(bundle.metadata.segments)
    _print_changes(meta)
    current = _current_or_none(options.models_dir)
    state = "now current" if current == meta.version else "not promoted"
    out(f"bundle written to {bundle.path} ({state}); report: {bundle.path / REPORT_FILE}\n")
    refusal = gate_refusal(meta, options.max_moved)
    if refusal and options.promote and meta.lineage is not None:
        out(
            f"NOT PROMOTED: {refusal}; {current} stays current. Review the changes in the "
            f"report or with 'segment-compare {meta.lineage.aligned_to} {meta.version} "
            f"--data FILE', and make it current with 'segment-promote {meta.version}'\n"
        )
        return EXIT_HELD_BACK
    return 0


def _print_changes(meta: BundleMetadata) -> None:
    """How the segment ids follow the replaced model's, and what changes for customers."""
    lineage = meta.lineage
    if lineage is None or lineage.aligned_to is None:
        return
    out = sys.stdout.write
    kept = [str(s.id) for s in lineage.segments if s.matched_id is not None]
    out(
        f"  segment ids follow {lineage.aligned_to}: kept {', '.join(kept) or 'none'}; "
        f"new {', '.join(map(str, lineage.new)) or 'none'}; "
        f"retired {', '.join(map(str, lineage.retired)) or 'none'}\n"
    )
    if lineage.note:
        out(f"  {lineage.note}\n")
    comparison = meta.comparison
    if comparison is None:
        return
    if not comparison.left_out:
        out(
            f"  training customers keeping their segment: {comparison.kept:,} of "
            f"{comparison.customers:,} ({comparison.kept_share:.1%}); moving: "
            f"{comparison.moved:,} ({comparison.moved_share:.1%})\n"
        )
    elif comparison.customers:
        out(
            f"  training customers keeping their segment: {comparison.kept:,} of the "
            f"{comparison.customers:,} compared ({comparison.kept_share:.1%}); moving: "
            f"{comparison.moved:,} ({comparison.moved_share:.1%})\n"
        )
    else:
        out("  training customers keeping their segment: not known, none could be compared\n")
    if comparison.left_out:
        rows = comparison.customers + comparison.left_out
        out(
            f"  not compared: {comparison.left_out:,} of {rows:,} training customers "
            f"({comparison.left_out / rows:.1%}), {describe_left_out(comparison)}\n"
        )
    for text in describe_moves(comparison):
        out(f"    {text}\n")


def _current_or_none(models_dir: Path) -> str | None:
    try:
        return current_version(models_dir)
    except BundleError:
        return None


def _train_on_spark(options: TrainingOptions, args: argparse.Namespace) -> Bundle:
    # Imported here: pyspark is only installed with the [spark] extra.
    from spark_engine.session import (
        SparkSetupError,
        SparkSourceError,
        get_session,
        parse_spark_conf,
        quiet_pandas3_warning,
    )
    from training.spark import train_on_spark

    quiet_pandas3_warning()
    try:
        session = get_session("segment-train", args.master, parse_spark_conf(args.spark_conf))
        return train_on_spark(options, session)
    except (SparkSetupError, SparkSourceError) as exc:
        raise DataError(str(exc)) from None


def build_names_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-names",
        description="Name segments, describe them and give each a marketing action, without "
        "refitting: 'template' writes a names file to edit, 'apply' makes a new bundle version.",
    )
    parser.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help=MODELS_DIR_HELP
    )
    parser.add_argument("--version", help="bundle to start from (default: the current one)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("template", help="print a YAML names file for the bundle")
    apply = commands.add_parser("apply", help="write a new bundle version with these names")
    apply.add_argument("names", type=Path, help="YAML or JSON names file")
    apply.add_argument(
        "--no-promote",
        action="store_true",
        help="write the new version but keep serving the current one",
    )
    return parser


@ends_quietly_on_closed_pipe
def names_main(argv: Sequence[str] | None = None) -> int:
    args = build_names_parser().parse_args(argv)
    configure_logging("segment-names", quiet=True)
    if args.command == "template":
        try:
            segments = list(load_bundle(args.models_dir, args.version).metadata.segments)
        except EXPECTED_FAILURES as exc:
            return _fail("segment-names", exc)
        sys.stdout.write(names_template(segments))
        return 0
    try:
        source = args.version or current_version(args.models_dir)
        bundle = rename_segments(args.models_dir, args.names, source, promote=not args.no_promote)
    except EXPECTED_FAILURES as exc:
        return _fail("segment-names", exc)
    if bundle is None:
        sys.stdout.write(
            f"nothing to change: {args.names} gives every segment of {source} the words it "
            "already has; no new version written\n"
        )
        return 0
    state = "now current" if not args.no_promote else "not promoted"
    sys.stdout.write(f"renamed {source} -> {bundle.metadata.version} ({state})\n")
    _print_segments(bundle.metadata.segments)
    return 0


def _print_segments(segments: Sequence[SegmentProfile]) -> None:
    for profile in segments:
        sys.stdout.write(
            f"  segment {profile.id}: {profile.name} ({counted(profile.size, 'customer')}, "
            f"{profile.share:.1%})\n"
        )


def _fail(program: str, exc: BaseException) -> int:
    sys.stderr.write(f"{program}: error: {exc}\n")
    return EXIT_BAD_INPUT


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Turn a parser's ValueError into argparse's own error message (exit code 2)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _k_value(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"k must be a whole number or 'auto', got {text!r}") from None
    if value < 2:
        raise ValueError(f"k must be at least 2, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(f"must be a share from 0 to 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be more than 0, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {value}")
    return value
