"""Score a file chunk by chunk into another file, all or nothing.

The output is written to a hidden file beside the target and renamed into place only when every
row has been scored, so a bad row, a crash or a full disk never leaves a half-written export that
a CRM could pick up; and a batch never silently drops rows: by default one invalid row fails the
run, with every problem (up to a cap) named by row (its line in a CSV file, its customer id) and
column; with ``on_invalid="flag"``, as on Spark, every row is written and an invalid one carries
null assignment columns and its reason in ``problem``.
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
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from scoring.outputs import TableWriter, chunk_preparer, open_writer
from segmentation.assigner import Assigner, Scored
from segmentation.csv_lines import (
    SAVE_AS_UTF8,
    MalformedCsv,
    NotUtf8,
    TooLong,
    first_problem,
    may_end_inside_a_quote,
    never_closed,
    quote_never_closed,
    records,
    utf8_lines,
)
from segmentation.excerpts import counted, id_text, quoted
from segmentation.fresh_paths import fresh_file
from segmentation.rfm import OrdersError, OrdersRule, read_order_customers
from segmentation.schema import ID_COLUMN, ColumnsError, FeatureSchema
from segmentation.sources import DataSource
from segmentation.tables import is_parquet, scored_table
from segmentation.validation import CheckedTable, RowProblem

CSV_BLOCK_BYTES = 4 << 20  # 10 million rows: 11 s either way, peak 551 MiB at 4 MiB, 926 MiB at 16
# A quoted value may hold line ends (a note over several lines), also across a block's end.
CSV_PARSE = pa_csv.ParseOptions(newlines_in_values=True)
# Finding a malformed file's first bad line, the longest line looked into (not held in memory).
LONGEST_LINE_BYTES = 64 << 20
PARQUET_BATCH_ROWS = 200_000
# Chunks scored at once, beside the thread that reads and writes.
SCORING_THREADS = max(1, min(4, os.cpu_count() or 1))
# What an invalid row does: fail the run (nothing written), or be written flagged. The words and
# the column are those of --engine spark (scoring.spark), so the option means one thing.
OnInvalid = Literal["fail", "flag"]
PROBLEM_COLUMN = "problem"
KEEP_INVALID_ROWS = (
    f"--on-invalid flag keeps them with a null segment and a '{PROBLEM_COLUMN}' column"
)


class ScoringError(Exception):
    """The input cannot be scored; the message says where and why."""


@dataclass(frozen=True)
class ScoringSummary:
    rows: int  # every row written, flagged ones included
    atypical: int
    per_segment: dict[int, int]
    # Scoring orders: customers with returns only, who have no order to be placed by.
    left_out: int = 0
    # Invalid rows written with a null segment (on_invalid="flag").
    flagged: int = 0


@dataclass
class Tally:
    """Rows, atypical customers and customers per segment, added up chunk by chunk."""

    rows: int = 0
    atypical: int = 0
    per_segment: dict[int, int] = field(default_factory=dict)
    flagged: int = 0

    def add(self, scored: Scored, flagged: int = 0) -> None:
        segment_ids = scored.assignments.segment_ids
        self.rows += len(segment_ids) + flagged
        self.flagged += flagged
        self.atypical += int(scored.atypical.sum())
        counts = np.bincount(segment_ids)
        for segment in np.flatnonzero(counts).tolist():
            self.per_segment[segment] = self.per_segment.get(segment, 0) + int(counts[segment])

    def summary(self) -> ScoringSummary:
        return ScoringSummary(
            self.rows, self.atypical, dict(self.per_segment), flagged=self.flagged
        )


class _InvalidRows(Exception):
    """A chunk with invalid rows, raised by the thread that checked it; the reading thread
    words the refusal, knowing then how much of the file was read."""

    def __init__(
        self, checked: CheckedTable, first_row: int, rows: int, ids: pa.ChunkedArray | None
    ) -> None:
        super().__init__("invalid rows")
        self.checked = checked
        self.first_row = first_row
        self.rows = rows
        self.ids = ids

    def customer(self, row: int) -> Any:
        return None if self.ids is None else self.ids[row - self.first_row].as_py()


@dataclass(frozen=True)
class _ScoredChunk:
    table: pa.Table
    scored: Scored
    prepared: Any  # as the writer's chunk_preparer made it
    flagged: int


def score_orders_file(
    assigner: Assigner,
    source: Path,
    target: Path,
    orders: OrdersRule,
    *,
    explain: bool = False,
    on_invalid: OnInvalid = "fail",
    on_rows: Callable[[int], None] | None = None,
) -> ScoringSummary:
    """Score the customers of a file of orders: one row per customer (``customer_id`` and the
    RFM features) with the assignment columns appended, all or nothing. A customer is named by
    their id: the rows are made from the orders, and have no line in the file."""
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
    if checked.problems and on_invalid == "fail":
        customers = frame[ID_COLUMN]
        raise ScoringError(
            refusal(
                f"{source} (customers from orders)",
                checked,
                lambda row: row_named(row, customer=customers.iloc[row - 1], ordered=False),
                rows_read=len(frame),
                whole=True,
                way_out=KEEP_INVALID_ROWS,
            )
        )
    scored = assigner.score(checked.rows)
    columns = assigner.output_columns(scored, explain, arrow_names=True)
    if on_invalid == "flag":
        columns = with_problems(columns, checked, first_row=1)
    table = scored_table(frame, columns)
    with atomic_target(target) as temporary, open_writer(temporary, table.schema) as writer:
        writer.write_table(table)
    tally = Tally()
    tally.add(scored, flagged=len(frame) - len(checked.rows))
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
    on_invalid: OnInvalid = "fail",
    on_rows: Callable[[int], None] | None = None,
) -> ScoringSummary:
    if not source.is_file():
        raise ScoringError(f"{source}: file not found")
    with atomic_target(target) as temporary:
        return _score(assigner, source, temporary, explain, on_invalid, on_rows)


def _score(
    assigner: Assigner,
    source: Path,
    target: Path,
    explain: bool,
    on_invalid: OnInvalid,
    on_rows: Callable[[int], None] | None,
) -> ScoringSummary:
    tally = Tally()
    with ExitStack() as stack:
        # Chunks are checked and scored in worker threads (Arrow's and numpy's kernels release
        # the GIL) while this thread reads the next ones and writes the finished ones, in order:
        # the first chunk in the file with a problem is the one reported.
        pool = stack.enter_context(ThreadPoolExecutor(SCORING_THREADS))
        stack.callback(pool.shutdown, cancel_futures=True)
        pending: deque[Future[_ScoredChunk]] = deque()
        writer: TableWriter | None = None
        schema: pa.Schema | None = None
        prepare = chunk_preparer(target)
        first_row = 1
        batches = _batches(source)
        while True:
            batch = next(batches, None)
            if batch is not None:
                pending.append(
                    pool.submit(
                        _score_chunk,
                        assigner,
                        source,
                        batch,
                        first_row,
                        explain,
                        on_invalid,
                        prepare,
                    )
                )
                first_row += batch.num_rows
            if not pending or (batch is not None and len(pending) <= SCORING_THREADS):
                if batch is None:
                    break
                continue
            try:
                chunk = pending.popleft().result()
            except _InvalidRows as invalid:
                # Every chunk before this one was valid; the file was read whole if no chunk
                # came after it.
                whole = batch is None and not pending
                raise ScoringError(_refusal_of_rows(source, invalid, whole=whole)) from None
            table, prepared = chunk.table, chunk.prepared
            if writer is None or schema is None:
                schema = table.schema
                writer = stack.enter_context(open_writer(target, schema))
            writer.write_prepared(prepared.cast(schema) if prepared is table else prepared)
            tally.add(chunk.scored, chunk.flagged)
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
    on_invalid: OnInvalid,
    prepare: Callable[[pa.Table], Any],
) -> _ScoredChunk:
    """One chunk checked and scored, as Arrow columns (no pandas copy, no Python object per
    cell), with the assignment columns appended, and prepared for the writer."""
    frame = pa.Table.from_batches([batch])
    try:
        checked = assigner.check_table(frame, first_row=first_row)
    except ColumnsError as exc:
        raise ScoringError(f"{source}: {exc}") from None
    if checked.problems and on_invalid == "fail":
        raise _InvalidRows(checked, first_row, frame.num_rows, _ids(assigner.schema, frame))
    scored = assigner.score(checked.rows)
    columns = assigner.output_columns(scored, explain, arrow_names=True)
    if on_invalid == "flag":
        columns = with_problems(columns, checked, first_row)
    table = scored_table(frame, columns)
    flagged = frame.num_rows - len(checked.rows)
    return _ScoredChunk(table, scored, prepare(table), flagged)


def _ids(schema: FeatureSchema, frame: pa.Table) -> pa.ChunkedArray | None:
    """The chunk's customer id column (by the schema's name or an alias), if it has one."""
    found, _ = schema.match_headers(frame.column_names)
    position = found.get(schema.id_column)
    return None if position is None else frame.column(position)


def with_problems(columns: dict[str, Any], checked: CheckedTable, first_row: int) -> dict[str, Any]:
    """The assignment columns of a chunk's valid rows spread over all its rows, null where a row
    is invalid, and ``problem``: each invalid row's problems (null for a valid row), in the
    words --engine spark writes them."""
    rows = len(checked.valid)
    if not checked.problems:
        return {**columns, PROBLEM_COLUMN: pa.nulls(rows, pa.string())}
    valid = checked.valid
    # Row i of the chunk is row position[i] of the valid rows scored, or null when invalid.
    position = pa.array(np.cumsum(valid) - 1, mask=~valid)
    spread = {
        name: (values if isinstance(values, pa.Array) else pa.array(values)).take(position)
        for name, values in columns.items()
    }
    texts: list[str | None] = [None] * rows
    for problem in checked.problems:
        index = problem.row - first_row
        text = problem_text(problem)
        texts[index] = text if texts[index] is None else f"{texts[index]}; {text}"
    spread[PROBLEM_COLUMN] = pa.array(texts, pa.string())
    return spread


def problem_text(problem: RowProblem) -> str:
    """One problem of a row, as a flagged row's ``problem`` column says it."""
    return f"column {problem.column!r}: {problem.message}"


