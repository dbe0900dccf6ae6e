"""Step 1 of training: read customers from a source and find every row that cannot be used.

Each chunk is checked with vectorised operations, and every problem (missing value, number that
does not parse, value out of range, unknown gender, repeated customer id) is counted per column
with example rows. By default a file with problems is refused with that report; with
``drop_invalid`` the bad rows are left out and counted in the bundle's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segmentation.features import (
    CUSTOMER_ID,
    GENDER,
)
from segmentation.metadata import DataProblem, DataQuality, ProblemExample, TrainingData
from segmentation.sources import DataSource, SourceError, SourceReader, describe_column
from segmentation.validation import (
    REPEATED_ID,
    as_text,
    check_columns,
    describe_problem,
    gender_as_number,
)

MAX_EXAMPLES = 5
DEFAULT_MIN_ROWS = 10


class DataError(Exception):
    """The training data cannot be used; the first line says where and why."""


@dataclass(frozen=True)
class CustomerData:
    """Validated customers: one float column per numeric feature, gender as a category."""

    frame: pd.DataFrame
    training_data: TrainingData
    quality: DataQuality

    @property
    def rows(self) -> int:
        return len(self.frame)

    def feature_matrix(self, features: Sequence[str]) -> pd.DataFrame:
        """The model's input: one float column per feature, gender encoded as 1.0 = Female."""
        columns = {
            name: (gender_as_number(self.frame[name]) if name == GENDER else self.frame[name])
            for name in features
        }
        return pd.DataFrame(columns, index=self.frame.index)


@dataclass
class _Problems:
    """Counts and example rows per (column, problem), in the order they were first seen."""

    line_numbers: bool
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
        # Data rows count from 1; in a CSV the header is line 1, so row N is line N + 1.
        return f"row {row} (line {row + 1})" if self.line_numbers else f"row {row}"


def load_customers(
    source: DataSource,
    features: Sequence[str],
    *,
    drop_invalid: bool = False,
    min_rows: int = DEFAULT_MIN_ROWS,
    on_chunk: Callable[[int], None] | None = None,
) -> CustomerData:
    """Read and validate every row of ``source``; refuse or drop the bad ones."""
    reader = SourceReader(source, features)
    problems = _Problems(line_numbers=source.kind == "csv")
    parts: list[pd.DataFrame] = []
    valid_parts: list[np.ndarray] = []
    id_parts: list[pd.Series] = []
    rows_read = 0
    try:
        for chunk in reader.chunks():
            valid, clean = _validate_chunk(chunk, features, problems, rows_read)
            if CUSTOMER_ID in chunk.columns:
                id_parts.append(as_text(chunk[CUSTOMER_ID]).str.strip())
            parts.append(clean)
            valid_parts.append(valid)
            rows_read += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
        sha256 = reader.sha256()
    except SourceError as exc:
        raise DataError(str(exc)) from None
    if rows_read == 0:
        raise DataError(f"{reader.name}: no data rows (only a header, or an empty result)")
    valid = np.concatenate(valid_parts)
    if id_parts:
        valid &= ~_duplicate_ids(pd.concat(id_parts, ignore_index=True), problems)
    frame = pd.concat(parts, ignore_index=True)
    report = problems.report()
    if report and not drop_invalid:
        raise DataError(_refusal(reader.name, report, rows_read, problems))
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
    training_data = TrainingData(
        kind=source.kind, source=reader.name, sha256=sha256, rows=len(frame)
    )
    return CustomerData(frame=frame, training_data=training_data, quality=quality)


def _validate_chunk(
    chunk: pd.DataFrame, features: Sequence[str], problems: _Problems, start: int
) -> tuple[np.ndarray, pd.DataFrame]:
    checked = check_columns(chunk, list(features))
    for problem in checked.problems:
        problems.add(problem.column, problem.problem, problem.mask, problem.values, start)
    return checked.valid, checked.clean


def _duplicate_ids(ids: pd.Series, problems: _Problems) -> np.ndarray:
    """Flags every repeat of a customer id after its first row; blank ids are not compared."""
    present = ids.notna() & (ids != "")
    repeated = (ids.duplicated(keep="first") & present).to_numpy()
    problems.add(CUSTOMER_ID, REPEATED_ID, repeated, ids, 0)
    return repeated


def _refusal(name: str, report: list[DataProblem], rows_read: int, problems: _Problems) -> str:
    """A first line that names the first problem, then one indented line per kind of problem."""
    bad_rows = sum(p.count for p in report)
    first = min(report, key=lambda p: p.examples[0].row or 0)
    example = first.examples[0]
    lines = [
        f"{name}: column {describe_column(first.column)}, {problems.where(example.row or 0)}: "
        f"{describe_problem(first.problem, example.value)} "
        f"({bad_rows} problems in {rows_read} rows; --drop-invalid trains without those rows)"
    ]
    for problem in report:
        examples = ", ".join(f"row {e.row}: {e.value!r}" for e in problem.examples)
        lines.append(f"  {problem.column}: {problem.count} x {problem.problem} ({examples})")
    return "\n".join(lines)
