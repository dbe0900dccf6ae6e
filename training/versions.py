"""Command lines about versions: ``segment-compare`` (what a new model changes for customers)
and ``segment-promote`` (make a written version the current one).

``segment-train --max-moved`` writes a model that moves too many customers without making it
current; a person reads ``segment-compare`` (or the training report) and promotes it, or not.
Promotion verifies the bundle exactly as a service reload does and then moves ``CURRENT`` by an
atomic rename, so a failure at any point leaves the previous model current. With ``--reload``
the service is asked to reload, and a service that then serves another version (one pinned by
``SEGMENT_MODEL_VERSION`` ignores ``CURRENT``) is an error, not a success line naming it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from segmentation.bundle import promote_version
from segmentation.comparison import (
    ComparedModel,
    compare,
    describe_left_out,
    describe_moves,
    format_shift,
    transition_matrix,
)
from segmentation.console import configure_logging, ends_quietly_on_closed_pipe
from segmentation.metadata import (
    API_KEY_ENV,
    MODELS_DIR_HELP,
    BundleError,
    Comparison,
    current_version,
    default_models_dir,
)
from segmentation.schema import ColumnsError, SchemaError
from segmentation.served_bundle import BundleView, verified_bundle
from segmentation.sources import DataSource, SourceError, SourceReader, parse_column_mapping

EXIT_BAD_INPUT = 2
# The key segment-promote --reload sends to the service (as ``Authorization: Bearer``).
# The service's setting that pins the version it serves, whatever CURRENT names.
PINNED_VERSION_ENV = "SEGMENT_MODEL_VERSION"
RELOAD_TIMEOUT_SECONDS = 60


def build_compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-compare",
        description="Score the same customers with two model versions and show what changes: "
        "the transition matrix (customers per old and new segment), the share that keep their "
        "segment, and each segment's centre shift in original units.",
    )
    parser.add_argument("old", metavar="OLD", help="the version customers are segmented by now")
    parser.add_argument("new", metavar="NEW", help="the version that would replace it")
    parser.add_argument(
        "--data",
        required=True,
        metavar="FILE|URL",
        help="customers, one row each, with both versions' features: a .csv or .parquet "
        "file, or a SQLAlchemy database URL (with --table or --query)",
    )
    parser.add_argument("--table", help="with a database URL: the table to read")
    parser.add_argument("--query", help="with a database URL: the SELECT query to run")
    parser.add_argument(
        "--columns",
        type=_mapping,
        default={},
        help="rename source columns, e.g. 'Income=annual_income'",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help=MODELS_DIR_HELP
    )
    return parser


@ends_quietly_on_closed_pipe
def compare_main(argv: Sequence[str] | None = None) -> int:
    parser = build_compare_parser()
    args = parser.parse_args(argv)
    if DataSource(args.data).kind == "sql" and not (args.table or args.query):
        parser.error("with a database URL, give --table or --query")
    configure_logging("segment-compare", quiet=True)
    source = DataSource(args.data, table=args.table, query=args.query, columns=args.columns)
    try:
        old = verified_bundle(args.models_dir, args.old)
        new = verified_bundle(args.models_dir, args.new)
        comparison = compare(_side(old), _side(new), _read(source, old, new), source.describe())
    except (BundleError, SourceError, ColumnsError, SchemaError, OSError) as exc:
        sys.stderr.write(f"segment-compare: error: {exc}\n")
        return EXIT_BAD_INPUT
    if args.json:
        sys.stdout.write(comparison.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(comparison_table(comparison))
    return 0


def comparison_table(comparison: Comparison) -> str:
    """The comparison as the command line prints it."""
    lines = [
        f"{comparison.old_version} -> {comparison.new_version or 'this model'} on "
        f"{comparison.data}: {comparison.customers:,} customers"
        + (
            f" ({comparison.left_out:,} rows left out: {describe_left_out(comparison)})"
            if comparison.left_out
            else ""
        ),
        f"keep their segment: {comparison.kept:,} ({comparison.kept_share:.1%}); "
        f"move: {comparison.moved:,} ({comparison.moved_share:.1%})"
        if comparison.customers
        else "keep their segment: not known, no customer could be compared",
        *(f"  {text}" for text in describe_moves(comparison)),
        "",
        "customers per segment (rows: old, columns: new)",
    ]
    old_ids, new_ids, matrix = transition_matrix(comparison)
    width = max(7, *(len(f"{v:,}") + 1 for v in matrix.flat)) if matrix.size else 7
    lines.append("old\\new " + "".join(f"{i:>{width}}" for i in new_ids))
    for segment, row in zip(old_ids, matrix.tolist(), strict=True):
        lines.append(f"{segment:<8}" + "".join(f"{v:>{width},}" for v in row))
    lines += ["", "segments"]
    for change in comparison.segments:
        name = change.new_name or change.old_name or ""
        shift = format_shift(change.centroid_shift)
        lines.append(
            f"  {change.id:<4} {change.status:<8} {change.old_customers:>8,} -> "
            f"{change.new_customers:<8,} stayed {change.stayed:<8,} {name}"
            + (f"; centre moved {shift}" if shift else "")
        )
    return "\n".join(lines) + "\n"


def _side(bundle: BundleView) -> ComparedModel:
    return ComparedModel.of(bundle.metadata, bundle.numbers, bundle.metadata.version)


def _read(source: DataSource, old: BundleView, new: BundleView) -> pd.DataFrame:
    """The customers with every column either model reads, under the schemas' names."""
    schemas = (old.metadata.feature_schema, new.metadata.feature_schema)
    needed = list(dict.fromkeys(name for schema in schemas for name in schema.names))
    name_of = {key: value for schema in schemas for key, value in schema.name_of().items()}
    return SourceReader(source, needed, name_of).read_all()


