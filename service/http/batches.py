"""A request's customers as columns: the one shape every payload format is decoded into.

Each body format (JSON objects, the pandas "split" layout, CSV, Arrow) only decodes its body into
:class:`Decoded` columns under the schema's names; :func:`checked` runs the one check of
``segmentation.validation`` on them and either refuses the body with every problem (the first
``MAX_REPORTED_PROBLEMS`` listed, all counted) or returns a :class:`Batch`: the model's input, the
customer ids, and how to echo the customers in a CSV or Arrow answer (with
``?invalid_rows=mark``, the failing rows' reasons too). Scoring and every answer format work from
it, so no format builds a Python object per customer on its way out.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, NoReturn

import numpy as np
import pyarrow as pa

from segmentation.schema import CategoricalFeature, ColumnsError, FeatureSchema
from segmentation.validation import (
    MAX_REPORTED_PROBLEMS,
    NO_LEVEL,
    CheckedTable,
    Column,
    RowProblem,
    check_table,
)
from service.http.errors import BatchTooLarge, FieldProblem, InvalidRequest

Layout = Literal["records", "split", "csv", "arrow"]
Levels = Mapping[str, np.ndarray]  # a categorical column's level codes, from the check


@dataclass(frozen=True)
class RowMarks:
    """``?invalid_rows=mark``: a table body's failing rows, kept to be answered with their
    reasons rather than refusing the body."""

    valid: np.ndarray  # per row of the body
    errors: list[str]  # per row of the body: "" for a valid row, else every problem in words

    @property
    def rejected(self) -> int:
        return int(len(self.valid) - self.valid.sum())


@dataclass(frozen=True)
class Batch:
    """Validated customers, in request order."""

    rows: np.ndarray  # (customers, features): the model's input (valid rows only when marking)
    # As sent, for a JSON answer; None when the body had no id column, or is a table (CSV,
    # Arrow) whose answer echoes it, ids included.
    customer_ids: Sequence[Any] | None
    layout: Layout
    # The customers as a CSV answer echoes them (built only when one is asked for).
    echo: Callable[[], pa.Table] = field(repr=False)
    index: list[Any] | None = None  # the split layout's "index", echoed in its answer
    marks: RowMarks | None = None  # when failing rows are marked rather than refused

    def __len__(self) -> int:
        return int(self.rows.shape[0])


@dataclass(frozen=True)
class Decoded:
    """A body's customers as columns under the schema's names, not yet checked."""

    columns: Mapping[str, Column]
    count: int
    layout: Layout
    field_of: Callable[[RowProblem], str]  # a problem's field in the body's own terms
    customer_ids: Sequence[Any] | None = None  # for a JSON answer
    found: Sequence[tuple[int, FieldProblem]] = ()  # (row, problem) in the body's shape
    json_types: bool = False  # numbers must be JSON numbers
    table: pa.Table | None = None  # a table body (CSV, Arrow), echoed as it came
    index: list[Any] | None = None  # the split layout's "index"
    # A problem where the body's author sees it (a CSV file's line and header), when the body
    # can say more than ``field_of``; run only for rows that fail.
    locate: Callable[[RowProblem], FieldProblem] | None = None


def checked(decoded: Decoded, schema: FeatureSchema, *, mark_invalid_rows: bool = False) -> Batch:
    """The decoded customers checked by the schema: a :class:`Batch`, or one 422 that lists
    every problem; with ``mark_invalid_rows`` failing rows are kept aside with their reasons
    instead (the batch's rows are then the valid ones).

    The one place a request's features meet the schema: how to echo them is settled first, so
    nothing after the check needs the schema again."""
    echo = _echo_of(decoded, schema)
    table = check_table(decoded.columns, schema, first_row=0, json_types=decoded.json_types)
    if decoded.found or (table.problems and not mark_invalid_rows):
        _refuse(decoded, table)  # shape problems (its ids) refuse a body even when marking
    return Batch(
        rows=table.rows,
        customer_ids=decoded.customer_ids,
        layout=decoded.layout,
        echo=partial(echo, table.levels),
        index=decoded.index,
        marks=_marks(decoded, table) if mark_invalid_rows else None,
    )


def _echo_of(decoded: Decoded, schema: FeatureSchema) -> Callable[[Levels], pa.Table]:
    body_table = decoded.table
    if body_table is None:
        return json_echo(schema, decoded.columns, decoded.count)  # type: ignore[arg-type]
    return lambda _levels: body_table


def _marks(decoded: Decoded, table: CheckedTable) -> RowMarks:
    errors = [""] * decoded.count
    for problem in table.problems:
        located = _as_field_problem(problem, decoded.field_of, decoded.locate)
        said = (
            located.message if located.line is not None else f"{located.field}: {located.message}"
        )
        row = problem.row
        errors[row] = f"{errors[row]}; {said}" if errors[row] else said
    return RowMarks(table.valid, errors)


def _refuse(decoded: Decoded, table: CheckedTable) -> NoReturn:
    """One 422 that lists every problem (up to the bound) under the body's own field names
    (``customers[3].age``, ``row 4.age``), in row order, and counts them all; the decoder's
    shape problems (``found``) first within a row."""
    found = decoded.found
    # Both lists are in row order; a row's shape problems come before its values'.
    merged = heapq.merge(
        ((row, 0, problem) for row, problem in sorted(found, key=lambda entry: entry[0])),
        ((p.row, 1, p) for p in table.problems),
        key=lambda entry: entry[:2],
    )
    listed = [
        _as_field_problem(item, decoded.field_of, decoded.locate)
        for _, _, item in itertools.islice(merged, MAX_REPORTED_PROBLEMS)
    ]
    rows = {row for row, _ in found} | {p.row for p in table.problems}
    raise InvalidRequest.from_problems(
        listed, total=len(found) + len(table.problems), rows=len(rows), customers=decoded.count
    )


def _as_field_problem(
    item: Any,
    field_of: Callable[[RowProblem], str],
    locate: Callable[[RowProblem], FieldProblem] | None,
) -> FieldProblem:
    if isinstance(item, FieldProblem):
        return item
    if locate is not None:
        return locate(item)
    return FieldProblem(field=field_of(item), message=item.message)


def check_size(customers: int, max_batch: int, *, field: str = "rows") -> None:
    """A 413 for a batch over the limit, named by the body's field (rows, customers, data)."""
    if customers > max_batch:
        raise BatchTooLarge(
            f"{field}: a batch of {customers} customers is over the limit of {max_batch} "
            "customers per request; split it into smaller batches"
        )


def row_field(problem: RowProblem) -> str:
    """A table's field name: ``row 4.age`` (rows counted from 1, as people count them)."""
    return f"row {problem.row + 1}.{problem.column}"


def matched_columns(
    schema: FeatureSchema,
    names: Sequence[str],
    field_at: Callable[[int | None], str],
    *,
    unknown: Callable[[int], str] | None = None,
) -> dict[str, int]:
    """Where each of the schema's columns is among a body's column names, by the schema's one
    rule (``FeatureSchema.match_headers``), or one 422 naming each problem's field
    (``field_at(position)``, None for the names as a whole). ``unknown`` words the refusal of a
    name the schema does not know; without it such columns are ignored (a table's extra
    columns are echoed)."""
    try:
        found, unknown_at = schema.match_headers(names)
    except ColumnsError as exc:
        raise _listed(
            [FieldProblem(field=field_at(at), message=message) for at, message in exc.problems]
        ) from None
    if unknown is not None and unknown_at:
        raise _listed([FieldProblem(field=field_at(at), message=unknown(at)) for at in unknown_at])
    return found


def _listed(problems: list[FieldProblem]) -> InvalidRequest:
    return InvalidRequest.from_problems(problems[:MAX_REPORTED_PROBLEMS], total=len(problems))


def table_columns(table: pa.Table, schema: FeatureSchema, *, layout: Layout) -> Decoded:
    """A table's customers (CSV or Arrow): columns found by name or alias, other columns
    ignored (and echoed), every cell checked."""
    found = matched_columns(
        schema, [str(name) for name in table.column_names], lambda _at: "columns"
    )
    id_column = schema.id_column
    columns = {name: table.column(at) for name, at in found.items() if name != id_column}
    # A table's answer echoes it, ids included: no Python string per id (a tenth of a CSV call).
    return Decoded(columns, table.num_rows, layout, field_of=row_field, table=table)


def json_echo(
    schema: FeatureSchema, columns: Mapping[str, Sequence[Any]], count: int
) -> Callable[[Levels], pa.Table]:
    """JSON customers as a CSV answer echoes them: the id, then each column sent, numbers as
    sent and levels as the schema spells them (from the check's level codes)."""

    def echo(levels: Levels) -> pa.Table:
        ids = columns.get(schema.id_column)
        echoed: dict[str, pa.Array] = {schema.id_column: _arrow_column(ids or [None] * count)}
        for feature in schema.columns:
            values = columns.get(feature.name)
            if values is None or all(v is None for v in values):
                continue
            codes = levels.get(feature.name)
            if isinstance(feature, CategoricalFeature) and codes is not None:
                # Each code's level, and None (the last entry) for a blank attribute.
                spelled = pa.array([*feature.levels, None], pa.string())
                echoed[feature.name] = spelled.take(
                    np.where(codes == NO_LEVEL, len(feature.levels), codes)
                )
            else:
                echoed[feature.name] = _arrow_column(values)
        return pa.table(echoed)

    return echo


def _arrow_column(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Ids that mix strings and integers: written as the text they read as.
        return pa.array([None if value is None else str(value) for value in values])
