"""JSON bodies of POST /segment: customer objects, and the pandas "split" layout.

A batch as serialisers write it (``{"customers":[...`` with the schema's names) is decoded by
msgspec straight into typed columns; anything else is parsed by orjson. Either way the body is
only decoded here: the body's shape is checked (an object or
``{"customers": [...]}``; known fields; ids that are strings or integers) and the customers are
turned into columns under the schema's names, which the one check of ``segmentation.validation``
then validates (:func:`service.http.batches.checked`), every problem named by its path
(``customers[7].age``). Numbers must be JSON numbers, as the OpenAPI schema says.

The split layout is what ``DataFrame.to_json(orient="split")`` writes and MLflow's
``dataframe_split`` carries: ``{"columns": [...], "data": [[...], ...]}`` with an optional
``"index"``. Its rows are transposed to columns in C (``zip``), so it is the cheapest JSON to read.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pydantic_core

from segmentation.excerpts import quoted
from segmentation.schema import CategoricalFeature, FeatureSchema, NumericFeature
from segmentation.validation import MAX_REPORTED_PROBLEMS, RowProblem
from service.http.batches import Decoded, check_size, matched_columns
from service.http.errors import FieldProblem, InvalidRequest, MalformedRequest
from service.http.schemas import MAX_CUSTOMER_ID_LENGTH

# RFC 8259 lets a parser ignore a byte order mark, which Windows tools write before JSON.
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"

SPLIT_KEYS = ("columns", "data", "index")
_BODY_SHAPE = 'the body must be a customer object or {"customers": [...]}'
_ID_TYPES = frozenset({str, int, type(None)})
_BATCH_START = b'{"customers":'
_ID_TEXT = Annotated[str, msgspec.Meta(max_length=MAX_CUSTOMER_ID_LENGTH)]


def is_split(document: object) -> bool:
    """A body in the split layout: an object with both "columns" and "data"."""
    return isinstance(document, dict) and "columns" in document and "data" in document


def decode_json(body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
    if body.startswith(_BYTE_ORDER_MARK):
        body = body[len(_BYTE_ORDER_MARK) :]
    if not body.strip():
        raise MalformedRequest(
            'the request body is empty: send a customer object, {"customers": [...]} or '
            '{"columns": [...], "data": [[...]]}'
        )
    if body.startswith(_BATCH_START):
        typed = _typed_columns(body, schema, max_batch)
        if typed is not None:
            return typed
    document = parse_json(body)
    if is_split(document):
        return split_columns(document, schema, max_batch)
    return records_columns(document, schema, max_batch)


def parse_json(body: bytes) -> Any:
    """The body's JSON document, or a 400 that says where it is malformed."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        # NaN and Infinity are not JSON, but are read so that the field holding one is named.
        try:
            return pydantic_core.from_json(body, allow_inf_nan=True)
        except ValueError as exc:
            raise MalformedRequest(f"malformed JSON: {exc}") from None