def row_named(
    row: int, *, line: int | None = None, customer: Any = None, ordered: bool = True
) -> str:
    """A row as an error names it: by its number (data rows count from 1), its line in a CSV
    file (the header is line 1; a value over several lines counts each) and its customer id
    when it has one, so that a person finds it in the file and in the CRM alike. Rows that come
    in no fixed order (a database table's, customers made from orders) are named by their id
    alone; their position is no help."""
    # (A cell as read: None, NaN or pandas' NA when empty, else a scalar.)
    known = customer is not None and not pd.isna(customer) and str(customer).strip() != ""
    who = f"customer_id {quoted(id_text(customer))}" if known else None
    if not ordered:
        return who or f"row {row} as read (no customer_id)"
    where = f"row {row}" if line is None else f"row {row} (line {line})"
    return where if who is None else f"{where}, {who}"


def _refusal_of_rows(source: Path, invalid: _InvalidRows, *, whole: bool) -> str:
    checked = invalid.checked
    named = {p.row for p in checked.reported_problems}
    lines = _lines_of(source, named) if file_format(source) == "csv" else {}
    return refusal(
        str(source),
        checked,
        lambda row: row_named(row, line=lines.get(row), customer=invalid.customer(row)),
        rows_read=invalid.first_row + invalid.rows - 1,
        whole=whole,
        way_out=KEEP_INVALID_ROWS,
    )


