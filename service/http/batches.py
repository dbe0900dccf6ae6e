"""A request's customers as columns: the one shape every payload format is decoded into.

JSON objects, the pandas "split" layout, CSV and Arrow all end as a :class:`Batch`: the model's
input matrix, the customer ids, and how to echo the customers in a CSV answer. Scoring and every
answer format work from it, so no format builds a Python object per customer on its way out.

The JSON checks here are a fast path only: :func:`checked_columns` accepts a batch when every
value is exactly what the schema's pydantic customer model accepts, and otherwise returns
``None`` so the caller validates with pydantic, whose errors (``customers[7].age``) stay the
API's words.
A fast path that only ever says "valid" or "ask pydantic" cannot give a different error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from segmentation.schema import CategoricalFeature, FeatureSchema, NumericFeature
from segmentation.validation import encode
from service.http.schemas import MAX_CUSTOMER_ID_LENGTH

Layout = Literal["records", "split", "csv", "arrow"]
_NUMBERS = frozenset({int, float})
_IDS = frozenset({str, int, type(None)})
_LEVEL_TYPES = frozenset({str, bool, type(None)})


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
    columns: Mapping[str, Sequence[Any]], schema: FeatureSchema, customers: int
) -> tuple[np.ndarray, dict[str, list[Any]]] | None:
    """The model's input and the categorical columns as their levels are spelled (for the
    echo), or None if pydantic must decide.

    ``columns`` maps the schema's names to one value per customer (None where absent).
    """
    raw: dict[str, np.ndarray | list[float]] = {}
    spelled: dict[str, list[Any]] = {}
    for feature in schema.columns:
        values = columns.get(feature.name)
        required = schema.is_feature(feature.name)
        if values is None:
            if required:
                return None
            continue
        if isinstance(feature, NumericFeature):
            numbers = _numbers_in_range(values, feature, required=required)
            if numbers is None:
                return None
            raw[feature.name] = numbers
        else:
            levels = _levels(values, feature, required=required)
            if levels is None:
                return None
            codes, spelled[feature.name] = levels
            if codes is not None:
                raw[feature.name] = codes
    if not _valid_ids(columns.get(schema.id_column)):
        return None
    return encode({name: raw[name] for name in schema.names}, schema), spelled


def _numbers_in_range(
    values: Sequence[Any], feature: NumericFeature, *, required: bool
) -> np.ndarray | list[float] | None:
    if not required:
        # An attribute, which the model does not read: each value a number in range, or null.
        present = [v for v in values if v is not None]
        if present and _numbers_in_range(present, feature, required=True) is None:
            return None
        return []
    # bool is its own type, so True never passes for a number here (nor in pydantic's strict mode).
    if not set(map(type, values)) <= _NUMBERS:
        return None
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


def _levels(
    values: Sequence[Any], feature: CategoricalFeature, *, required: bool
) -> tuple[np.ndarray | None, list[Any]] | None:
    """The levels as declared and, for a feature, their codes, when every value is a level
    (any letter case, trimmed; JSON true and false as "True" and "False"); None (absent) is
    allowed for an attribute only."""
    kinds = set(map(type, values))
    if not kinds <= _LEVEL_TYPES or (required and type(None) in kinds):
        return None
    level_of = feature.level_of()
    spelling: dict[Any, str | None] = {None: None}
    for value in set(values):
        if value is None:
            continue
        level = level_of.get(str(value).strip().casefold())
        if level is None:
            return None
        spelling[value] = level
    spelled = [spelling[value] for value in values]
    if not required:
        return None, spelled  # an attribute: checked and echoed, never encoded
    code_of = feature.code_of
    codes = np.fromiter((code_of[str(level)] for level in spelled), np.intp, len(spelled))
    return codes, spelled


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
