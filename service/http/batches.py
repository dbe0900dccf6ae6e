"""A request's customers as columns: the one shape every payload format is decoded into.

JSON objects, the pandas "split" layout, CSV and Arrow all end as a :class:`Batch`: the model's
input matrix, the customer ids, and how to echo the customers in a CSV answer. Scoring and every
answer format work from it, so no format builds a Python object per customer on its way out.

The JSON checks here are a fast path only: :func:`checked_columns` accepts a batch when every
value is exactly what the pydantic ``Customer`` model accepts, and otherwise returns ``None`` so
the caller validates with pydantic, whose errors (``customers[7].age``) stay the API's words.
A fast path that only ever says "valid" or "ask pydantic" cannot give a different error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from segmentation.features import (
    CLASSIC_TO_SNAKE,
    CUSTOMER_ID,
    GENDER,
    GENDER_ENCODING,
    GENDER_VALUES,
    NUMERIC_FEATURES,
)
from service.http.schemas import MAX_CUSTOMER_ID_LENGTH

Layout = Literal["records", "split", "csv", "arrow"]
# Every field a customer may carry, under either of its names.
FIELDS = (CUSTOMER_ID, GENDER, *NUMERIC_FEATURES)
FIELD_OF_NAME: dict[str, str] = {name: name for name in FIELDS} | CLASSIC_TO_SNAKE
_NUMBERS = frozenset({int, float})
_IDS = frozenset({str, int, type(None)})
_GENDERS = frozenset({str, type(None)})


@dataclass(frozen=True)
class Batch:
    """Validated customers, in request order."""

    rows: np.ndarray  # (customers, features): the model's input
    customer_ids: Sequence[Any] | None  # as sent; None when the format carried no id column
    layout: Layout
    # The customers as a CSV answer echoes them (built only when one is asked for).
    echo: Callable[[], pa.Table] = field(repr=False)
    index: list[Any] | None = None  # the split layout's "index", echoed in its answer

    def __len__(self) -> int:
        return int(self.rows.shape[0])


def checked_columns(
    columns: Mapping[str, Sequence[Any]], features: Sequence[str], customers: int
) -> tuple[np.ndarray, list[Any] | None] | None:
    """The input matrix and the gender column (canonical), or None if pydantic must decide.

    ``columns`` maps snake_case field names to one value per customer (None where absent).
    """
    matrix = np.empty((customers, len(features)), dtype=np.float64)
    for position, name in enumerate(features):
        values = columns.get(name)
        if values is None:
            return None
        if name == GENDER:
            encoded = _encoded_genders(values)
            if encoded is None:
                return None
            matrix[:, position] = encoded
        else:
            numbers = _numbers_in_range(values, name)
            if numbers is None:
                return None
            matrix[:, position] = numbers
    if not _valid_ids(columns.get(CUSTOMER_ID)):
        return None
    genders = columns.get(GENDER)
    if genders is not None and GENDER not in features:
        canonical = _canonical_genders(genders, required=False)
        if canonical is None:
            return None
        return matrix, canonical
    if genders is not None:
        return matrix, _canonical_genders(genders, required=True)
    return matrix, None


def _numbers_in_range(values: Sequence[Any], name: str) -> np.ndarray | list[float] | None:
    # bool is its own type, so True never passes for a number here (nor in pydantic's strict mode).
    if not set(map(type, values)) <= _NUMBERS:
        return None
    feature = NUMERIC_FEATURES[name]
    if len(values) == 1:  # one customer: plain floats, as numpy's per-call cost is most of it
        try:
            number = float(values[0])
        except OverflowError:
            return None
        return [number] if feature.minimum <= number <= feature.maximum else None
    try:
        numbers = np.array(values, dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    # NaN fails both comparisons, so it is refused too.
    if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
        return None
    return numbers


def _canonical_genders(values: Sequence[Any], *, required: bool) -> list[Any] | None:
    kinds = set(map(type, values))
    if not kinds <= _GENDERS or (required and type(None) in kinds):
        return None
    canonical = {}
    for value in set(values):
        if value is None:
            continue
        spelled = value.strip().capitalize()
        if spelled not in GENDER_VALUES:
            return None
        canonical[value] = spelled
    return [None if value is None else canonical[value] for value in values]


def _encoded_genders(values: Sequence[Any]) -> np.ndarray | None:
    canonical = _canonical_genders(values, required=True)
    if canonical is None:
        return None
    return np.fromiter(map(GENDER_ENCODING.__getitem__, canonical), np.float64, len(canonical))


def _valid_ids(values: Sequence[Any] | None) -> bool:
    if values is None:
        return True
    kinds = set(map(type, values))
    if not kinds <= _IDS:
        return False
    if str in kinds:
        longest = max(len(v) for v in values if type(v) is str)
        return longest <= MAX_CUSTOMER_ID_LENGTH
    return True


def echo_table(columns: dict[str, Sequence[Any]]) -> pa.Table:
    """JSON customers as a CSV answer echoes them: the id, then the fields as sent."""
    return pa.table({name: _arrow_column(values) for name, values in columns.items()})


def _arrow_column(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Ids that mix strings and integers: written as the text they read as.
        return pa.array([None if value is None else str(value) for value in values])