def _typed_columns(body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded | None:
    """A batch as serialisers write it, decoded straight into typed structs under the schema's
    names when every customer is plainly well-formed (half the time of parsing into dicts and
    gathering their fields); None for anything else (aliases, unknown fields, a string where a
    number belongs, ...), which the general path decodes and names every problem of."""
    try:
        customers = _batch_decoder(schema).decode(body).customers
    except (msgspec.DecodeError, RecursionError):
        return None
    if not customers:
        return None
    check_size(len(customers), max_batch, field="customers")
    columns: dict[str, Sequence[Any] | pa.Array] = {}
    # One tuple per field: typed structs transpose faster in C (astuple, zip) than with one
    # attribute getter per field (dicts, below, are the other way round).
    fields = list(zip(*map(msgspec.structs.astuple, customers), strict=True))
    for position, name in enumerate(schema.request_names):
        values = fields[position]
        if not schema.is_feature(name):
            if values.count(None) != len(values):
                columns[name] = list(values)  # an id or attribute nobody sent is no column
            continue
        feature = schema.feature(name)
        if isinstance(feature, NumericFeature):
            numbers = _numbers_in_range(values, feature)
            if numbers is None:
                return None  # the general path names the value as it was sent: 500, not 500.0
            columns[name] = numbers
        else:
            columns[name] = values
    return _customer_columns(columns, len(customers), schema, "customers", [], ids_checked=True)


def _numbers_in_range(values: Sequence[int | float], feature: NumericFeature) -> pa.Array | None:
    """A feature's JSON numbers (typed by the decoder, so no type test per value) as doubles,
    when each is within the feature's range."""
    try:
        numbers = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
        return None
    return pa.array(numbers)


@lru_cache(maxsize=32)
def _batch_decoder(schema: FeatureSchema) -> msgspec.json.Decoder[Any]:
    """A decoder of ``{"customers": [...]}`` that accepts only what the one check would pass
    on its types: the schema's names (no alias, no unknown field), numbers for numeric columns,
    strings or booleans for levels, features present and not null, ids integers or strings of
    at most 256 characters."""
    fields: list[tuple[str, Any, Any]] = []
    for position, name in enumerate(schema.request_names):
        if name == schema.id_column:
            kind: Any = _ID_TEXT | int | None
        elif isinstance(schema.feature(name), CategoricalFeature):
            kind = str | bool
        else:
            kind = int | float  # as sent: a refusal quotes 500, not 500.0
        if schema.is_feature(name):
            fields.append((f"f{position}", kind, msgspec.NODEFAULT))
        else:
            fields.append((f"f{position}", kind | None, None))
    rename = {f"f{position}": name for position, name in enumerate(schema.request_names)}
    customer: Any = msgspec.defstruct(
        "Customer", fields, kw_only=True, forbid_unknown_fields=True, gc=False, rename=rename
    )
    batch = msgspec.defstruct(
        "Customers", [("customers", list[customer])], forbid_unknown_fields=True
    )
    return msgspec.json.Decoder(batch)


# ---------------------------------------------------------------------------------------------
# customer objects


def records_columns(document: Any, schema: FeatureSchema, max_batch: int) -> Decoded:
    if type(document) is not dict:
        raise invalid("body", _BODY_SHAPE)
    if "customers" in document:
        return object_columns(_customer_list(document, max_batch), schema, "customers")
    return object_columns([document], schema, "")


def object_columns(customers: list[Any], schema: FeatureSchema, path: str) -> Decoded:
    """Customer objects as columns, each problem named ``{path}[7].age`` (``age`` for one
    customer object, when ``path`` is empty); the caller has checked the list's length."""

    def where(row: int) -> str:
        return f"{path}[{row}]" if path else ""

    if set(map(type, customers)) != {dict}:
        not_objects = [row for row, c in enumerate(customers) if type(c) is not dict]
        message = "must be a customer object"
        raise listed([FieldProblem(field=where(row), message=message) for row in not_objects])
    found: list[tuple[int, FieldProblem]] = []
    layouts = set(map(tuple, customers))
    columns = _same_layout_columns(layouts, customers, schema)
    if columns is None:
        columns = _mixed_layout_columns(layouts, customers, schema, where, found)
    return _customer_columns(columns, len(customers), schema, path, found)


def _customer_columns(
    columns: dict[str, Sequence[Any]],
    count: int,
    schema: FeatureSchema,
    path: str,
    found: list[tuple[int, FieldProblem]],
    *,
    ids_checked: bool = False,
) -> Decoded:
    """Customer objects' columns, whose problems are named ``customers[7].age`` (or ``age``
    for a body that is one customer object); ``ids_checked``: the typed decoder has checked
    the ids' types and lengths already."""

    def where(row: int) -> str:
        return f"{path}[{row}]" if path else ""

    ids = columns.get(schema.id_column)
    if not ids_checked:
        found += bad_ids(ids, lambda row: _join(where(row), schema.id_column))

    def field_of(problem: RowProblem) -> str:
        return _join(where(problem.row), problem.column)

    return Decoded(
        columns, count, "records", field_of, customer_ids=ids, found=found, json_types=True
    )


def _same_layout_columns(
    layouts: set[tuple[str, ...]], customers: list[dict[str, Any]], schema: FeatureSchema
) -> dict[str, Sequence[Any]] | None:
    """The columns when every customer has the same known fields in the same order (what
    serialisers write), each gathered in C (``itemgetter``); None for any other batch."""
    if len(layouts) != 1:
        return None
    (layout,) = layouts
    name_of = schema.name_of()
    names = [name_of.get(key) for key in layout]
    if None in names or len(set(names)) != len(names) or not layout:
        return None
    # One pass per field (a transposing zip over 10,000 tuples was 5 times slower).
    gathered = [list(map(operator.itemgetter(key), customers)) for key in layout]
    columns: dict[str, Sequence[Any]] = dict(zip(names, gathered, strict=True))  # type: ignore[arg-type]
    for name in schema.names:
        columns.setdefault(name, [None] * len(customers))  # lacking a feature: each is named
    return columns


def _mixed_layout_columns(
    layouts: set[tuple[str, ...]],
    customers: list[dict[str, Any]],
    schema: FeatureSchema,
    where: Callable[[int], str],
    found: list[tuple[int, FieldProblem]],
) -> dict[str, Sequence[Any]]:
    """The columns of customers with different fields (or spellings, or unknown fields, which
    are added to ``found``)."""
    name_of = schema.name_of()
    spellings: dict[str, set[str]] = {}
    for layout in layouts:
        if layout and not any(schema.is_feature(name_of.get(key, "")) for key in layout):
            # Another model's customers (a client left on the old schema after a reload): say
            # so first, rather than only "age: unknown field (and 7 more problems)".
            message = (
                "none of its fields is one of the model's features: it reads "
                f"{', '.join(schema.names)}"
            )
            found += [
                (row, FieldProblem(field=where(row) or "body", message=message))
                for row, customer in enumerate(customers)
                if tuple(customer) == layout
            ]
        names: dict[str, str] = {}
        for key in layout:
            name = name_of.get(key)
            if name is None or name in names:
                message = (
                    "unknown field"
                    if name is None
                    else f"{quoted(names[name])} and {quoted(key)} both give {name!r}; send one"
                )
                found += [
                    (row, FieldProblem(field=_join(where(row), key), message=message))
                    for row, customer in enumerate(customers)
                    if tuple(customer) == layout
                ]
                continue
            names[name] = key
            spellings.setdefault(name, set()).add(key)
    columns: dict[str, Sequence[Any]] = {}
    for name in schema.request_names:
        keys = tuple(spellings.get(name, ()))
        if len(keys) == 1:
            (key,) = keys
            columns[name] = [customer.get(key) for customer in customers]
        elif keys:  # customers spell it differently (each customer one spelling: see above)
            columns[name] = [next((c[k] for k in keys if k in c), None) for c in customers]
        elif schema.is_feature(name):
            columns[name] = [None] * len(customers)  # every customer lacks it: each is named
    return columns


def _customer_list(document: dict[str, Any], max_batch: int) -> list[Any]:
    unknown = [key for key in document if key != "customers"]
    if unknown:
        raise listed([FieldProblem(field=str(key), message="unknown field") for key in unknown])
    customers = document["customers"]
    if type(customers) is not list:
        raise invalid("customers", "must be an array of customer objects")
    if not customers:
        raise invalid("customers", "must hold at least one customer")
    check_size(len(customers), max_batch, field="customers")
    return customers


def bad_ids(
    ids: Sequence[Any] | None, field: Callable[[int], str]
) -> list[tuple[int, FieldProblem]]:
    """Ids must be strings of at most 256 characters or integers (booleans are not ids)."""
    if ids is None:
        return []
    kinds = set(map(type, ids))
    if kinds <= _ID_TYPES and (
        str not in kinds or _longest_text(ids, kinds) <= MAX_CUSTOMER_ID_LENGTH
    ):
        return []
    message = f"must be a string of at most {MAX_CUSTOMER_ID_LENGTH} characters or an integer"
    return [
        (row, FieldProblem(field=field(row), message=message))
        for row, value in enumerate(ids)
        if type(value) not in _ID_TYPES
        or (type(value) is str and len(value) > MAX_CUSTOMER_ID_LENGTH)
    ]


def _longest_text(ids: Sequence[Any], kinds: set[type]) -> int:
    if kinds == {str}:
        return max(map(len, ids))  # in C: every id is text, the common case
    return max(len(v) for v in ids if type(v) is str)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------------------------------------
# the split layout


def split_columns(
    document: dict[str, Any], schema: FeatureSchema, max_batch: int, path: str = ""
) -> Decoded:
    """The split layout's customers; ``path``: where the layout sits in the body (MLflow's
    ``dataframe_split``), so that problems are named ``dataframe_split.data[3].age``."""
    prefix = f"{path}." if path else ""
    unknown = [key for key in document if key not in SPLIT_KEYS]
    if unknown:
        raise listed(
            [FieldProblem(field=f"{prefix}{key}", message="unknown field") for key in unknown]
        )
    fields = _split_fields(document["columns"], schema, f"{prefix}columns")
    return row_columns(
        fields,
        document["data"],
        schema,
        max_batch,
        data_path=f"{prefix}data",
        index=document.get("index"),
        index_path=f"{prefix}index",
    )


def row_columns(
    fields: list[str],
    data: Any,
    schema: FeatureSchema,
    max_batch: int,
    *,
    data_path: str,
    index: Any = None,
    index_path: str = "index",
    width_hint: str = "",
) -> Decoded:
    """Rows of values, one per field of ``fields`` (the schema's names), as columns; problems
    are named ``{data_path}[3].age``. ``width_hint`` ends the message of a row of the wrong
    length."""
    if type(data) is not list:
        raise invalid(data_path, "must be an array of rows, each an array of values")
    if not data:
        raise invalid(data_path, "must hold at least one row")
    check_size(len(data), max_batch, field=data_path)
    width = len(fields)
    if set(map(type, data)) != {list} or set(map(len, data)) != {width}:
        raise listed(_ragged_rows(data, width, data_path, width_hint))
    if index is not None and (type(index) is not list or len(index) != len(data)):
        raise invalid(index_path, f"must be an array with one entry per row of data ({len(data)})")
    columns: dict[str, Sequence[Any]] = dict(zip(fields, zip(*data, strict=True), strict=True))
    ids = columns.get(schema.id_column)
    found = bad_ids(ids, lambda row: f"{data_path}[{row}].{schema.id_column}")
    return Decoded(
        columns,
        len(data),
        "split",
        lambda problem: f"{data_path}[{problem.row}].{problem.column}",
        customer_ids=list(ids) if ids is not None else None,
        found=found,
        json_types=True,
        index=index,
    )


def _split_fields(names: Any, schema: FeatureSchema, path: str = "columns") -> list[str]:
    """The schema's name of each column; unknown, repeated and missing columns are refused."""
    if type(names) is not list or not names or not all(type(n) is str for n in names):
        raise invalid(path, "must be a non-empty array of column names")
    known = ", ".join((schema.id_column, *(f.name for f in schema.columns)))
    found = matched_columns(
        schema,
        names,
        lambda at: path if at is None else f"{path}[{at}]",
        unknown=lambda at: (
            f"unknown column {quoted(names[at])}; columns may be {known} or their aliases"
        ),
    )
    fields = [""] * len(names)
    for name, at in found.items():
        fields[at] = name
    return fields


def _ragged_rows(data: list[Any], width: int, path: str, hint: str) -> list[FieldProblem]:
    problems = []
    for row, values in enumerate(data):
        if type(values) is not list:
            message = f"must be an array of {width} values, one per column{hint}"
        elif len(values) != width:
            message = f"has {len(values)} values, but there are {width} columns{hint}"
        else:
            continue
        problems.append(FieldProblem(field=f"{path}[{row}]", message=message))
    return problems


def listed(problems: list[FieldProblem]) -> InvalidRequest:
    return InvalidRequest.from_problems(problems[:MAX_REPORTED_PROBLEMS], total=len(problems))


def invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest.from_problems([FieldProblem(field=field, message=message)])
