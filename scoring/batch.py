"""Score a file chunk by chunk into another file, all or nothing.

The output is written to a hidden file beside the target and renamed into place only when every
row has been scored, so a bad row, a crash or a full disk never leaves a half-written export that
a CRM could pick up; and a batch never silently drops rows: one invalid row fails the run, with
every problem (up to a cap) named by row and column.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from scoring.outputs import TableWriter, chunk_preparer, open_writer
from segmentation.assigner import Assigner, Scored
from segmentation.csv_lines import (
    SAVE_AS_UTF8,
    NotUtf8,
    first_problem,
    may_end_inside_a_quote,
    never_closed,
    quote_never_closed,
    utf8_lines,
)
from segmentation.excerpts import counted
from segmentation.fresh_paths import fresh_file
from segmentation.rfm import OrdersError, OrdersRule, read_order_customers
from segmentation.schema import ColumnsError
from segmentation.sources import DataSource
from segmentation.tables import is_parquet, scored_table
from segmentation.validation import CheckedTable

CSV_BLOCK_BYTES = 4 << 20  # 10 million rows: 11 s either way, peak 551 MiB at 4 MiB, 926 MiB at 16
# A quoted value may hold line ends (a note over several lines), also across a block's end.
CSV_PARSE = pa_csv.ParseOptions(newlines_in_values=True)
# Finding a malformed file's first bad line, the longest line looked into (not held in memory).
LONGEST_LINE_BYTES = 64 << 20
PARQUET_BATCH_ROWS = 200_000
# Chunks scored at once, beside the thread that reads and writes.
SCORING_THREADS = max(1, min(4, os.cpu_count() or 1))


class ScoringError(Exception):
    """The input cannot be scored; the message says where and why."""


@dataclass(frozen=True)
class ScoringSummary:
    rows: int
    atypical: int
    per_segment: dict[int, int]
    # Scoring orders: customers with returns only, who have no order to be placed by.
    left_out: int = 0


@dataclass
class Tally:
    """Rows, atypical customers and customers per segment, added up chunk by chunk."""

    rows: int = 0
    atypical: int = 0
    per_segment: dict[int, int] = field(default_factory=dict)

    def add(self, scored: Scored) -> None:
        segment_ids = scored.assignments.segment_ids
        self.rows += len(segment_ids)
        self.atypical += int(scored.atypical.sum())
        counts = np.bincount(segment_ids)
        for segment in np.flatnonzero(counts).tolist():
            self.per_segment[segment] = self.per_segment.get(segment, 0) + int(counts[segment])

    def summary(self) -> ScoringSummary:
        return ScoringSummary(self.rows, self.atypical, dict(self.per_segment))


def score_orders_file(
    assigner: Assigner,
    source: Path,
    target: Path,
    orders: OrdersRule,
    *,
    explain: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> ScoringSummary:
    """Score the customers of a file of orders: one row per customer (``customer_id`` and the
    RFM features) with the assignment columns appended, all or nothing."""
    if not source.is_file():
        raise ScoringError(f"{source}: file not found")
    try:
        source_of_orders = DataSource(str(source), columns=orders.columns)
        rfm = read_order_customers(source_of_orders, orders.as_of, on_rows).rfm
    except OrdersError as exc:
        raise ScoringError(str(exc)) from None
    frame = rfm.frame
    try:
        checked = assigner.check_table(frame)
    except ColumnsError as exc:
        raise ScoringError(f"{source}: {exc}: the model was not trained on orders") from None
    if checked.problems:
        raise ScoringError(refusal(f"{source} (customers from orders)", checked))
    scored = assigner.score(checked.rows)
    table = scored_table(frame, assigner.output_columns(scored, explain, arrow_names=True))
    with atomic_target(target) as temporary, open_writer(temporary, table.schema) as writer:
        writer.write_table(table)
    tally = Tally()
    tally.add(scored)
    return replace(tally.summary(), left_out=rfm.summary.customers_without_orders)


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A hidden file beside ``target``, with its suffix (which decides the format), renamed
    into place only when the block finishes; removed on any failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = fresh_file(target.parent, f".{target.stem}.", target.suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def file_format(path: Path) -> str:
    return "parquet" if is_parquet(path) else "csv"


def score_file(
    assigner: Assigner,
    source: Path,
    target: Path,
    *,
    explain: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> ScoringSummary:
    if not source.is_file():
        raise ScoringError(f"{source}: file not found")
    with atomic_target(target) as temporary:
        return _score(assigner, source, temporary, explain, on_rows)


def _score(
    assigner: Assigner,
    source: Path,
    target: Path,
    explain: bool,
    on_rows: Callable[[int], None] | None,
) -> ScoringSummary:
    tally = Tally()
    with ExitStack() as stack:
        # Chunks are checked and scored in worker threads (Arrow's and numpy's kernels release
        # the GIL) while this thread reads the next ones and writes the finished ones, in order:
        # the first chunk in the file with a problem is the one reported.
        pool = stack.enter_context(ThreadPoolExecutor(SCORING_THREADS))
        stack.callback(pool.shutdown, cancel_futures=True)
        pending: deque[Future[tuple[pa.Table, Scored, Any]]] = deque()
        writer: TableWriter | None = None
        schema: pa.Schema | None = None
        prepare = chunk_preparer(target)
        first_row = 1
        batches = _batches(source)
        while True:
            batch = next(batches, None)
            if batch is not None:
                chunk = pool.submit(
                    _score_chunk, assigner, source, batch, first_row, explain, prepare
                )
                pending.append(chunk)
                first_row += batch.num_rows
            if not pending or (batch is not None and len(pending) <= SCORING_THREADS):
                if batch is None:
                    break
                continue
            table, scored, prepared = pending.popleft().result()
            if writer is None or schema is None:
                schema = table.schema
                writer = stack.enter_context(open_writer(target, schema))
            writer.write_prepared(prepared.cast(schema) if prepared is table else prepared)
            tally.add(scored)
            if on_rows:
                on_rows(table.num_rows)
        if writer is None:
            raise ScoringError(f"{source}: no data rows")
    return tally.summary()


def _score_chunk(
    assigner: Assigner,
    source: Path,
    batch: pa.RecordBatch,
    first_row: int,
    explain: bool,
    prepare: Callable[[pa.Table], Any],
) -> tuple[pa.Table, Scored, Any]:
    """One chunk checked and scored, as Arrow columns (no pandas copy, no Python object per
    cell), with the assignment columns appended, and prepared for the writer."""
    frame = pa.Table.from_batches([batch])
    try:
        checked = assigner.check_table(frame, first_row=first_row)
    except ColumnsError as exc:
        raise ScoringError(f"{source}: {exc}") from None
    if checked.problems:
        raise ScoringError(refusal(str(source), checked))
    scored = assigner.score(checked.rows)
    columns = assigner.output_columns(scored, explain, arrow_names=True)
    table = scored_table(frame, columns)
    return table, scored, prepare(table)


def _batches(source: Path) -> Iterator[pa.RecordBatch]:
    try:
        if file_format(source) == "parquet":
            yield from pq.ParquetFile(source).iter_batches(batch_size=PARQUET_BATCH_ROWS)
            return
        # (pyarrow drops a byte order mark from the header too, so the names below match it.)
        with source.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
        if not header:
            raise ScoringError(f"{source}: the file is empty")
        # Every column is read as text, so the columns we do not score are echoed untouched.
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=CSV_PARSE,
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
        last = None
        for batch in reader:  # each batch a step late, so that the last can be checked first
            if last is not None:
                yield last
            last = batch
        if last is not None:
            _refuse_a_quote_open_to_the_end(source, last)
            yield last
    except (pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
        raise ScoringError(f"{source}: {_unreadable(source, exc)}") from None


def _refuse_a_quote_open_to_the_end(source: Path, last: pa.RecordBatch) -> None:
    """pyarrow reads a quote left open in the last column as one value running to the end of
    the file, every row after it lost without a word. Only when the last row's last value runs
    over several lines and the file does not end with a quote is it read again, streaming, to
    name the line (a file whose last note is closed is read once)."""
    if not last.num_rows:
        return
    with source.open("rb") as raw:
        raw.seek(max(0, source.stat().st_size - 8))
        tail = raw.read()
    if not may_end_inside_a_quote(str(last.column(last.num_columns - 1)[-1]), tail):
        return
    opened = _quote_open_to_the_end(source)
    if opened is not None:
        raise ScoringError(f"{source}: malformed CSV: {never_closed(opened)}")


def _quote_open_to_the_end(source: Path) -> int | None:
    with source.open("rb") as raw:
        return quote_never_closed(utf8_lines(raw))


def _unreadable(source: Path, exc: Exception) -> str:
    """Why ``source`` cannot be read. A CSV file pyarrow refused is read again, streaming, by
    Python's csv module to name its first bad line in the service's words (a file that reads is
    read once: this costs only on failure); pyarrow's own words when that finds nothing."""
    if file_format(source) == "csv":
        with source.open("rb") as raw:
            problem = first_problem(raw, longest=LONGEST_LINE_BYTES)
        if isinstance(problem, NotUtf8):
            return f"malformed CSV: {problem}; {SAVE_AS_UTF8}"
        if problem is not None:
            return f"malformed CSV: {problem}"
        opened = _quote_open_to_the_end(source)  # pyarrow's "straddling object", say
        if opened is not None:
            return f"malformed CSV: {never_closed(opened)}"
    detail = " ".join(str(exc).split())
    return f"cannot read the file: {detail}"


def refusal(
    source: str, checked: CheckedTable, who: Callable[[int], str] = lambda row: f"row {row}"
) -> str:
    """Why a table is refused: its first problem, then every other one up to the cap; ``who``
    names a row (a database table's by its customer_id)."""
    first = checked.problems[0]
    lines = [
        f"{source}: {who(first.row)}, column {first.column!r}: {first.message} "
        f"({counted(checked.bad_rows, 'invalid row')} in this chunk; nothing was written)"
    ]
    lines += [f"  {who(p.row)}, {p.column}: {p.message}" for p in checked.reported_problems[1:]]
    if checked.unreported_problems:
        lines.append(f"  ... and {checked.unreported_problems} more problems")
    return "\n".join(lines)
