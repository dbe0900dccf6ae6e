"""JSON bodies of POST /segment: customer objects, and the pandas "split" layout.

Objects (one customer, or ``{"customers": [...]}``) are parsed once by orjson and checked
column by column against the bundle's schema (:func:`service.http.batches.checked_columns`); a
body that fails any check is validated again by pydantic, with the customer model built from the
same schema, whose errors name the field (``customers[7].age``). Building one pydantic object
per customer was most of a 10,000-customer request.

The split layout is what ``DataFrame.to_json(orient="split")`` writes and MLflow's
``dataframe_split`` carries: ``{"columns": [...], "data": [[...], ...]}`` with an optional
``"index"``. Its rows are transposed to columns in C (``zip``), so it is the cheapest JSON to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pydantic_core
from pydantic import TypeAdapter, ValidationError

from segmentation.schema import FeatureSchema
from service.http.batches import Batch, checked_columns, echo_table
from service.http.errors import (
    BatchTooLarge,
    FieldProblem,
    InvalidRequest,
    MalformedRequest,
    field_path,
    invalid_request,
)
from service.http.schemas import CustomerBase

SPLIT_KEYS = ("columns", "data", "index")
# A refusal lists every problem up to this many (like the CSV answer's report).
MAX_LISTED = 100
_NOT_PARSED = object()


def is_split(document: object) -> bool:
    """A body in the split layout: an object with both "columns" and "data"."""
    return isinstance(document, dict) and "columns" in document and "data" in document


def decode_json(
    body: bytes, adapter: TypeAdapter[Any], schema: FeatureSchema, max_batch: int
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
        return split_batch(document, schema, adapter, max_batch)
    if document is not _NOT_PARSED:
        fast = _records_fast(document, schema, max_batch)
        if fast is not None:
            return fast
    return _records_validated(body, adapter, schema)


# ---------------------------------------------------------------------------------------------
# customer objects


def _records_fast(document: Any, schema: FeatureSchema, max_batch: int) -> Batch | None:
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
    field_of_name = schema.name_of()
    for layout in set(map(tuple, customers)):
        seen: set[str] = set()
        for key in layout:
            name = field_of_name.get(key)
            if name is None or name in seen:
                return None  # unknown field, or one field under both its names
            seen.add(name)
            names.setdefault(name, set()).add(key)
    columns: dict[str, Sequence[Any]] = {}
    for name, keys in names.items():
        if len(keys) == 1:
            (key,) = keys
            columns[name] = [customer.get(key) for customer in customers]
        else:  # customers spell it differently (each customer uses one spelling: see above)
            spellings = tuple(keys)
            columns[name] = [
                next((c[key] for key in spellings if key in c), None) for c in customers
            ]
    checked = checked_columns(columns, schema, len(customers))
    if checked is None:
        return None
    rows, spelled = checked
    return _batch(rows, columns, spelled, schema, "records")


def _records_validated(body: bytes, adapter: TypeAdapter[Any], schema: FeatureSchema) -> Batch:
    try:
        parsed = adapter.validate_json(body)
    except ValidationError as exc:
        raise _translate(exc) from None
    if isinstance(parsed, CustomerBase):
        return customers_batch([parsed], schema, path="", layout="records")
    return customers_batch(list(parsed.customers), schema, path="customers", layout="records")


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
    customers: Sequence[CustomerBase], schema: FeatureSchema, *, path: str, layout: Any
) -> Batch:
    """Validated customers as a batch; every missing required feature is reported at once."""
    problems = []
    records = [c.model_dump(by_alias=True) for c in customers]
    columns = {
        name: [record[name] for record in records]
        for name in (schema.id_column, *(f.name for f in schema.columns))
    }
    for name in schema.names:
        for row, value in enumerate(columns[name]):
            if value is None:
                problems.append(
                    FieldProblem(
                        field=f"{path}[{row}].{name}" if path else name,
                        message=f"required by the model, which uses {', '.join(schema.names)}",
                    )
                )
                if len(problems) == MAX_LISTED:
                    break
    if problems:
        raise InvalidRequest.from_problems(problems)
    checked = checked_columns(columns, schema, len(customers))
    assert checked is not None, "pydantic accepted what the column checks refuse"
    rows, spelled = checked
    return _batch(rows, columns, spelled, schema, layout)


def _batch(
    rows: Any,
    columns: Mapping[str, Sequence[Any]],
    spelled: dict[str, list[Any]],
    schema: FeatureSchema,
    layout: Any,
    index: list[Any] | None = None,
) -> Batch:
    """The batch of decoded columns; a CSV answer echoes the id, then every column sent, with
    numbers as floats and levels as declared."""
    count = int(rows.shape[0])
    ids = columns.get(schema.id_column)
    customer_ids = list(ids) if ids is not None else None

    def echo() -> Any:
        echoed: dict[str, Sequence[Any]] = {schema.id_column: customer_ids or [None] * count}
        for feature in schema.columns:
            values = spelled.get(feature.name, columns.get(feature.name))
            if values is not None and any(v is not None for v in values):
                echoed[feature.name] = values
        return echo_table(echoed)

    return Batch(rows=rows, customer_ids=customer_ids, layout=layout, echo=echo, index=index)


# ---------------------------------------------------------------------------------------------
# the split layout


def split_batch(
    document: dict[str, Any], schema: FeatureSchema, adapter: TypeAdapter[Any], max_batch: int
) -> Batch:
    unknown = [key for key in document if key not in SPLIT_KEYS]
    if unknown:
        raise InvalidRequest.from_problems(
            [FieldProblem(field=str(key), message="unknown field") for key in unknown]
        )
    names, data, index = document["columns"], document["data"], document.get("index")
    fields = _split_fields(names, schema)
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
    checked = checked_columns(columns, schema, len(data))
    if checked is None:
        # Some value is not what a customer field accepts: pydantic says which and why.
        records = [dict(zip(names, row, strict=True)) for row in data]
        try:
            parsed = adapter.validate_python({"customers": records})
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                # ("batch", "customers", row, field) -> ("data", row, field)
                error["loc"] = ("data", *error["loc"][2:])
            raise invalid_request(errors) from None
        batch = customers_batch(parsed.customers, schema, path="data", layout="split")
        return Batch(batch.rows, batch.customer_ids, "split", batch.echo, index)
    rows, spelled = checked
    return _batch(rows, columns, spelled, schema, "split", index)


def _split_fields(names: Any, schema: FeatureSchema) -> list[str]:
    """The field of each column; unknown, repeated and missing columns are refused."""
    if type(names) is not list or not names or not all(type(n) is str for n in names):
        raise _invalid("columns", "must be a non-empty array of column names")
    fields: list[str] = []
    problems = []
    field_of_name = schema.name_of()
    for position, name in enumerate(names):
        field = field_of_name.get(name)
        if field is None:
            known = ", ".join((schema.id_column, *(f.name for f in schema.columns)))
            problems.append(
                FieldProblem(
                    field=f"columns[{position}]",
                    message=f"unknown column {name!r}; columns may be {known} or their aliases",
                )
            )
        elif field in fields:
            problems.append(
                FieldProblem(field=f"columns[{position}]", message=f"repeats column {field!r}")
            )
        fields.append(field or name)
    if problems:
        raise InvalidRequest.from_problems(problems)
    missing = [name for name in schema.names if name not in fields]
    if missing:
        raise _invalid(
            "columns", f"missing column {missing[0]!r}: the model needs {', '.join(schema.names)}"
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
