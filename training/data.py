"""Step 1 of training: read customers from a source and find every row that cannot be used.

The chosen columns are read in chunks, their schema is completed from the rows
(``training.columns``), and every row is checked against it with vectorised operations: every
problem (missing value, number that does not parse, value out of range, unknown level, repeated
customer id) is counted per column with example rows. By default a file with problems is refused
with that report; with ``drop_invalid`` the bad rows are left out and counted in the metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from segmentation.excerpts import counted, id_text, quoted
from segmentation.metadata import DataProblem, DataQuality, ProblemExample, TrainingData
from segmentation.rfm import OrdersError, read_order_customers
from segmentation.schema import ID_COLUMN, FeatureSchema, NumericFeature, SchemaError
from segmentation.sources import DataSource, SourceError, SourceReader, missing_words
from segmentation.validation import REPEATED_ID, as_text, check_columns, describe_problem
from training.columns import ColumnPlan, complete_schema

MAX_EXAMPLES = 5
DEFAULT_MIN_ROWS = 10


class DataError(Exception):
    """The training data cannot be used; the first line says where and why."""


@dataclass(frozen=True)
class CustomerData:
    """Validated customers: one float column per numeric column, categorical ones as
    ``pd.Categorical`` of their levels, under the schema's names."""

    frame: pd.DataFrame
    schema: FeatureSchema
    training_data: TrainingData
    quality: DataQuality

    @property
    def rows(self) -> int:
        return len(self.frame)

    def model_input(self) -> pd.DataFrame:
        """What the pipeline is fitted on: the features, numbers as floats and levels as text."""
        columns = {
            f.name: self.frame[f.name]
            if isinstance(f, NumericFeature)
            else self.frame[f.name].astype(object)
            for f in self.schema.features
        }
        return pd.DataFrame(columns, index=self.frame.index)


@dataclass
class _Problems:
    """Counts and example rows per (column, problem), in the order they were first seen."""

    line_numbers: bool
    # Rows made from orders have no line: they are named by their customer instead.
    customers: pd.Series | None = None
    found: dict[tuple[str, str], tuple[int, list[ProblemExample]]] = field(default_factory=dict)

    def add(
        self, column: str, problem: str, mask: np.ndarray, values: pd.Series, start: int
    ) -> None:
        count = int(mask.sum())
        if not count:
            return
        previous, examples = self.found.get((column, problem), (0, []))
        for position in np.flatnonzero(mask)[: MAX_EXAMPLES - len(examples)]:
            examples.append(
                ProblemExample(row=start + int(position) + 1, value=str(values.iloc[position]))
            )
        self.found[(column, problem)] = (previous + count, examples)

    def report(self) -> list[DataProblem]:
        return [
            DataProblem(column=column, problem=problem, count=count, examples=examples)
            for (column, problem), (count, examples) in self.found.items()
        ]

    def where(self, row: int) -> str:
        if self.customers is not None:
            customer = self.customers.iloc[row - 1]
            if pd.isna(customer) or not str(customer).strip():
                return f"row {row} as read (no customer_id)"
            return f"customer {quoted(id_text(customer))}"
        # Data rows count from 1; in a CSV the header is line 1, so row N is line N + 1.
        return f"row {row} (line {row + 1})" if self.line_numbers else f"row {row}"

    def example(self, row: int) -> str:
        """How the list of examples names a row: shorter than ``where``."""
        return self.where(row) if self.customers is not None else f"row {row}"


