"""CSV bodies of POST /segment, parsed by pyarrow; every cell is kept as the text that was sent.

The fast path reads every column as text with pyarrow, then converts only the model's feature
columns (trimmed, cast to float64, range-checked) with Arrow compute kernels. A body that fails
any of those checks (or that pyarrow cannot read as pandas would) goes through the pandas path
that came before it, so a bad CSV gets the same row-numbered 4xx as ever
(``row 3.age: value 150 is outside the valid range 0 to 120``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from segmentation.assigner import Assigner, MissingColumnsError
from segmentation.features import (
    CLASSIC_TO_SNAKE,
    CUSTOMER_ID,
    GENDER,
    GENDER_ENCODING,
    GENDER_VALUES,
    NUMERIC_FEATURES,
)
from segmentation.validation import plain_numbers
from service.http.batches import Batch, Layout
from service.http.errors import BatchTooLarge, FieldProblem, InvalidRequest, MalformedRequest

_PARSE = pa_csv.ParseOptions(newlines_in_values=True)
_READ = pa_csv.ReadOptions(use_threads=False, block_size=1 << 26)
_GENDERS = pa.array(GENDER_VALUES)
_GENDER_CODES = pa.array([GENDER_ENCODING[g] for g in GENDER_VALUES])


def decode_csv(body: bytes, assigner: Assigner, max_batch: int) -> Batch:
    if not body.strip():
        raise MalformedRequest("the request body is empty: send a header line and customer rows")
    table = _read_text(body)
    if table is None:
        return _pandas_batch(body, assigner, max_batch)
    check_size(table.num_rows, max_batch)
    rows = _feature_rows(table, assigner.features)
    if rows is None:
        return checked_frame_batch(table.to_pandas(), assigner, layout="csv")
    return _batch(table, rows)


def _read_text(body: bytes) -> pa.Table | None:
    """Every column as text, "" for an empty cell; None when pandas must read it."""
    try:
        header = next(csv.reader(io.StringIO(body[: body.find(b"\n") + 1 or None].decode())))
    except (StopIteration, UnicodeDecodeError, csv.Error):
        return None
    if not header or len(set(header)) != len(header) or "" in header:
        return None  # pandas names blank and repeated headers ("Unnamed: 0", "a.1")
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body), read_options=_READ, parse_options=_PARSE, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # ragged rows, bad quoting, bad UTF-8: pandas words the error
    if table.column_names != header or table.num_rows == 0:
        return None
    return table


def _feature_rows(table: pa.Table, features: Sequence[str]) -> np.ndarray | None:
    """The model's input when every needed cell is valid; None otherwise."""
    snake = {CLASSIC_TO_SNAKE.get(name.strip(), name.strip()): name for name in table.column_names}
    if any(name not in snake for name in features):
        return None
    matrix = np.empty((table.num_rows, len(features)), dtype=np.float64)
    for position, name in enumerate(features):
        if name == GENDER:
            codes = gender_codes(pc.utf8_trim_whitespace(table[snake[name]]))
            if codes is None:
                return None
            matrix[:, position] = codes
            continue
        numbers = plain_numbers(table[snake[name]])
        if numbers is None:
            return None  # a blank or a word: the pandas path names the row
        feature = NUMERIC_FEATURES[name]
        if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
            return None
        matrix[:, position] = numbers
    optional_gender = GENDER not in features and GENDER in snake
    if optional_gender and not optional_genders_valid(table[snake[GENDER]]):
        return None
    return matrix


def gender_codes(text: pa.ChunkedArray) -> np.ndarray | None:
    """1.0 for Female, 0.0 for Male (any letter case, trimmed); None if any is neither."""
    position = pc.index_in(pc.utf8_capitalize(text), value_set=_GENDERS)
    if position.null_count:
        return None
    return np.asarray(pc.take(_GENDER_CODES, position).to_numpy(), dtype=np.float64)


def optional_genders_valid(column: pa.ChunkedArray) -> bool:
    """A gender column the model does not use: blank (or null) or a known gender."""
    text = pc.fill_null(pc.utf8_trim_whitespace(column), "")
    known = pc.is_in(pc.utf8_capitalize(text), value_set=_GENDERS)
    return bool(pc.all(pc.or_(known, pc.equal(text, ""))).as_py())


def _batch(table: pa.Table, rows: np.ndarray) -> Batch:
    snake = {CLASSIC_TO_SNAKE.get(n.strip(), n.strip()): n for n in table.column_names}
    ids = table[snake[CUSTOMER_ID]].to_pylist() if CUSTOMER_ID in snake else None
    return Batch(rows=rows, customer_ids=ids, layout="csv", echo=lambda: table)


def check_size(rows: int, max_batch: int) -> None:
    if rows > max_batch:
        raise BatchTooLarge(
            f"rows: a batch of {rows} customers is over the limit of {max_batch} "
            "customers per request; split it into smaller batches"
        )


# ---------------------------------------------------------------------------------------------
# the pandas path: bodies pyarrow does not read as pandas would, and every refusal


def _pandas_batch(body: bytes, assigner: Assigner, max_batch: int) -> Batch:
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise MalformedRequest("the CSV body has no header line") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise MalformedRequest(f"malformed CSV: {detail}") from None
    if frame.empty:
        raise MalformedRequest("the CSV body has a header but no customer rows")
    check_size(len(frame), max_batch)
    return checked_frame_batch(frame, assigner, layout="csv")


def checked_frame_batch(frame: pd.DataFrame, assigner: Assigner, *, layout: Layout) -> Batch:
    """Validate a table of customers; every bad row (up to a cap) is named in one error."""
    try:
        checked = assigner.check_table(frame)
    except MissingColumnsError as exc:
        problem = FieldProblem(field="columns", message=str(exc))
        raise InvalidRequest(str(exc), [problem]) from None
    if checked.problems:
        listed = checked.reported_problems
        details = [FieldProblem(field=f"row {p.row}.{p.column}", message=p.message) for p in listed]
        more = (
            f"; only the first {len(listed)} problems are listed"
            if checked.unreported_problems
            else ""
        )
        raise InvalidRequest(
            f"{checked.bad_rows} of {len(frame)} rows are invalid; "
            f"first: {checked.describe_first()}{more}",
            details,
        )
    snake = {CLASSIC_TO_SNAKE.get(str(n).strip(), str(n).strip()): n for n in frame.columns}
    ids = frame[snake[CUSTOMER_ID]].tolist() if CUSTOMER_ID in snake else None
    return Batch(
        rows=checked.rows,
        customer_ids=ids,
        layout=layout,
        echo=lambda: pa.Table.from_pandas(frame, preserve_index=False),
    )
