"""One 422 for a whole batch sent in chunks, naming customers by their place in the caller's batch.

The service numbers the customers of each request from its start (``customers[5].age`` in a
JSON chunk, ``row 6.age`` in an Arrow slice) and counts the problems of that request only. When a
chunk is refused, the remaining chunks are still sent, so that one error lists the problems of
the whole batch, as one request would have: every field path is shifted by its chunk's offset,
``total`` adds up every chunk's count and the message is written again over the whole batch. A
failing call therefore costs at most what it would have cost had it passed, and no result of the
good chunks is returned.

Sending stops early only when going on could not help: a problem that names no customer (a
column missing from a table, which every slice shares), or another error (a 503 through every
retry, say). The message then says which customers were not checked.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from segment_client.errors import FieldProblem, InvalidRequestError, SegmentationError

MAX_LISTED = 100
"""The service's bound on the problems it lists; the combined error keeps to it too."""

_CUSTOMER = re.compile(r"^customers\[(\d+)\]")
_ROW = re.compile(r"^row (\d+)(?=[.\s]|$)")
_INVALID = re.compile(r"; (\d+) of (\d+) customers are invalid")


def chunk_sizes(count: int, size: int) -> list[int]:
    """How many customers each chunk of at most ``size`` holds, in order."""
    return [min(size, count - start) for start in range(0, count, size)]


@dataclass(frozen=True)
class _Refused:
    """One chunk's 422, its problems already named over the whole batch."""

    error: InvalidRequestError
    problems: tuple[FieldProblem, ...]
    total: int
    invalid: int | None  # how many of the chunk's customers have a problem, when known
    located: bool  # every problem names a customer (so later chunks are worth checking)


