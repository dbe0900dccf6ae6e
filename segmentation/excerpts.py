"""Values and names as an error message quotes them: whole when short, cut when long.

One place for every message that repeats what a caller sent (a value, a key, a header), so a
3 MB string sent as a level does not come back as a 6 MB error, twice; and for the words of a
pydantic validation error as every message gives them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# A value is quoted up to this many characters; a name (a key, a header) up to four times as many.
QUOTED_CHARACTERS = 60


def quoted(text: str) -> str:
    """``text`` quoted as Python writes it, cut after ``QUOTED_CHARACTERS`` with its length."""
    if len(text) <= QUOTED_CHARACTERS:
        return repr(text)
    return f"{text[:QUOTED_CHARACTERS]!r}... ({len(text):,} characters)"


def id_text(value: object) -> str:
    """A customer id as the table wrote it: pandas reads an integer column with a gap as
    floats, and customer 5 is not '5.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def counted(number: int, noun: str) -> str:
    """``1 customer``, ``2,000 customers``: a count with its noun, plural but for one."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def cut(text: str) -> str:
    """A name (a key, a header) as an error shows it: its start, when it is very long."""
    limit = 4 * QUOTED_CHARACTERS
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def validation_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's words without the "Value error, " our own validators' get."""
    return str(error["msg"]).removeprefix("Value error, ")


SEPARATORS = ((";", "semicolons"), ("\t", "tabs"), ("|", "bars"))


def header_hint(missing: str, headers: Sequence[str]) -> str:
    """Why a column may be missing from ``headers``, for its message: a header read as one
    column that holds another separator (Excel in many locales saves with semicolons), or a
    header that is the name in other letter case or spacing (``LIFETIME_SPEND``,
    ``Lifetime Spend``); else ""."""
    if len(headers) == 1:
        for separator, name in SEPARATORS:
            if separator in headers[0]:
                return (
                    f"the header is one column: the file looks separated by {name}; "
                    "save it separated by commas"
                )
    wanted = _spelling(missing)
    for header in headers:
        if _spelling(str(header)) == wanted:
            return f"column {quoted(str(header))} differs only in letter case or spacing"
    return ""


def _spelling(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())
