"""JSON bodies of POST /segment: customer objects, and the pandas "split" layout.

Objects (one customer, or ``{"customers": [...]}``) are parsed once by orjson and checked
column by column (:func:`service.http.batches.checked_columns`); a body that fails any check is
validated again by pydantic, whose errors name the field (``customers[7].age``). Building one
pydantic object per customer was most of a 10,000-customer request.

The split layout is what ``DataFrame.to_json(orient="split")`` writes and MLflow's
``dataframe_split`` carries: ``{"columns": [...], "data": [[...], ...]}`` with an optional
``"index"``. Its rows are transposed to columns in C (``zip``), so it is the cheapest JSON to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pydantic_core
from pydantic import TypeAdapter, ValidationError

from segmentation.features import CUSTOMER_ID, GENDER
from service.http.batches import FIELD_OF_NAME, FIELDS, Batch, checked_columns, echo_table
from service.http.errors import (
    BatchTooLarge,
    FieldProblem,
    InvalidRequest,
    MalformedRequest,
    field_path,
    invalid_request,
)
from service.http.schemas import Customer

SPLIT_KEYS = ("columns", "data", "index")
# A refusal lists every problem up to this many (like the CSV answer's report).
MAX_LISTED = 100
_CUSTOMER_LIST: TypeAdapter[list[Customer]] = TypeAdapter(list[Customer])
_NOT_PARSED = object()


def is_split(document: object) -> bool:
    """A body in the split layout: an object with both "columns" and "data"."""
    return isinstance(document, dict) and "columns" in document and "data" in document


def decode_json(
    body: bytes, adapter: TypeAdapter[Any], features: Sequence[str], max_batch: int
) -> Batch:
    if not body.strip():
        raise MalformedRequest(
            'the request body is empty: send a customer object, {"customers": [...]} or '
            '{"columns": [...], "data": [[...]]}'
        )
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        # NaN and Infinity are not JSON, but pydantic reads them to say which field holds one;
        # what pydantic cannot read either, it words as malformed JSON below.
        try:
            document = pydantic_core.from_json(body, allow_inf_nan=True)
        except ValueError:
            document = _NOT_PARSED
        if not is_split(document):
            document = _NOT_PARSED
    if is_split(document):
        return split_batch(document, features, max_batch)
    if document is not _NOT_PARSED:
        fast = _records_fast(document, features, max_batch)
        if fast is not None:
            return fast
    return _records_validated(body, adapter, features)


# ---------------------------------------------------------------------------------------------
# customer objects


def _records_fast(document: Any, features: Sequence[str], max_batch: int) -> Batch | None:
    if type(document) is not dict:
        return None
    if "customers" in document:
        customers = document["customers"]
        if len(document) != 1 or type(customers) is not list:
            return None
        if not 1 <= len(customers) <= max_batch:
            return None
    else:
        customers = [document]
    if set(map(type, customers)) != {dict}:
        return None
    names: dict[str, set[str]] = {}
    for layout in set(map(tuple, customers)):
        seen: set[str] = set()
        for key in layout:
            name = FIELD_OF_NAME.get(key)
            if name is None or name in seen:
                return None  # unknown field, or one field under both its names
            seen.add(name)
            names.setdefault(name, set()).add(key)
    columns: dict[str, Sequence[Any]] = {}
    for name, keys in names.items():
        if len(keys) == 1:
            (key,) = keys
            columns[name] = [customer.get(key) for customer in customers]
        else:
            first, second = keys
            columns[name] = [c[first] if first in c else c.get(second) for c in customers]
    checked = checked_columns(columns, features, len(customers))
    if checked is None:
        return None
    rows, genders = checked
    return _batch(rows, columns.get(CUSTOMER_ID), genders, features, "records")


def _records_validated(body: bytes, adapter: TypeAdapter[Any], features: Sequence[str]) -> Batch:
    try:
        parsed = adapter.validate_json(body)
    except ValidationError as exc:
        raise _translate(exc) from None
    if isinstance(parsed, Customer):
        return customers_batch([parsed], features, path="", layout="records")
    return customers_batch(list(parsed.customers), features, path="customers", layout="records")


def _translate(exc: ValidationError) -> Exception:
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return MalformedRequest(f"malformed JSON: {error['msg']}")
        if error["type"] == "too_long" and field_path(error["loc"]) == "customers":
            context = error.get("ctx", {})
            actual = context.get("actual_length")
            size = f"a batch of {actual} customers" if actual else "the batch"
            return BatchTooLarge(
                f"customers: {size} is over the limit of {context.get('max_length')} "
                "customers per request; split it into smaller batches"
            )
    return invalid_request(errors)


def customers_batch(
    customers: Sequence[Customer], features: Sequence[str], *, path: str, layout: Any
) -> Batch:
    """Validated customers as a batch; every missing required feature is reported at once."""
    problems = []
    columns = {name: [getattr(c, name) for c in customers] for name in FIELDS}
    for name in features:
        for row, value in enumerate(columns[name]):
            if value is None:
                problems.append(
                    FieldProblem(
                        field=f"{path}[{row}].{name}" if path else name,
                        message=f"required by the model, which uses {', '.join(features)}",
                    )
                )
    if problems:
        raise InvalidRequest.from_problems(problems)
    checked = checked_columns(columns, features, len(customers))
    assert checked is not None, "pydantic accepted what the column checks refuse"
    rows, genders = checked
    ids = columns[CUSTOMER_ID]
    return _batch(rows, ids, genders, features, layout)


def _batch(
    rows: Any,
    ids: Sequence[Any] | None,
    genders: list[Any] | None,
    features: Sequence[str],
    layout: Any,
    index: list[Any] | None = None,
) -> Batch:
    count = int(rows.shape[0])
    customer_ids = list(ids) if ids is not None else None

    def echo() -> Any:
        columns: dict[str, Sequence[Any]] = {CUSTOMER_ID: customer_ids or [None] * count}
        for position, name in enumerate(features):
            columns[name] = genders if name == GENDER and genders else rows[:, position]
        if GENDER not in features and genders and any(g is not None for g in genders):
            columns[GENDER] = genders
        return echo_table(columns)

    return Batch(rows=rows, customer_ids=customer_ids, layout=layout, echo=echo, index=index)


# ---------------------------------------------------------------------------------------------
# the split layout


def split_batch(document: dict[str, Any], features: Sequence[str], max_batch: int) -> Batch:
    unknown = [key for key in document if key not in SPLIT_KEYS]
    if unknown:
        raise InvalidRequest.from_problems(
            [FieldProblem(field=str(key), message="unknown field") for key in unknown]
        )
    names, data, index = document["columns"], document["data"], document.get("index")
    fields = _split_fields(names, features)
    if type(data) is not list:
        raise _invalid("data", "must be an array of rows, each an array of values")
    if not data:
        raise _invalid("data", "must hold at least one row")
    if len(data) > max_batch:
        raise BatchTooLarge(
            f"data: a batch of {len(data)} customers is over the limit of {max_batch} "
            "customers per request; split it into smaller batches"
        )
    width = len(names)
    if set(map(type, data)) != {list} or set(map(len, data)) != {width}:
        raise InvalidRequest.from_problems(_ragged_rows(data, width))
    if index is not None and (type(index) is not list or len(index) != len(data)):
        raise _invalid("index", f"must be an array with one entry per row of data ({len(data)})")
    columns: dict[str, Sequence[Any]] = dict(zip(fields, zip(*data, strict=True), strict=True))
    checked = checked_columns(columns, features, len(data))
    if checked is None:
        # Some value is not what a customer field accepts: pydantic says which and why.
        records = [dict(zip(names, row, strict=True)) for row in data]
        try:
            customers = _CUSTOMER_LIST.validate_python(records)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                error["loc"] = ("data", *error["loc"])
            raise invalid_request(errors) from None
        batch = customers_batch(customers, features, path="data", layout="split")
        return Batch(batch.rows, batch.customer_ids, "split", batch.echo, index)
    rows, genders = checked
    return _batch(rows, columns.get(CUSTOMER_ID), genders, features, "split", index)


def _split_fields(names: Any, features: Sequence[str]) -> list[str]:
    """The field of each column; unknown, repeated and missing columns are refused."""
    if type(names) is not list or not names or not all(type(n) is str for n in names):
        raise _invalid("columns", "must be a non-empty array of column names")
    fields: list[str] = []
    problems = []
    for position, name in enumerate(names):
        field = FIELD_OF_NAME.get(name)
        if field is None:
            problems.append(
                FieldProblem(
                    field=f"columns[{position}]",
                    message=f"unknown column {name!r}; columns may be {', '.join(FIELDS)} "
                    "or their classic names",
                )
            )
        elif field in fields:
            problems.append(
                FieldProblem(field=f"columns[{position}]", message=f"repeats column {field!r}")
            )
        fields.append(field or name)
    if problems:
        raise InvalidRequest.from_problems(problems)
    missing = [name for name in features if name not in fields]
    if missing:
        raise _invalid(
            "columns", f"missing column {missing[0]!r}: the model needs {', '.join(features)}"
        )
    return fields


def _ragged_rows(data: list[Any], width: int) -> list[FieldProblem]:
    problems = []
    for row, values in enumerate(data):
        if type(values) is not list:
            message = f"must be an array of {width} values, one per column"
        elif len(values) != width:
            message = f"has {len(values)} values, but there are {width} columns"
        else:
            continue
        problems.append(FieldProblem(field=f"data[{row}]", message=message))
        if len(problems) == MAX_LISTED:
            break
    return problems


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest.from_problems([FieldProblem(field=field, message=message)])
