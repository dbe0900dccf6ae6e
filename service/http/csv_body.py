"""CSV bodies of POST /segment, parsed by pyarrow; every cell is kept as the text that was sent.

pyarrow reads every column as text; a body it does not take as written (blank or repeated
headers, ragged rows, bad quoting, bad UTF-8) is read again by Python's csv module, which keeps
the headers as written and refuses a record with more or fewer fields than the header, naming
its line (in ``segmentation.csv_lines``' words, which segment-score shares): a decimal comma or a
stray delimiter must not shift a customer's values into the next column. Either way the table
is then only matched to the schema's columns (:func:`batches.table_columns`, shared with Arrow
bodies) and checked by the one check of ``segmentation.validation`` (Arrow kernels when every
cell is plainly valid), so a bad row gets a row-numbered 4xx (``row 3.age: value 150 is outside
the valid range 0 to 120``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from functools import cached_property

import pyarrow as pa
import pyarrow.csv as pa_csv

from segmentation.csv_lines import (
    DECLARE_CHARSET,
    MalformedCsv,
    NotUtf8,
    may_end_inside_a_quote,
    never_closed,
    quote_never_closed,
    records,
    well_formed,
)
from segmentation.excerpts import cut
from segmentation.schema import FeatureSchema
from segmentation.validation import RowProblem
from service.http.batches import Decoded, check_size, row_field, table_columns
from service.http.errors import FieldProblem, MalformedRequest

_PARSE = pa_csv.ParseOptions(newlines_in_values=True)
_READ = pa_csv.ReadOptions(use_threads=False, block_size=1 << 26)


def decode_csv(
    body: bytes, schema: FeatureSchema, max_batch: int, *, file_locations: bool = False
) -> Decoded:
    """``file_locations``: name a bad cell by its line and header as written (POST /segment's
    CSV, a marketer's file); MLflow's callers get the protocol's own row-numbered fields."""
    if not body.strip():
        raise MalformedRequest("the request body is empty: send a header line and customer rows")
    table = _read_text(body)
    if table is None:
        records = _read_records(body)
        table = records.rename_columns(_echo_names(records.column_names, schema))
    check_size(table.num_rows, max_batch)
    decoded = table_columns(table, schema, layout="csv")
    if not file_locations:
        return decoded
    return replace(decoded, locate=FileLocator(body, schema, table.column_names))


class FileLocator:
    """A bad cell where the file's author sees it: the physical line (the header is line 1; a
    quoted value spanning lines counts each) and the column header as the file writes it.

    Worked out on the first problem only, so a valid file never pays for it.
    """

    def __init__(self, body: bytes, schema: FeatureSchema, read_headers: list[str]) -> None:
        self.body = body
        self.schema = schema
        self.read_headers = read_headers

    def __call__(self, problem: RowProblem) -> FieldProblem:
        try:
            line = self._record_lines[problem.row + 1]
        except MalformedCsv:
            # A cell over the csv module's 128 KiB limit, which pyarrow read: named by row.
            return FieldProblem(field=row_field(problem), message=problem.message)
        column = self._headers.get(problem.column, problem.column)
        return FieldProblem(
            field=row_field(problem),
            message=f'line {line}, column "{cut(column)}": {problem.message}',
            line=line,
            column=column,  # (cut by FieldProblem itself, once)
        )

    @cached_property
    def _record_lines(self) -> list[int]:
        """The line each record starts on, blank lines skipped as both parsers skip them."""
        text = self.body.decode("utf-8-sig", errors="replace")
        return [line for line, _ in records(io.StringIO(text, newline=""))]

    @cached_property
    def _headers(self) -> dict[str, str]:
        """Each schema column's header as written."""
        text = self.body.decode("utf-8-sig", errors="replace")
        written = next(csv.reader(io.StringIO(text, newline="")), [])
        found, _ = self.schema.match_headers([str(name) for name in self.read_headers])
        return {
            name: written[at] if at < len(written) else self.read_headers[at]
            for name, at in found.items()
        }


def _read_text(body: bytes) -> pa.Table | None:
    """Every column as text, "" for an empty cell; None when ``_read_records`` must read it."""
    try:
        first_line = body[: body.find(b"\n") + 1 or None].decode("utf-8-sig")
        header = next(csv.reader(io.StringIO(first_line)))
    except (StopIteration, UnicodeDecodeError, csv.Error):
        return None
    if not header or len(set(header)) != len(header) or "" in header:
        return None  # pyarrow names blank and repeated headers ("", "a_1"): read as written
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
        return None  # ragged rows, bad quoting, bad UTF-8: _read_records words the error
    if table.column_names != header or table.num_rows == 0:
        return None
    if may_end_inside_a_quote(str(table.column(table.num_columns - 1)[-1]), body[-8:]):
        return None  # maybe a quote left open to the end: _read_records checks and names it
    return table


def _echo_names(headers: list[str], schema: FeatureSchema) -> list[str]:
    """Headers as the answer echoes them: a blank or repeated one the schema does not know named
    as pandas names it ("Unnamed: 0", "note.1"), so that no column of the file is lost; one the
    schema knows stays as written, so that a feature sent twice is refused by the one rule
    (``FeatureSchema.match_headers``) and not read from either copy."""
    known = schema.name_of()
    taken = {header for header in headers if header.strip() in known}
    names = []
    for position, header in enumerate(headers):
        if header.strip() in known:
            names.append(header)
            continue
        base = header or f"Unnamed: {position}"
        name, copy = base, 0
        while name in taken:
            copy += 1
            name = f"{base}.{copy}"
        taken.add(name)
        names.append(name)
    return names


def _read_records(body: bytes) -> pa.Table:
    """The body read record by record, every header as written; a ragged record or bytes that
    are not UTF-8 refused with the line (and byte) that is wrong, in ``segmentation.csv_lines``'
    words, which segment-score shares."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = NotUtf8.at(exc, offset=len(body) - len(exc.object))
        raise MalformedRequest(f"malformed CSV: {problem}; {DECLARE_CHARSET}") from None
    try:
        numbered = list(well_formed(records(io.StringIO(text, newline=""))))
    except MalformedCsv as exc:
        raise MalformedRequest(f"malformed CSV: {exc}") from None
    if not numbered:
        raise MalformedRequest("the CSV body has no header line")
    (_, header), rows = numbered[0], numbered[1:]
    if not rows:
        raise MalformedRequest("the CSV body has a header but no customer rows")
    if may_end_inside_a_quote(rows[-1][1][-1], body[-8:]):
        opened = quote_never_closed(io.StringIO(text, newline=""))
        if opened is not None:
            raise MalformedRequest(f"malformed CSV: {never_closed(opened)}")
    columns = [
        pa.array(list(values), pa.string()) for values in zip(*(r for _, r in rows), strict=True)
    ]
    return pa.Table.from_arrays(columns, names=header)
