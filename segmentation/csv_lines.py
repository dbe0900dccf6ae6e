"""Malformed CSV named by its physical line, in the one wording POST /segment and segment-score
share.

pyarrow reads CSV fast and says little when it cannot (``Expected 7 columns, got 6``, or a byte
position in its own buffer). Then the text is read again here, record by record by Python's csv
module, to name what is wrong where the file's author finds it: a record with more or fewer
fields than the header, a quote never closed, a byte that is not UTF-8. Lines are counted as an
editor counts them (the header is line 1, a quoted value over several lines counts each), and a
record is named by the line it starts on. Standard library only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"
# How to get past a byte that is not UTF-8: a request body may declare its charset...
DECLARE_CHARSET = (
    "send UTF-8, or declare the file's charset (Content-Type: text/csv; charset=windows-1252, "
    "for example)"
)
# ... a file is saved again.
SAVE_AS_UTF8 = (
    "save it as UTF-8 (in Excel, 'CSV UTF-8'; elsewhere, convert it with iconv -f WINDOWS-1252 "
    "-t UTF-8 or the encoding it was written in)"
)
_READ_BYTES = 1 << 18


class MalformedCsv(ValueError):
    """What is wrong with a CSV text, in words that start with its line (no "malformed CSV")."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class NotUtf8(MalformedCsv):
    """A byte that is not UTF-8, by its line and its offset from the start (0 for the first
    byte); the caller adds the way out (:data:`DECLARE_CHARSET`, :data:`SAVE_AS_UTF8`)."""

    def __init__(self, line: int, offset: int) -> None:
        super().__init__(f"line {line}: byte {offset} is not UTF-8", line)
        self.offset = offset

    @classmethod
    def at(cls, exc: UnicodeDecodeError, *, offset: int = 0, line: int = 1) -> NotUtf8:
        """Where ``exc`` is, for bytes that start at ``offset`` on ``line`` of the text."""
        before = exc.object[: exc.start].decode("utf-8")  # the bytes before the first bad one
        return cls(line + line_ends(before), offset + exc.start)


class TooLong(Exception):
    """A line too long to look into: the text is left unnamed rather than read into memory."""


def ragged(line: int, record: list[str], header: int) -> str:
    """A record of ``len(record)`` fields under a header of ``header``."""
    if len(record) == 1 and not record[0].strip():
        return f"line {line} holds only spaces: delete it, or leave it empty"
    fields = f"{len(record)} field{'' if len(record) == 1 else 's'}"
    return (
        f"line {line} has {fields} and the header has {header} (a comma inside a value must be "
        "quoted)"
    )


def never_closed(line: int) -> str:
    return f"the quote opened on line {line} is never closed"


def line_ends(text: str) -> int:
    """The line ends in ``text``: ``\\n``, ``\\r\\n`` or a lone ``\\r``, as csv and pyarrow
    end lines."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def records(
    lines: Iterable[str], *, spaces_are_blank: bool = True
) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record with the physical line it starts on (the header is line 1), from
    ``lines`` as a text file opened with ``newline=""`` gives them. A line of spaces alone is
    blank too where the header has several columns, as pandas skipped it (the service reads it
    so), unless ``spaces_are_blank`` is false (pyarrow, which segment-score reads with, does
    not skip it). A value over the csv module's limit (128 KiB) is :class:`MalformedCsv`."""
    reader = csv.reader(lines)
    previous_end, width = 0, 0
    while True:
        try:
            record = next(reader, None)
        except csv.Error as exc:
            start = previous_end + 1
            if "field larger than field limit" in str(exc):
                raise MalformedCsv(
                    f"line {start} starts a value longer than {csv.field_size_limit():,} "
                    "characters: is a quote opened there never closed?",
                    start,
                ) from None
            raise MalformedCsv(f"line {start}: {exc}", start) from None
        if record is None:
            return
        spaces = spaces_are_blank and len(record) == 1 and not record[0].strip()
        if record and not (width > 1 and spaces):
            width = width or len(record)
            yield previous_end + 1, record
        previous_end = reader.line_num


