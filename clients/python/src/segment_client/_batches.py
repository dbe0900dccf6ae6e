"""Splitting a batch into chunks under the service's limit and putting the answers back together.

The assembler also guards the one thing chunking could break: every result must come from the
same model version. When the service is reloaded between two chunks, the remaining chunks and the
mismatched ones are sent again pinned to the first chunk's version; if that cannot be done, the
batch fails with VersionMismatchError rather than mixing two models' answers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from segment_client.errors import InvalidInputError, NotFoundError, VersionMismatchError
from segment_client.models import SegmentResult

CustomerLike = Mapping[str, Any] | BaseModel | object
"""A mapping, a pydantic model, a dataclass instance or a named tuple (checked at run time)."""

JsonObject = dict[str, Any]


def customer_payload(customer: CustomerLike, index: int) -> JsonObject:
    """The JSON object for one customer; typed objects send only the fields that are set."""
    if isinstance(customer, Mapping):
        return dict(customer)
    if isinstance(customer, BaseModel):
        return customer.model_dump(mode="json", by_alias=True, exclude_none=True)
    if dataclasses.is_dataclass(customer) and not isinstance(customer, type):
        fields = dataclasses.asdict(customer)
    elif isinstance(customer, tuple) and hasattr(customer, "_asdict"):
        fields = customer._asdict()
    else:
        raise InvalidInputError(
            f"customers[{index}]",
            f"a {type(customer).__name__} is not a customer; pass a mapping, "
            "a pydantic model, a dataclass or a named tuple",
        )
    return {name: value for name, value in fields.items() if value is not None}


@dataclasses.dataclass(frozen=True)
class EncodedBatch:
    """A batch's request bodies, in order, and how many customers each holds."""

    bodies: list[bytes]
    sizes: list[int]


def encode_chunks(customers: Iterable[CustomerLike], size: int) -> list[bytes]:
    """Request bodies of at most ``size`` customers each, in order (see ``encode_batch``)."""
    return encode_batch(customers, size).bodies


def encode_batch(customers: Iterable[CustomerLike], size: int) -> EncodedBatch:
    """Request bodies of at most ``size`` customers each, in order, with their sizes.

    Every customer is converted and encoded before anything is sent, so a bad one (a foreign
    type, NaN, infinity) fails the call up front, named by its index, not half-way through.
    """
    if size < 1:
        raise InvalidInputError("max_batch", f"the chunk size must be at least 1, not {size}")
    if isinstance(customers, Mapping | BaseModel | str):
        raise InvalidInputError(
            "customers", "segment() takes a list of customers; use segment_one() for one"
        )
    payloads = [customer_payload(customer, index) for index, customer in enumerate(customers)]
    starts = range(0, len(payloads), size)
    return EncodedBatch(
        bodies=[_encode_chunk(payloads[start : start + size], start) for start in starts],
        sizes=[len(payloads[start : start + size]) for start in starts],
    )


def _encode_chunk(chunk: list[JsonObject], offset: int) -> bytes:
    try:
        return _encode({"customers": chunk})
    except (TypeError, ValueError):
        for position, customer in enumerate(chunk):
            for name, value in customer.items():
                try:
                    _encode(value)
                except (TypeError, ValueError) as exc:
                    raise InvalidInputError(
                        f"customers[{offset + position}].{name}",
                        f"{_shown(value)} cannot be sent as JSON: {exc}",
                    ) from None
        raise


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False, separators=(",", ":"), default=_scalar).encode()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__}"


def _scalar(value: Any) -> Any:
    # numpy and pandas scalars (np.int64, np.float64) have .item(); json does not know them.
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class BatchAssembler:
    """Collects chunk results in order and keeps them to one model version.

    ``params()`` gives the query parameters for the next request; ``accept()`` takes its result
    and says whether the chunk must be sent again (now pinned to the first chunk's version).
    """

    def __init__(self, version: str | None, explain: bool | None) -> None:
        self._requested = version
        self._pinned = version
        self._explain = explain
        self._first_version: str | None = None
        self._results: dict[int, SegmentResult] = {}

    def params(self) -> dict[str, str]:
        params = {}
        if self._pinned is not None:
            params["version"] = self._pinned
        if self._explain is not None:
            params["explain"] = "true" if self._explain else "false"
        return params

    def accept(self, index: int, result: SegmentResult, sent: Mapping[str, str]) -> bool:
        """Keep ``result`` for chunk ``index`` and return True, or False to send it again."""
        expected = self._requested or self._first_version
        if expected is None:
            self._first_version = result.model_version
        elif result.model_version != expected:
            if sent.get("version") == expected:
                raise VersionMismatchError(
                    f"chunk {index + 1} was asked for model version {expected} but scored by "
                    f"{result.model_version}: the service does not support version pinning",
                    code="version_mismatch",
                )
            # A reload happened between chunks: pin everything from now on to the first version.
            self._pinned = expected
            return False
        self._results[index] = result
        return True

    def pin_refused(self, exc: NotFoundError, sent: Mapping[str, str]) -> Exception:
        """What to raise for a 404 on a request this assembler pinned after a reload."""
        pinned = sent.get("version")
        if pinned is None or pinned == self._requested:
            return exc
        return VersionMismatchError(
            f"the service changed model version during the batch (first chunk: {pinned}) and "
            f"no longer serves {pinned}: {exc.message}",
            status=exc.status,
            code="version_mismatch",
            details=exc.details,
            request_id=exc.request_id,
            total=exc.total,
        )

    def merged(self) -> SegmentResult:
        """One result: assignments in request order, each assigned segment's profile once."""
        if not self._results:
            raise InvalidInputError("customers", "no customers to score")
        ordered = [self._results[index] for index in sorted(self._results)]
        profiles = {profile.id: profile for result in ordered for profile in result.segments}
        return SegmentResult(
            model_version=ordered[0].model_version,
            results=[assignment for result in ordered for assignment in result.results],
            segments=[profiles[segment_id] for segment_id in sorted(profiles)],
        )