def _lines_of(source: Path, rows: set[int]) -> dict[int, int]:
    """The line each of ``rows`` starts on in a CSV file, read again, streaming, up to the last
    of them: only for a refusal, so a file that scores is read once. A row whose line cannot be
    found (a value longer than the csv module reads) is left out, and named by its number."""
    found: dict[int, int] = {}
    last = max(rows, default=0)
    with source.open("rb") as raw:
        numbered = records(utf8_lines(raw), spaces_are_blank=False)
        try:
            next(numbered, None)  # the header
            for row, (line, _) in enumerate(numbered, start=1):
                if row in rows:
                    found[row] = line
                if row >= last:
                    break
        except (MalformedCsv, TooLong):
            pass
    return found


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
    source: str,
    checked: CheckedTable,
    who: Callable[[int], str] = lambda row: f"row {row}",
    *,
    rows_read: int | None = None,
    whole: bool = False,
    way_out: str = "",
) -> str:
    """Why a table is refused: its first problem, how many invalid rows in how many read (the
    run stops at the first part with one: ``rows_read``, the rows up to its end, and ``whole``
    when that was all of them), then every other problem up to the cap; ``who`` names a row
    (:func:`row_named`); ``way_out``, if any, how to score the rest anyway."""
    first = checked.problems[0]
    if rows_read is None:
        read = "in the rows read before the run stopped"
    elif whole:
        read = f"in {counted(rows_read, 'row')}"
    else:
        read = f"in the first {counted(rows_read, 'row')}, where the run stopped"
    after = "; ".join(filter(None, ("nothing was written", way_out)))
    lines = [
        f"{source}: {who(first.row)}, column {first.column!r}: {first.message} "
        f"({counted(checked.bad_rows, 'invalid row')} {read}; {after})"
    ]
    lines += [f"  {who(p.row)}, {p.column}: {p.message}" for p in checked.reported_problems[1:]]
    if checked.unreported_problems:
        lines.append(f"  ... and {checked.unreported_problems} more problems")
    return "\n".join(lines)
