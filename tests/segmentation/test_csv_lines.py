"""Malformed CSV named by its first bad line: lines as a text file gives them, block after block,
and a file of any size looked through without holding it."""

from __future__ import annotations

import io
import itertools
import tracemalloc
from collections.abc import Iterable
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmentation import csv_lines
from segmentation.csv_lines import NotUtf8, first_problem, utf8_lines

TEXT = st.text(alphabet=st.sampled_from(list('a1,"\n\r é€😀')), max_size=60)


@given(TEXT, st.booleans(), st.integers(1, 9))
def test_lines_are_what_a_text_file_gives_whatever_the_blocks(
    text: str, mark: bool, block: int
) -> None:
    data = (b"\xef\xbb\xbf" if mark else b"") + text.encode()
    expected = list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    with mock.patch.object(csv_lines, "_READ_BYTES", block):
        assert list(utf8_lines(io.BytesIO(data))) == expected


@given(TEXT, TEXT, st.integers(1, 9))
def test_a_byte_that_is_not_utf8_is_named_by_its_line_and_offset(
    before: str, after: str, block: int
) -> None:
    data = before.encode() + b"\xe9" + after.encode()
    seen = []
    with mock.patch.object(csv_lines, "_READ_BYTES", block), pytest.raises(NotUtf8) as raised:
        seen.extend(utf8_lines(io.BytesIO(data)))
    assert raised.value.offset == len(before.encode())
    complete = list(io.StringIO(before, newline=""))
    if complete and not complete[-1].endswith(("\n", "\r")):
        complete.pop()  # the bad byte's own line is not given
    assert raised.value.line == len(complete) + 1
    assert (
        str(raised.value) == f"line {len(complete) + 1}: byte {len(before.encode())} is not UTF-8"
    )
    assert seen == complete


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a,b,c\n1,2,3\n\n4,5\n", "line 4 has 2 fields and the header has 3"),
        ("a,b,c\n1,2,3,4\n", "line 2 has 4 fields and the header has 3"),
        ('a,b,c\n1,"x\ny",3\n4\n', "line 4 has 1 field and the header has 3"),
        ("a,b,c\r\n1,2,3\r\n  \r\n", "line 3 holds only spaces: delete it, or leave it empty"),
        ('a,b,c\n1,"x\ny",3\n4,"5,6\n7,8,9\n', "the quote opened on line 4 is never closed"),
        ("a;b;c\n1;2;3\n", None),  # one column: nothing the csv module calls wrong
    ],
)
def test_the_first_problem_and_its_words(text: str, words: str | None) -> None:
    problem = first_problem(io.BytesIO(text.encode()))
    assert (str(problem) if problem else None) == (
        f"{words} (a comma inside a value must be quoted)" if words and " has " in words else words
    )


class Generated(io.RawIOBase):
    """A file made line by line as it is read, so that it is never in memory whole; counts the
    bytes read."""

    def __init__(self, *lines: Iterable[bytes]) -> None:
        self.pending = itertools.chain(*lines)
        self.buffer = b""
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        while len(self.buffer) < len(view):
            chunk = b"".join(itertools.islice(self.pending, 10_000))
            if not chunk:
                break
            self.buffer += chunk
        size = min(len(view), len(self.buffer))
        view[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        self.read_bytes += size
        return size


HEADER = [b"id,age,income,note\n"]
CUSTOMER = b"C1,30,50," + b"n" * 50 + b"\n"  # 60 bytes


def test_a_large_file_is_looked_through_a_block_at_a_time() -> None:
    source = Generated(HEADER, itertools.repeat(CUSTOMER, 200_000), [b"C2,31\n"])
    tracemalloc.start()
    try:
        problem = first_problem(io.BufferedReader(source))  # 12 MB, the bad line last
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(problem).startswith("line 200002 has 2 fields and the header has 4")
    assert source.read_bytes > 12_000_000
    assert peak < 4 << 20


def test_the_search_stops_at_the_first_bad_line() -> None:
    source = Generated(HEADER, [b"C1,30\n"], itertools.repeat(CUSTOMER, 200_000))
    problem = first_problem(io.BufferedReader(source))
    assert problem is not None
    assert problem.line == 2
    assert source.read_bytes < 4 << 20


def test_a_line_too_long_to_look_into_leaves_the_file_unnamed() -> None:
    data = b"id,note\n1," + b"x" * (3 << 20) + b"\n2\n"
    assert first_problem(io.BytesIO(data), longest=1 << 20) is None
    assert first_problem(io.BytesIO(data)) is not None  # (no limit: the value's own words)