class Refusals:
    """The 422s of one batch's chunks, put together into one InvalidRequestError.

    ``rows``: the chunks are table slices, whose problems are named ``row 7.age`` (counted from
    1); otherwise JSON chunks, named ``customers[6].age`` (counted from 0).
    """

    def __init__(self, sizes: Sequence[int], *, rows: bool) -> None:
        self._offsets = list(itertools.accumulate(sizes, initial=0))
        self._sizes = list(sizes)
        self._rows = rows
        self._refused: dict[int, _Refused] = {}
        self._passed: set[int] = set()
        self.stopped = False  # a refusal after which the other chunks could tell no more

    def __bool__(self) -> bool:
        return bool(self._refused)

    def passed(self, index: int) -> None:
        """Chunk ``index`` was scored."""
        self._passed.add(index)

    def refused(self, index: int, error: InvalidRequestError) -> bool:
        """Keep chunk ``index``'s 422; True when the chunks not yet sent are still worth sending."""
        offset = self._offsets[index]
        problems = []
        located = bool(error.details)
        customers = set()
        for problem in error.details:
            field, customer = self._shifted(problem.field, offset)
            located = located and customer is not None
            if customer is not None:
                customers.add(customer)
            problems.append(FieldProblem(field=field, message=problem.message))
        self._refused[index] = _Refused(
            error=error,
            problems=tuple(problems),
            total=max(error.total, len(problems)),
            invalid=self._invalid(error, self._sizes[index], customers if located else None),
            located=located,
        )
        return located

    @contextmanager
    def sending(self, index: int) -> Iterator[None]:
        """Around sending chunk ``index``, one after the other: a 422 is kept (``stopped`` says
        whether the chunks after it are still worth sending), another error is raised as the
        batch's 422 when chunks were refused before it, and success is counted."""
        try:
            yield
        except InvalidRequestError as exc:
            self.stopped = not self.refused(index, exc)
            return
        except SegmentationError as exc:
            self.raise_with(exc)
            raise
        self.passed(index)

    def raise_if_any(self) -> None:
        """Raise the batch's InvalidRequestError if a chunk was refused."""
        if self._refused:
            raise self.error()

    def raise_with(self, stopped_by: SegmentationError) -> None:
        """When chunks were refused before ``stopped_by`` ended the batch, raise their 422 (saying
        which customers were not checked, and why) instead of it; else return."""
        if self._refused:
            raise self.error(stopped_by) from stopped_by

    def error(self, stopped_by: SegmentationError | None = None) -> InvalidRequestError:
        """One 422 over the whole batch: fields, ``total`` and message in the caller's numbering."""
        order = sorted(self._refused)
        first = self._refused[order[0]]
        if len(self._sizes) == 1:
            return first.error  # the only request: the service's own words are already right
        problems = [problem for index in order for problem in self._refused[index].problems]
        listed = problems[:MAX_LISTED]
        total = sum(self._refused[index].total for index in order)
        if first.problems:
            shown = first.problems[0]
            message = f"{shown.field}: {shown.message}"
            others = total - 1
        else:  # a 422 without details (a proxy's, say): its words, and which customers it was
            message = f"{self._span(order[0], order[0])}: {first.error.message}"
            others = total - first.total
        if others > 0:
            message += f" (and {others} more problem{'s' if others > 1 else ''})"
        counts = [self._refused[index].invalid for index in order]
        count = self._offsets[-1]
        if count > 1 and all(invalid is not None for invalid in counts):
            invalid = sum(invalid or 0 for invalid in counts)
            message += f"; {invalid} of {count} customers are invalid"
        if total > len(listed):
            message += f"; the first {len(listed)} problems are listed"
        unchecked = self._unchecked()
        if unchecked:
            message += f"; {unchecked} were not checked"
            if stopped_by is not None:
                message += f" ({stopped_by})"
        return InvalidRequestError(
            message,
            status=first.error.status,
            code=first.error.code,
            details=listed,
            request_id=first.error.request_id,
            total=max(total, len(listed)),
        )

    def _shifted(self, field: str, offset: int) -> tuple[str, int | None]:
        """``field`` renamed by the chunk's ``offset``, and the customer (counted from 0) it is
        about; None when it names no customer (it is then kept as it is)."""
        pattern = _ROW if self._rows else _CUSTOMER
        found = pattern.match(field)
        if found is None:
            return field, None
        number = int(found.group(1)) + offset
        start, end = found.span(1)
        return f"{field[:start]}{number}{field[end:]}", number - (1 if self._rows else 0)

    @staticmethod
    def _invalid(error: InvalidRequestError, size: int, customers: set[int] | None) -> int | None:
        """How many of a chunk's ``size`` customers the service refused: from its message, or
        the customers its problems name when it lists them all; None when it cannot be told."""
        said = _INVALID.search(error.message)
        if said is not None and int(said.group(2)) == size:
            return int(said.group(1))
        if customers is None:
            return None
        if size == 1:
            return 1
        return len(customers) if not error.truncated else None

    def _unchecked(self) -> str:
        """The customers of the chunks neither scored nor refused, as ranges ("" for none)."""
        done = self._passed | set(self._refused)
        missing = [index for index in range(len(self._sizes)) if index not in done]
        spans = []
        for _, run in itertools.groupby(enumerate(missing), key=lambda pair: pair[1] - pair[0]):
            indices = [index for _, index in run]
            spans.append(self._span(indices[0], indices[-1]))
        if len(spans) > 3:
            spans = [*spans[:3], f"{len(spans) - 3} more ranges"]
        return ", ".join(spans[:-1]) + f" and {spans[-1]}" if len(spans) > 1 else "".join(spans)

    def _span(self, first_chunk: int, last_chunk: int) -> str:
        """The customers of chunks ``first_chunk`` to ``last_chunk``, named as the fields are."""
        first = self._offsets[first_chunk]
        last = self._offsets[last_chunk + 1] - 1
        if self._rows:
            return f"row {first + 1}" if first == last else f"rows {first + 1} to {last + 1}"
        if first == last:
            return f"customers[{first}]"
        return f"customers[{first}] to customers[{last}]"
