"""``segment-score`` / ``python -m scoring``: score a CSV or Parquet file with a bundle."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from scoring.batch import (
    PROBLEM_COLUMN,
    ScoringError,
    ScoringSummary,
    score_file,
    score_orders_file,
)
from scoring.outputs import OutputFormatError, output_format
from segmentation.assigner import Assigner
from segmentation.bundle import Bundle, load_bundle
from segmentation.console import (
    Progress,
    add_spark_arguments,
    configure_logging,
    ends_quietly_on_closed_pipe,
)
from segmentation.excerpts import counted
from segmentation.metadata import MODELS_DIR_HELP, BundleError, default_models_dir
from segmentation.rfm import OrdersRule, parse_as_of
from segmentation.tables import is_database_url

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-score",
        description="Assign every customer of a CSV or Parquet file, or of a database table, to "
        "a segment without the service. A file is written out as it came, with segment_id, "
        "segment_name, distance and atypical appended (the same columns as POST /segment with "
        "CSV); a table's segments are upserted into --output-table of the same database, in "
        "one transaction.",
    )
    source = parser.add_argument_group("input (one of)").add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help=".csv or .parquet file")
    source.add_argument(
        "--transactions",
        metavar="FILE|URL",
        help="orders, one row each (customer_id, order_date, amount; rename with --columns): "
        "each customer's RFM features are scored, for a model trained with --transactions",
    )
    source.add_argument(
        "--data",
        help="a .csv or .parquet file, or a SQLAlchemy database URL such as sqlite:///crm.db or "
        "postgresql+psycopg://user@host/crm (needs the [db] or [train] extra)",
    )
    parser.add_argument(
        "--as-of",
        type=_as_of,
        help="with --transactions: count recency and tenure up to this day, YYYY-MM-DD "
        "(default: the day after the last order)",
    )
    database = parser.add_argument_group("with a database URL")
    database.add_argument("--table", help="the table of customers to score")
    database.add_argument("--query", help="or the SELECT query that returns them")
    database.add_argument(
        "--columns",
        default="",
        help="map source columns to ours, e.g. 'id=customer_id,Income=annual_income'",
    )
    target = parser.add_argument_group("output (one of)").add_mutually_exclusive_group(
        required=True
    )
    # Kept as text: a Spark output may be a URL (s3a://...), which Path would mangle.
    target.add_argument(
        "--output",
        help="the file to write, in the format its suffix names: .csv, .jsonl (JSON lines), "
        ".json (one array) or .parquet; with --engine spark, a Parquet or CSV directory",
    )
    target.add_argument(
        "--output-table",
        help="with a database URL: the table to upsert segments into, one row per customer_id "
        "(created on first use)",
    )
    parser.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help=MODELS_DIR_HELP
    )
    parser.add_argument("--version", help="bundle version (default: the current one)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also append runner_up_segment_id, margin, confidence and contribution_<feature>",
    )
    parser.add_argument(
        "--on-invalid",
        choices=("fail", "flag"),
        default="fail",
        help="fail: an invalid row fails the run, named with its problems and counted, and "
        "nothing is written (default); flag: every row is written, an invalid one with empty "
        f"segment columns and its reason in a '{PROBLEM_COLUMN}' column, and counted. flag "
        "writes files (and, with --engine spark, catalog tables); a database --output-table is "
        "all or nothing, and a bad order (--transactions) fails the run either way",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_spark_arguments(
        parser,
        "local: this process (default); spark: a Spark session, where --data is a Parquet "
        "or CSV path (a directory, on any file system Spark reads) or a catalog table, and "
        "--output a directory or --output-table a catalog table",
    )
    return parser


@ends_quietly_on_closed_pipe
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.engine == "spark":
        return _score_on_spark(parser, args)
    if args.master or args.spark_conf:
        parser.error("--master and --spark-conf go with --engine spark")
    if args.as_of and not args.transactions:
        parser.error("--as-of goes with --transactions")
    if args.output is not None:
        try:
            output_format(args.output)
        except OutputFormatError as exc:
            parser.error(f"argument --output: {exc}")
    location = args.data or args.transactions
    database_url = location is not None and is_database_url(location)
    if database_url and args.output_table is None:
        parser.error("scoring a database table writes its segments back: give --output-table")
    if args.output_table is not None and not database_url:
        parser.error("--output-table needs --data to be a database URL")
    if database_url and args.on_invalid == "flag":
        parser.error(
            "--on-invalid flag writes invalid rows into a file; a database --output-table is "
            "written all or nothing and has no column for a row's problem: fix or leave out the "
            "rows the error names, or score into a file with --output"
        )
    if not database_url and (args.table or args.query):
        parser.error("--table and --query go with a database URL")
    if not database_url and args.columns and not args.transactions:
        parser.error(
            "--columns goes with a database URL or --transactions; a file's columns are found by "
            "the model's names and aliases (a model trained with --columns reads the names it "
            "mapped as well)"
        )
    configure_logging("segment-score", quiet=args.quiet)
    try:
        bundle = load_bundle(args.models_dir, args.version)
        assigner = Assigner.from_bundle(bundle)
        _note_as_of(bundle, args)
        with Progress("scoring") as progress:
            if database_url:
                summary, destination = _score_table(parser, args, assigner, bundle, progress)
            elif args.transactions:
                destination = str(args.output)
                summary = score_orders_file(
                    assigner,
                    Path(args.transactions),
                    Path(args.output),
                    OrdersRule(args.as_of, _columns(parser, args.columns)),
                    explain=args.explain,
                    on_invalid=args.on_invalid,
                    on_rows=progress.advance,
                )
            else:
                destination = str(args.output)
                summary = score_file(
                    assigner,
                    args.input or Path(args.data),
                    Path(args.output),
                    explain=args.explain,
                    on_invalid=args.on_invalid,
                    on_rows=progress.advance,
                )
    except (BundleError, ScoringError, OSError) as exc:
        sys.stderr.write(f"segment-score: error: {exc}\n")
        return EXIT_BAD_INPUT
    _report(bundle, summary, destination)
    return 0


def _note_as_of(bundle: Bundle, args: argparse.Namespace) -> None:
    """A model trained up to a given day, scored without one, counts up to another day: say so."""
    trained = bundle.metadata.training_data.transactions
    if args.transactions and args.as_of is None and trained and trained.as_of_rule == "given":
        sys.stderr.write(
            f"segment-score: note: the model was trained with --as-of {trained.as_of}; without "
            "--as-of, recency and tenure count up to the day after the last order scored here\n"
        )


def _columns(parser: argparse.ArgumentParser, text: str) -> dict[str, str]:
    from segmentation.sources import parse_column_mapping

    try:
        return parse_column_mapping(text)
    except ValueError as exc:
        parser.error(f"argument --columns: {exc}")


def _as_of(text: str) -> date:
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _report(bundle: Bundle, summary: ScoringSummary, destination: str, engine: str = "") -> None:
    """What was scored where: the total, the atypical and the customers per segment."""
    names = {p.id: p.name for p in bundle.metadata.segments}
    # A flagged row is written, not scored: counted apart, so "scored" is what has a segment.
    sys.stdout.write(
        f"scored {counted(summary.rows - summary.flagged, 'customer')} with "
        f"{bundle.metadata.version}{engine} into {destination} ({summary.atypical:,} atypical)\n"
    )
    for segment, count in sorted(summary.per_segment.items()):
        sys.stdout.write(f"  segment {segment}: {names[segment]}: {count:,}\n")
    if summary.left_out:
        sys.stdout.write(
            f"  left out: {counted(summary.left_out, 'customer')} with returns only (no order to "
            "place them by)\n"
        )
    if summary.flagged:
        sys.stdout.write(
            f"  invalid, kept with a null segment: {summary.flagged:,} "
            f"({counted(summary.rows, 'row')} written)\n"
        )


def _score_table(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    assigner: Assigner,
    bundle: Bundle,
    progress: Progress,
) -> tuple[ScoringSummary, str]:
    # Imported here: SQLAlchemy is only needed, and only installed ([db]), for databases.
    from scoring.database import score_into_table
    from segmentation.sources import DataSource, parse_column_mapping

    if args.explain:
        parser.error("--explain adds columns to files; the output table has fixed columns")
    try:
        columns = parse_column_mapping(args.columns)
    except ValueError as exc:
        parser.error(f"argument --columns: {exc}")
    location = args.data or args.transactions
    source = DataSource(location, table=args.table, query=args.query, columns=columns)
    summary = score_into_table(
        assigner,
        source,
        args.output_table,
        model_version=bundle.metadata.version,
        on_rows=progress.advance,
        orders=OrdersRule(args.as_of) if args.transactions else None,
    )
    return summary, f"table {args.output_table!r} of {source.database()}"


def _score_on_spark(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    # Imported here: pyspark is only installed with the [spark] extra.
    from scoring.spark import SparkScoringError
    from scoring.spark_job import score_to_path, score_to_table
    from segmentation.sources import parse_column_mapping
    from spark_engine.orders import order_customers
    from spark_engine.session import (
        SparkSetupError,
        SparkSourceError,
        get_session,
        parse_spark_conf,
        quiet_pandas3_warning,
        read_customers,
    )

    quiet_pandas3_warning()
    if args.input is not None or args.table or args.query:
        parser.error("with --engine spark, give the path or catalog table in --data")
    try:
        columns = parse_column_mapping(args.columns)
        conf = parse_spark_conf(args.spark_conf)
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging("segment-score", quiet=args.quiet)
    try:
        # The bundle is verified before Spark starts: a tampered one never reaches a job.
        bundle = load_bundle(args.models_dir, args.version)
        session = get_session("segment-score", args.master, conf)
        left_out = 0
        if args.transactions:
            # Orders become customers in a Spark aggregation; their columns are ours already.
            from_orders = order_customers(
                read_customers(session, args.transactions), columns, args.as_of
            )
            df, left_out, columns = from_orders.customers, from_orders.left_out, {}
        else:
            df = read_customers(session, args.data)
        options = {"explain": args.explain, "columns": columns, "on_invalid": args.on_invalid}
        if args.output_table:
            result = score_to_table(df, bundle, args.output_table, **options)
            destination = f"table {args.output_table}"
        else:
            result = score_to_path(df, bundle, str(args.output), **options)
            destination = str(args.output)
    except (BundleError, SparkScoringError, SparkSourceError, SparkSetupError, OSError) as exc:
        sys.stderr.write(f"segment-score: error: {exc}\n")
        return EXIT_BAD_INPUT
    summary = replace(result.summary, left_out=left_out, flagged=result.flagged)
    _report(bundle, summary, destination, engine=" on Spark")
    return 0
