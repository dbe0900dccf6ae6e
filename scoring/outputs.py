"""The files ``segment-score`` writes, in the format their suffix names.

A suffix this module does not know is refused, listing the ones it does, rather than written as
CSV under a name that says otherwise (``--output scored.json`` used to be CSV). Each writer takes
the scored Arrow tables chunk by chunk, so memory stays bounded by the chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from segmentation.tables import PARQUET_SUFFIXES, CsvWriter

# Suffix (lower case) -> format; the first suffix of each format is the one named in messages.
OUTPUT_FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    **dict.fromkeys(PARQUET_SUFFIXES, "parquet"),
}
# Doubles as JSON text: enough digits to read back the same distance.
JSON_DIGITS = 15


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
    (Arrow's CSV formatting was half of scoring 10 million rows on one thread); the table itself
    for the others, which format as they write."""
    return CsvWriter.prepare if output_format(path) == "csv" else _unchanged


def _unchanged(table: pa.Table) -> pa.Table:
    return table


class ParquetTableWriter(pq.ParquetWriter):  # type: ignore[misc]
    def write_prepared(self, table: pa.Table) -> None:
        self.write_table(table)


class JsonWriter:
    """One JSON object per row: a line each (JSON lines), or the elements of one array."""

    def __init__(self, path: Path, *, lines: bool) -> None:
        self._lines = lines
        self._rows = 0
        self._file: BinaryIO = path.open("wb")
        if not lines:
            self._file.write(b"[")

    def write_prepared(self, table: pa.Table) -> None:
        self.write_table(table)

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        text = table.to_pandas().to_json(
            orient="records",
            lines=True,
            date_format="iso",
            double_precision=JSON_DIGITS,
            force_ascii=False,
        )
        records = text.rstrip("\n")
        if self._lines:
            self._file.write(f"{records}\n".encode())
        else:
            # Newlines inside a JSON string are escaped, so each line is one record.
            separator = ",\n" if self._rows else "\n"
            self._file.write(f"{separator}{records.replace(chr(10), ',' + chr(10))}".encode())
        self._rows += table.num_rows

    def close(self) -> None:
        if not self._lines:
            self._file.write(b"\n]\n" if self._rows else b"]\n")
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