def well_formed(
    numbered: Iterable[tuple[int, list[str]]],
) -> Iterator[tuple[int, list[str]]]:
    """``numbered`` (from :func:`records`), the header first, each record as wide as the header;
    :class:`MalformedCsv` at the first that is not. A short last record with a line end inside
    a value is a quote never closed: the value ran to the end of the text."""
    remaining = iter(numbered)
    first = next(remaining, None)
    if first is None:
        return
    yield first
    width = len(first[1])
    for line, record in remaining:
        if len(record) != width:
            if any("\n" in value or "\r" in value for value in record) and _ends(remaining):
                raise MalformedCsv(never_closed(line), line)
            raise MalformedCsv(ragged(line, record, width), line)
        yield line, record


def _ends(remaining: Iterator[tuple[int, list[str]]]) -> bool:
    try:
        return next(remaining, None) is None
    except (MalformedCsv, TooLong):  # something after it: not the last record
        return False


def may_end_inside_a_quote(last_value: str, tail: bytes) -> bool:
    """Whether a text may end inside a quote, from the last value of its last record as read
    and its last bytes: the value runs over lines and the text does not end with the quote that
    would close it. Only then is the text read again (:func:`quote_never_closed`), so a text
    whose last note over several lines is closed is read once."""
    ends = "\n" in last_value or "\r" in last_value
    return ends and not tail.rstrip(b"\r\n").endswith(b'"')


def quote_never_closed(lines: Iterable[str]) -> int | None:
    """The line of a quote the text ends inside, else None.

    pyarrow and the csv module alike take everything after such a quote as one value, without a
    word: a quote left open in the last column of line 3 of 29,000 lines made 3 customers of
    them. Read again strictly (only when the last record has a value over several lines, so a
    text that reads is read once), the end of the text inside a quote is named. Any other
    strictness (``"a"b``) is not this check's business: it says None."""
    reader = csv.reader(lines, strict=True)
    previous_end = 0
    try:
        for _ in reader:
            previous_end = reader.line_num
    except csv.Error as exc:
        if "unexpected end of data" in str(exc) or "field larger than field limit" in str(exc):
            return previous_end + 1
    return None


def utf8_lines(raw: BinaryIO, *, longest: int | None = None) -> Iterator[str]:
    """The lines of a UTF-8 byte stream (a byte order mark dropped), as ``open(newline="")``
    gives them, read a block at a time, so a file of any size is never in memory whole. At the
    first byte that is not UTF-8: every line before it, then :class:`NotUtf8`. A line longer
    than ``longest`` bytes (if given) is :class:`TooLong`."""
    offset, line, carry, started = 0, 1, b"", False
    while True:
        block = raw.read(_READ_BYTES)
        data = carry + block
        if not started and (len(data) >= len(BOM) or not block):
            started = True
            if data.startswith(BOM):
                data, offset = data[len(BOM) :], len(BOM)
        if block and not started:
            carry = data
            continue
        # Whole lines only: up to the last line end that is known to be whole (a "\r" last in
        # the block may be the first half of "\r\n").
        end = len(data) if not block else max(data.rfind(b"\n"), data.rfind(b"\r", 0, -1)) + 1
        if block and end == 0:
            if longest is not None and len(data) > longest:
                raise TooLong(f"line {line} is longer than {longest:,} bytes")
            carry = data
            continue
        whole, carry = data[:end], data[end:]
        try:
            text = whole.decode("utf-8")
        except UnicodeDecodeError as exc:
            good = whole[: exc.start].decode("utf-8")
            complete = good[: max(good.rfind("\n"), good.rfind("\r")) + 1]
            yield from io.StringIO(complete, newline="")
            raise NotUtf8.at(exc, offset=offset, line=line) from None
        yield from io.StringIO(text, newline="")
        if not block:
            return
        line += line_ends(text)
        offset += end


def first_problem(raw: BinaryIO, *, longest: int | None = None) -> MalformedCsv | None:
    """The first malformed line of a CSV byte stream, read as segment-score's pyarrow reads it
    (a line of spaces is a record), or None when the csv module finds none (or a line is longer
    than ``longest`` bytes)."""
    lines = utf8_lines(raw, longest=longest)
    try:
        for _ in well_formed(records(lines, spaces_are_blank=False)):
            pass
    except MalformedCsv as problem:
        return problem
    except TooLong:
        return None
    return None
