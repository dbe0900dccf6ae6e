"""CSV bodies of POST /segment, parsed by pyarrow; every cell is kept as the text that was sent.

pyarrow reads every column as text; a body it cannot read as pandas would (blank or repeated
headers, ragged rows, bad quoting) is read by pandas, which words the error. Either way the table
is then only matched to the schema's columns (:func:`batches.table_columns`, shared with Arrow
bodies) and checked by the one check of ``segmentation.validation`` (Arrow kernels when every
cell is plainly valid), so a bad row gets a row-numbered 4xx (``row 3.age: value 150 is outside
the valid range 0 to 120``).
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from segmentation.schema import FeatureSchema
from service.http.batches import Decoded, check_size, table_columns
from service.http.errors import MalformedRequest

_PARSE = pa_csv.ParseOptions(newlines_in_values=True)
_READ = pa_csv.ReadOptions(use_threads=False, block_size=1 << 26)


def decode_csv(body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
    if not body.strip():
        raise MalformedRequest("the request body is empty: send a header line and customer rows")
    table = _read_text(body)
    if table is None:
        table = _read_with_pandas(body)
    check_size(table.num_rows, max_batch)
    return table_columns(table, schema, layout="csv")


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


def _read_with_pandas(body: bytes) -> pa.Table:
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise MalformedRequest("the CSV body has no header line") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise MalformedRequest(f"malformed CSV: {detail}") from None
    if frame.empty:
        raise MalformedRequest("the CSV body has a header but no customer rows")
    return pa.Table.from_pandas(frame, preserve_index=False)