def load_customers(
    source: DataSource,
    plan: ColumnPlan,
    *,
    drop_invalid: bool = False,
    min_rows: int = DEFAULT_MIN_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> CustomerData:
    """Read every row of ``source``, complete the plan's schema from it, and validate every row;
    refuse or drop the bad ones."""
    reader = SourceReader(
        source,
        plan.feature_names,
        plan.name_of(),
        optional=[plan.id_column, *(str(t["name"]) for t in plan.attributes)],
        text_columns=sorted(plan.text_columns()),
    )
    raw = _read_all(reader, on_chunk)
    training_data = TrainingData(
        kind=source.kind, source=reader.name, sha256=reader.sha256(), rows=len(raw)
    )
    return check_customers(
        raw,
        plan,
        reader,
        training_data,
        drop_invalid=drop_invalid,
        min_rows=min_rows,
        line_numbers=source.kind == "csv",
    )


def load_order_customers(
    source: DataSource,
    plan: ColumnPlan,
    as_of: date | None,
    *,
    drop_invalid: bool = False,
    min_rows: int = DEFAULT_MIN_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> CustomerData:
    """Read every order of ``source``, turn them into one row of RFM features per customer
    (``segmentation.rfm``), and check those rows as any customer table is checked."""
    try:
        read = read_order_customers(source, as_of, on_chunk)
    except OrdersError as exc:
        if drop_invalid:
            raise DataError(
                f"{exc}\n--drop-invalid leaves out customers whose features are invalid, not "
                "orders: an order is part of its customer's totals, so correct or remove it"
            ) from None
        raise DataError(str(exc)) from None
    training_data = TrainingData(
        kind=source.kind,
        source=read.reader.name,
        sha256=read.sha256,
        rows=len(read.rfm.frame),
        transactions=read.rfm.summary,
    )
    return check_customers(
        read.rfm.frame,
        plan,
        read.reader,
        training_data,
        drop_invalid=drop_invalid,
        min_rows=min_rows,
        line_numbers=False,
        rows_are_customers=True,
    )


def _read_all(reader: SourceReader, on_chunk: Callable[[int], None] | None) -> pd.DataFrame:
    try:
        raw = reader.read_all(on_chunk)
    except SourceError as exc:
        raise DataError(str(exc)) from None
    if raw.empty:
        raise DataError(f"{reader.name}: no data rows (only a header, or an empty result)")
    return raw


def check_customers(
    raw: pd.DataFrame,
    plan: ColumnPlan,
    reader: SourceReader,
    training_data: TrainingData,
    *,
    drop_invalid: bool,
    min_rows: int,
    line_numbers: bool,
    rows_are_customers: bool = False,
) -> CustomerData:
    """Complete the plan's schema from ``raw`` and check every row against it. Problems name
    the customer, not a row, where a row's position finds nothing: rows made from orders
    (``rows_are_customers``), and a database table's, which come in no fixed order (an
    updated PostgreSQL row reads last)."""
    by_customer = rows_are_customers or reader.source.kind == "sql"
    customers = raw[ID_COLUMN] if by_customer and ID_COLUMN in raw.columns else None
    problems = _Problems(line_numbers=line_numbers, customers=customers)
    rows_read = len(raw)
    try:
        schema = complete_schema(plan, raw)
    except SchemaError as exc:
        raise DataError(f"{reader.name}: {exc}") from None
    raw = _missing_words_as_missing(raw, schema)
    checked = check_columns(raw, schema)
    for problem in checked.problems:
        problems.add(problem.column, problem.problem, problem.mask, problem.values, 0)
    valid = checked.valid
    if schema.id_column in raw.columns:
        ids = as_text(raw[schema.id_column]).str.strip()
        valid &= ~_duplicate_ids(ids, schema.id_column, problems)
    frame = checked.clean
    report = problems.report()
    if report and not drop_invalid:
        raise DataError(_refusal(reader, report, rows_read, problems))
    frame = frame[valid].reset_index(drop=True)
    if len(frame) < min_rows:
        raise DataError(
            f"{reader.name}: only {len(frame)} valid rows of {rows_read}, fewer than the "
            f"{min_rows} needed to train (see --min-rows)"
        )
    quality = DataQuality(
        rows_read=rows_read,
        rows_used=len(frame),
        rows_dropped=rows_read - len(frame),
        policy="drop_invalid" if drop_invalid else "fail",
        problems=report,
    )
    training_data = training_data.model_copy(update={"rows": len(frame)})
    return CustomerData(frame=frame, schema=schema, training_data=training_data, quality=quality)


def _missing_words_as_missing(raw: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """'NA', 'null' and the other words for "no value" are missing cells in a column of numbers
    (in a column of words they are levels, as the file wrote them)."""
    found = {
        column.name: words
        for column in schema.columns
        if isinstance(column, NumericFeature) and column.name in raw.columns
        for words in [missing_words(raw[column.name])]
        if words.any()
    }
    if not found:
        return raw
    return raw.assign(**{name: raw[name].mask(words) for name, words in found.items()})


def _duplicate_ids(ids: pd.Series, column: str, problems: _Problems) -> np.ndarray:
    """Flags every repeat of a customer id after its first row; blank ids are not compared."""
    present = ids.notna() & (ids != "")
    repeated = (ids.duplicated(keep="first") & present).to_numpy()
    problems.add(column, REPEATED_ID, repeated, ids, 0)
    return repeated


def _refusal(
    reader: SourceReader, report: list[DataProblem], rows_read: int, problems: _Problems
) -> str:
    """A first line that names the first problem, then one indented line per kind of problem."""
    bad_rows = sum(p.count for p in report)
    first = min(report, key=lambda p: p.examples[0].row or 0)
    example = first.examples[0]
    lines = [
        f"{reader.name}: column {reader.describe_column(first.column)}, "
        f"{problems.where(example.row or 0)}: "
        f"{describe_problem(first.problem, example.value)} "
        f"({counted(bad_rows, 'problem')} in {counted(rows_read, 'row')}; --drop-invalid trains "
        "without those rows)"
    ]
    for problem in report:
        examples = ", ".join(
            f"{problems.example(e.row or 0)}: {e.value!r}" for e in problem.examples
        )
        lines.append(f"  {problem.column}: {problem.count} x {problem.problem} ({examples})")
    return "\n".join(lines)
