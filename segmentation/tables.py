"""Scored tables: the rows as they came, with the assignment columns appended, as CSV or Parquet.

The CSV answer of ``POST /segment`` and the offline scoring command write through these
functions, so both produce the same columns, in the same order, with the same formatting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

PARQUET_SUFFIXES = (".parquet", ".pq")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
CSV_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
_CSV_LINES = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
_COMMA = ord(",")
_BOOLEANS = pa.array(["false", "true"])


def is_database_url(location: str) -> bool:
    """``sqlite:///crm.db``, ``postgresql+psycopg://...``: a SQLAlchemy URL, not a file path."""
    return _URL.match(location) is not None


def is_parquet(path: str | Path) -> bool:
    """A file is read and written as Parquet by its suffix, as CSV otherwise."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def scored_table(rows: pd.DataFrame | pa.Table, columns: Mapping[str, Any]) -> pa.Table:
    """``rows`` untouched, then ``columns``; a column of ``rows`` with the same name as an
    appended one (a file scored before) is replaced rather than repeated."""
    if isinstance(rows, pa.Table):
        table = rows.drop_columns([c for c in columns if c in rows.column_names])
    else:
        kept = rows.drop(columns=[c for c in columns if c in rows.columns])
        table = pa.Table.from_pandas(kept, preserve_index=False)
    for name, values in columns.items():
        table = table.append_column(
            name, values if isinstance(values, pa.Array) else pa.array(values)
        )
    return table


def csv_bytes(table: pa.Table, *, header: bool = True) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(as_text(table), sink, CSV_WRITE_OPTIONS if header else _CSV_LINES)
    data: bytes = sink.getvalue().to_pybytes()
    return data


class CsvWriter:
    """A CSV file written chunk by chunk under one header; a context manager.

    :meth:`prepare` turns a chunk into its CSV lines and may run in any thread (Arrow writes
    them without the GIL), so chunks are formatted in parallel and only written here in order.
    """

    def __init__(self, sink: BinaryIO | str, schema: pa.Schema) -> None:
        self._file: BinaryIO = open(sink, "wb") if isinstance(sink, str) else sink  # noqa: SIM115
        self._owned = isinstance(sink, str)
        self._file.write(csv_bytes(schema.empty_table()))

    @staticmethod
    def prepare(table: pa.Table) -> bytes:
        return csv_bytes(table, header=False)

    def write_prepared(self, lines: bytes) -> None:
        self._file.write(lines)

    def write_table(self, table: pa.Table) -> None:
        self.write_prepared(self.prepare(table))

    def close(self) -> None:
        if self._owned:
            self._file.close()

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_text(table: pa.Table) -> pa.Table:
    """Doubles, integers and booleans as the text a CSV file shows, made faster than Arrow's
    CSV writer makes it: doubles in their shortest round-trip form by orjson (in C, twice the
    speed of Arrow's formatting, which was half of a 10,000-row CSV answer), integers by Arrow's
    cast, booleans by lookup. Nulls stay empty cells; NaN and infinities are Arrow's words."""
    for position, field in enumerate(table.schema):
        if _is_written_as_text(field.type):
            column = table.column(position)
            table = table.set_column(position, field.with_type(pa.string()), _text(column))
    return table


def _is_written_as_text(kind: pa.DataType) -> bool:
    return bool(kind == pa.float64() or pa.types.is_integer(kind) or pa.types.is_boolean(kind))


def _text(column: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.string())
    if pa.types.is_boolean(column.type):
        return _BOOLEANS.take(pc.cast(column, pa.int8()))
    values = column.to_numpy()
    text = shortest_text(values)
    unusual = ~np.isfinite(values)
    if unusual.any():  # orjson writes null for these: Arrow's words ("nan", "inf"), or null
        text = pc.if_else(pa.array(unusual), pc.cast(column, pa.string()), text)
    return text


def shortest_text(values: np.ndarray[Any, np.dtype[np.float64]]) -> pa.Array:
    """Finite doubles as strings that read back as the same doubles ("2.5", "1.0", "1e-7"):
    one JSON array written by orjson, cut at its commas into an Arrow string array."""
    if len(values) == 0:
        return pa.array([], pa.string())
    array = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    commas = np.flatnonzero(np.frombuffer(array, np.uint8) == _COMMA)
    offsets = np.empty(len(values) + 1, np.int32)
    offsets[0] = 0
    offsets[1:-1] = commas - np.arange(len(commas))
    offsets[-1] = len(array) - len(commas)
    digits = array.replace(b",", b"")
    if len(digits) > np.iinfo(np.int32).max:  # beyond a string array's offsets
        return pc.cast(pa.array(values), pa.string())
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(digits))
