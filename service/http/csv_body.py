"""CSV bodies of POST /segment, parsed by pyarrow; every cell is kept as the text that was sent.

The fast path reads every column as text with pyarrow, then converts only the model's feature
columns (trimmed, cast to float64, range-checked) with Arrow compute kernels. A body that fails
any of those checks (or that pyarrow cannot read as pandas would) goes through the pandas path
that came before it, so a bad CSV gets the same row-numbered 4xx as ever
(``row 3.age: value 150 is outside the valid range 0 to 120``). Both check against the bundle's
feature schema, through the one check in ``segmentation.validation``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from segmentation.assigner import Assigner, MissingColumnsError
from segmentation.schema import FeatureSchema
from segmentation.validation import arrow_model_input
from service.http.batches import Batch, Layout
from service.http.errors import BatchTooLarge, FieldProblem, InvalidRequest, MalformedRequest

_PARSE = pa_csv.ParseOptions(newlines_in_values=True)
_READ = pa_csv.ReadOptions(use_threads=False, block_size=1 << 26)


def decode_csv(body: bytes, assigner: Assigner, max_batch: int) -> Batch:
    if not body.strip():
        raise MalformedRequest("the request body is empty: send a header line and customer rows")
    table = _read_text(body)
    if table is None:
        return _pandas_batch(body, assigner, max_batch)
    check_size(table.num_rows, max_batch)
    schema = assigner.schema
    names = by_schema_name(table.column_names, schema)
    rows = arrow_model_input({name: table[raw] for name, raw in names.items()}, schema)
    if rows is None:
        return checked_frame_batch(table.to_pandas(), assigner, layout="csv")
    ids = table[names[schema.id_column]].to_pylist() if schema.id_column in names else None
    return Batch(rows=rows, customer_ids=ids, layout="csv", echo=lambda: table)


def by_schema_name(headers: Sequence[str], schema: FeatureSchema) -> dict[str, str]:
    """The schema's name -> the header that carries it (headers trimmed; aliases accepted); a
    field under two headers (its name and an alias) is refused, as in the JSON layouts."""
    name_of = schema.name_of()
    found: dict[str, str] = {}
    for header in map(str, headers):
        name = name_of.get(header.strip(), header.strip())
        if name in found and header.strip() in name_of:
            message = f"columns {found[name]!r} and {header!r} both give {name!r}; send one"
            raise InvalidRequest(message, [FieldProblem(field="columns", message=message)])
        found[name] = header
    return found


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
    names = by_schema_name(list(map(str, frame.columns)), assigner.schema)
    id_column = assigner.schema.id_column
    ids = frame[names[id_column]].tolist() if id_column in names else None
    return Batch(
        rows=checked.rows,
        customer_ids=ids,
        layout=layout,
        echo=lambda: pa.Table.from_pandas(frame, preserve_index=False),
    )
