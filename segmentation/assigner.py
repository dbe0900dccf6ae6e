"""A bundle ready to assign customers: scoring, atypical flags, explanations, output columns.

The service (JSON and CSV) and offline scoring both go through this object, so a customer gets
the same segment, distance, flags and CSV columns whichever way it is scored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.nearest_centroid import Assignments, CentroidScorer, Explanations
from segmentation.schema import FeatureSchema
from segmentation.served_bundle import BundleView
from segmentation.validation import check_columns

# Columns appended to every scored row, in this order; explanations add the rest.
ASSIGNMENT_COLUMNS = ("segment_id", "segment_name", "distance", "atypical")
EXPLANATION_COLUMNS = ("runner_up_segment_id", "margin", "confidence")
CONTRIBUTION_PREFIX = "contribution_"
# A table with bad rows is refused with every problem listed, up to this many.
MAX_REPORTED_PROBLEMS = 100


@dataclass(frozen=True)
class RowProblem:
    """One problem of one row of a table of customers; ``row`` counts data rows from 1."""

    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Scored:
    rows: np.ndarray
    assignments: Assignments
    atypical: np.ndarray


@dataclass(frozen=True)
class CheckedTable:
    rows: np.ndarray  # the model's input, for valid rows only
    valid: np.ndarray
    problems: list[RowProblem]

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})

    @property
    def reported_problems(self) -> list[RowProblem]:
        """The problems a refusal lists: every one, up to ``MAX_REPORTED_PROBLEMS``."""
        return self.problems[:MAX_REPORTED_PROBLEMS]

    @property
    def unreported_problems(self) -> int:
        return max(0, len(self.problems) - MAX_REPORTED_PROBLEMS)

    def describe_first(self) -> str:
        first = self.problems[0]
        return f"row {first.row}, column {first.column!r}: {first.message}"


class MissingColumnsError(ValueError):
    """The table lacks a column the model needs, or has one twice (under two of its names)."""


@dataclass(frozen=True)
class Assigner:
    scorer: CentroidScorer
    schema: FeatureSchema
    segment_names: tuple[str, ...]
    atypical_limits: np.ndarray  # per segment: the p99 training distance
    # (input columns, features): 1 where a column encodes the feature, to sum the contributions
    # of a categorical feature's indicator columns into one.
    owners: np.ndarray

    @classmethod
    def from_bundle(cls, bundle: BundleView) -> Assigner:
        profiles = sorted(bundle.metadata.segments, key=lambda p: p.id)
        return cls.build(
            CentroidScorer.from_numbers(bundle.numbers),
            bundle.metadata.feature_schema,
            tuple(p.name for p in profiles),
            np.array([p.distances.p99 for p in profiles], dtype=np.float64),
        )

    @classmethod
    def build(
        cls,
        scorer: CentroidScorer,
        schema: FeatureSchema,
        segment_names: tuple[str, ...],
        atypical_limits: np.ndarray,
    ) -> Assigner:
        owner_of = schema.owner_of_columns()
        return cls(
            scorer=scorer,
            schema=schema,
            segment_names=segment_names,
            atypical_limits=atypical_limits,
            owners=np.array(
                [[owner == name for name in schema.names] for owner in owner_of], dtype=np.float64
            ),
        )

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    def score(self, rows: np.ndarray) -> Scored:
        """Assign rows; a customer farther from its centroid than 99% of that segment's
        training customers is atypical."""
        assignments = self.scorer.assign(rows)
        atypical = assignments.distances > self.atypical_limits[assignments.segment_ids]
        return Scored(rows=rows, assignments=assignments, atypical=atypical)

    def explain(self, scored: Scored) -> Explanations:
        """Explanations with one contribution per feature (a categorical feature's indicator
        columns summed)."""
        explained = self.scorer.explain(scored.rows, scored.assignments)
        if self.owners.shape[0] == self.owners.shape[1]:
            return explained  # one column per feature: nothing to sum
        return replace(explained, contributions=explained.contributions @ self.owners)

    def output_columns(
        self, scored: Scored, explain: bool, *, arrow_names: bool = False
    ) -> dict[str, Any]:
        """The columns appended to each scored row, for CSV answers and offline scoring.

        ``arrow_names``: the names as an Arrow string column taken from the k names in C, for
        callers writing Arrow tables (a numpy array of Python strings was a third of a
        10,000-row CSV answer once converted to Arrow).
        """
        ids = scored.assignments.segment_ids
        assigned = (
            ids,
            pa.array(self.segment_names, pa.string()).take(ids)
            if arrow_names
            else np.asarray(self.segment_names, dtype=object)[ids],
            scored.assignments.distances,
            scored.atypical,
        )
        columns: dict[str, Any] = dict(zip(ASSIGNMENT_COLUMNS, assigned, strict=True))
        if explain:
            explanations = self.explain(scored)
            explained = (explanations.runner_up_ids, explanations.margins, explanations.confidences)
            columns.update(zip(EXPLANATION_COLUMNS, explained, strict=True))
            for index, feature in enumerate(self.features):
                columns[CONTRIBUTION_PREFIX + feature] = explanations.contributions[:, index]
        return columns

    def check_table(self, table: pd.DataFrame, first_row: int = 1) -> CheckedTable:
        """Validate a table whose headers are the schema's names or aliases (other columns are
        ignored)."""
        name_of = self.schema.name_of()
        renamed = table.rename(columns=lambda c: name_of.get(str(c).strip(), str(c)))
        known = set(name_of.values())
        names = [str(c) for c in renamed.columns]
        repeated = sorted({n for n in names if n in known and names.count(n) > 1})
        if repeated:
            raise MissingColumnsError(
                f"two columns give {repeated[0]!r} (its name and an alias): keep one"
            )
        missing = [f for f in self.features if f not in renamed.columns]
        if missing:
            raise MissingColumnsError(
                f"missing column {missing[0]!r}: the model needs {', '.join(self.features)}"
            )
        needed = [f.name for f in self.schema.columns if f.name in renamed.columns]
        checked = check_columns(renamed[needed], self.schema)
        problems = [
            RowProblem(
                row=first_row + int(position),
                column=problem.column,
                message=problem.describe(int(position)),
            )
            for problem in checked.problems
            for position in np.flatnonzero(problem.mask)
        ]
        problems.sort(key=lambda p: (p.row, needed.index(p.column)))
        rows = checked.feature_matrix()[checked.valid]
        return CheckedTable(rows=rows, valid=checked.valid, problems=problems)
