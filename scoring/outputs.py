"""The files ``segment-score`` writes, in the format their suffix names.

A suffix this module does not know is refused, listing the ones it does, rather than written as
CSV under a name that says otherwise (``--output scored.json`` used to be CSV). Each writer takes
the scored Arrow tables chunk by chunk, so memory stays bounded by the chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmentation.tables import PARQUET_SUFFIXES, CsvWriter, shortest_text

# Suffix (lower case) -> format; the first suffix of each format is the one named in messages.
OUTPUT_FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    **dict.fromkeys(PARQUET_SUFFIXES, "parquet"),
}
# JSON text is made from Arrow columns in Arrow's kernels: large strings, so that a chunk of long
# texts cannot overflow a string array's 32-bit offsets.
_TEXT = pa.large_string()
# Text that a JSON string must escape.
_ESCAPED = r'[\\"\x00-\x1f]'


class OutputFormatError(ValueError):
    """The output file's name does not say a format we write."""


class TableWriter(Protocol):
    """Writes scored chunks in order: each one as a table, or as :func:`chunk_preparer` of its
    format made it (in a scoring thread, so the costly formatting runs in parallel)."""

    def write_prepared(self, prepared: Any) -> None: ...

    def write_table(self, table: pa.Table) -> None: ...

    def __enter__(self) -> TableWriter: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def supported_suffixes() -> str:
    return ", ".join(OUTPUT_FORMATS)


def output_format(path: str | Path) -> str:
    """``csv``, ``jsonl``, ``json`` or ``parquet``, from the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        said = f"suffix {suffix!r}" if suffix else "no suffix"
        raise OutputFormatError(
            f"{path}: {said} names no output format; write {supported_suffixes()} "
            "(CSV, JSON lines, a JSON array, Parquet)"
        )
    return OUTPUT_FORMATS[suffix]


def open_writer(path: Path, schema: pa.Schema) -> TableWriter:
    """A writer for ``path`` in the format its suffix names; a context manager."""
    kind = output_format(path)
    if kind == "parquet":
        return ParquetTableWriter(path, schema)
    if kind == "csv":
        return CsvWriter(str(path), schema)
    return JsonWriter(path, lines=kind == "jsonl")


def chunk_preparer(path: Path) -> Callable[[pa.Table], Any]:
    """What formats a chunk for ``path``'s writer, in any thread: its CSV lines for a CSV file
    (Arrow's CSV formatting was half of scoring 10 million rows on one thread), its JSON
    objects for a JSON file; the table itself for Parquet, which formats as it writes."""
    kind = output_format(path)
    if kind == "csv":
        return CsvWriter.prepare
    if kind in ("json", "jsonl"):
        return partial(json_rows, lines=kind == "jsonl")
    return _unchanged


def _unchanged(table: pa.Table) -> pa.Table:
    return table


class ParquetTableWriter(pq.ParquetWriter):  # type: ignore[misc]
    def write_prepared(self, table: pa.Table) -> None:
        self.write_table(table)


class JsonWriter:
    """One JSON object per row: a line each (JSON lines), or the elements of one array."""

    def __init__(self, path: Path, *, lines: bool) -> None:
        self._lines = lines
        self._started = False
        self._file: BinaryIO = path.open("wb")
        if not lines:
            self._file.write(b"[")

    def write_prepared(self, rows: bytes) -> None:
        """``rows`` as :func:`json_rows` made them."""
        if not rows:
            return
        # An array's elements each come after ",\n"; the first one after "[\n".
        self._file.write(rows if self._lines or self._started else rows[1:])
        self._started = True

    def write_table(self, table: pa.Table) -> None:
        self.write_prepared(json_rows(table, lines=self._lines))

    def close(self) -> None:
        if not self._lines:
            self._file.write(b"\n]\n" if self._started else b"]\n")
        self._file.close()

    def __enter__(self) -> JsonWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def json_rows(table: pa.Table, *, lines: bool) -> bytes:
    """Each row of ``table`` as one JSON object: followed by a line end (JSON lines), or after
    ",\n" (the elements of an array). Made column by column in Arrow's kernels, which release the
    GIL, so chunks are formatted in the scoring threads. A double is written in its shortest
    form that reads back as the same double, as the CSV file and the service write it (pandas
    wrote at most 15 significant digits: 1.247132142398249 for 1.2471321423982489)."""
    if table.num_rows == 0:
        return b""
    pairs = [
        pc.binary_join_element_wise(
            _literal(orjson.dumps(field.name).decode() + ":"),
            _json_values(table.column(position)),
            _literal(""),
        )
        for position, field in enumerate(table.schema)
    ]
    objects = pc.binary_join_element_wise(*pairs, _literal(","))
    before, after = ("{", "}\n") if lines else (",\n{", "}")
    rows = pc.binary_join_element_wise(_literal(before), objects, _literal(after), _literal(""))
    return b"".join(_text_bytes(chunk) for chunk in rows.chunks)


def _json_values(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each value as JSON text; a null as ``null``, and so are NaN and the infinities, which JSON
    has no number for."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        text = _json_strings(column.cast(_TEXT))
    elif pa.types.is_floating(kind):
        kind = pa.float64() if kind == pa.float64() else pa.float32()  # orjson: no float16
        numbers = column.cast(kind).to_numpy()  # a null as NaN
        text = pa.chunked_array([shortest_text(numbers).cast(_TEXT)])
    elif pa.types.is_integer(kind) or pa.types.is_null(kind):
        text = column.cast(_TEXT)
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, _literal("true"), _literal("false"))
    else:  # dates, times, decimals, lists...: rare in a customer file, written value by value
        text = _one_by_one(column)
    return pc.fill_null(text, _literal("null"))


def _json_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Texts as JSON strings: escaped in Arrow's kernels; by orjson when they hold a control
    character other than a line end or a tab."""
    text = column
    if pc.any(pc.match_substring_regex(column, _ESCAPED)).as_py():
        escapes = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
        for character, escaped in escapes:
            text = pc.replace_substring(text, character, escaped)
        if pc.any(pc.match_substring_regex(text, "[\\x00-\\x1f]")).as_py():
            return _one_by_one(column)
    return pc.binary_join_element_wise(_literal('"'), text, _literal('"'), _literal(""))


def _one_by_one(column: pa.ChunkedArray) -> pa.ChunkedArray:
    values = [orjson.dumps(v, default=_json_default).decode() for v in column.to_pylist()]
    return pa.chunked_array([pa.array(values, _TEXT)])


def _json_default(value: object) -> object:
    """What orjson does not write itself: a decimal as its digits, bytes as text."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _literal(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _text_bytes(chunk: pa.LargeStringArray) -> bytes:
    """The characters of a large string array without nulls, end to end."""
    offsets = np.frombuffer(chunk.buffers()[1], np.int64)
    start, end = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
    data = chunk.buffers()[2]
    return b"" if data is None else data[int(start) : int(end)].to_pybytes()