def build_promote_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-promote",
        description="Make a written model version the current one, after verifying it as a "
        "service reload does; the pointer moves atomically, so a failure leaves the previous "
        "model current.",
    )
    parser.add_argument("version", metavar="VERSION", help="the bundle to make current")
    parser.add_argument(
        "--models-dir", type=Path, default=default_models_dir(), help=MODELS_DIR_HELP
    )
    parser.add_argument(
        "--reload",
        metavar="URL",
        help="then ask the service at URL to reload (POST /admin/reload, with the key in "
        f"${API_KEY_ENV} if set), so it serves the version without a restart; exit code 2 if "
        f"the service did not reload, or serves another version afterwards (one started with "
        f"{PINNED_VERSION_ENV} serves that version): the promotion stands either way",
    )
    return parser


@ends_quietly_on_closed_pipe
def promote_main(argv: Sequence[str] | None = None) -> int:
    args = build_promote_parser().parse_args(argv)
    configure_logging("segment-promote", quiet=True)
    try:
        previous = _current_or_none(args.models_dir)
        promote(args.models_dir, args.version)
    except (BundleError, OSError) as exc:
        now = _current_or_none(args.models_dir)
        sys.stderr.write(f"segment-promote: error: {exc}; the current model is {now or 'none'}\n")
        return EXIT_BAD_INPUT
    if previous == args.version:
        sys.stdout.write(f"{args.version} was already the current model; verified again\n")
    else:
        was = f" (was {previous})" if previous else ""
        sys.stdout.write(f"promoted {args.version}{was}: it is now the current model\n")
    if args.reload:
        try:
            served = reload_service(args.reload)
        except (OSError, ValueError) as exc:
            sys.stderr.write(
                f"segment-promote: error: {args.version} is current but the service at "
                f"{args.reload} did not reload: {exc}\n"
            )
            return EXIT_BAD_INPUT
        if served != args.version:
            sys.stderr.write(_still_serves(args.reload, served, args.version, args.models_dir))
            return EXIT_BAD_INPUT
        sys.stdout.write(f"the service at {args.reload} now serves {served}\n")
    return 0


def _still_serves(url: str, served: str, promoted: str, models_dir: Path) -> str:
    """Why a service that reloaded serves another version than the one promoted, and what
    to do: the promotion stands either way."""
    return (
        f"segment-promote: error: the service at {url} reloaded and still serves {served}, "
        f"not {promoted}: a service started with {PINNED_VERSION_ENV}={served} serves that "
        f"version whatever CURRENT names (so does one reading another models folder than "
        f"{models_dir}, its own CURRENT). {promoted} is promoted all the same: CURRENT in "
        f"{models_dir} names it. To serve it there, restart the service without "
        f"{PINNED_VERSION_ENV}, or with {PINNED_VERSION_ENV}={promoted}\n"
    )


def promote(models_dir: Path, version: str) -> None:
    """Verify ``version`` as a service reload would, then point ``CURRENT`` at it."""
    verified_bundle(models_dir, version)
    promote_version(models_dir, version)


def reload_service(url: str) -> str:
    """POST /admin/reload to the service at ``url``; the version it serves afterwards."""
    request = urllib.request.Request(url.rstrip("/") + "/admin/reload", method="POST", data=b"")
    key = os.environ.get(API_KEY_ENV)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=RELOAD_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            detail = json.loads(detail)["error"]["message"]
        raise ValueError(f"HTTP {exc.code}: {detail}") from None
    return str(answer["model_version"])


def _current_or_none(models_dir: Path) -> str | None:
    try:
        return current_version(models_dir)
    except BundleError:
        return None


def _mapping(text: str) -> dict[str, str]:
    try:
        return parse_column_mapping(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
