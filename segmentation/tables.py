"""Scored tables: the rows as they came, with the assignment columns appended, as CSV or Parquet.

The CSV answer of ``POST /segment`` and the offline scoring command write through these
functions, so both produce the same columns, in the same order, with the same formatting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

PARQUET_SUFFIXES = (".parquet", ".pq")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
CSV_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=True, quoting_style="needed")


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


def csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, CSV_WRITE_OPTIONS)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def open_csv_writer(sink: BinaryIO | str, schema: pa.Schema) -> pa_csv.CSVWriter:
    return pa_csv.CSVWriter(sink, schema, write_options=CSV_WRITE_OPTIONS)
