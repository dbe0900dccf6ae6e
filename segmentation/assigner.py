"""A bundle ready to assign customers: scoring, atypical flags, explanations, output columns.

The service (JSON and CSV) and offline scoring both go through this object, so a customer gets
the same segment, distance, flags and CSV columns whichever way it is scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.metadata import ScorerNumbers, TrainingSummary
from segmentation.nearest_centroid import Assignments, CentroidScorer, Explanations
from segmentation.schema import FeatureSchema
from segmentation.served_bundle import BundleView
from segmentation.validation import CheckedTable, Column, check_table

# Columns appended to every scored row, in this order; explanations add the rest.
ASSIGNMENT_COLUMNS = ("segment_id", "segment_name", "distance", "atypical")
EXPLANATION_COLUMNS = ("runner_up_segment_id", "margin", "confidence")
CONTRIBUTION_PREFIX = "contribution_"


@dataclass(frozen=True)
class Scored:
    rows: np.ndarray
    assignments: Assignments
    atypical: np.ndarray


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
        return cls.from_summary(bundle.metadata, bundle.numbers)

    @classmethod
    def from_summary(cls, summary: TrainingSummary, numbers: ScorerNumbers) -> Assigner:
        """From a model's description and numbers, written as a bundle or not yet (training
        compares a new model with the one it replaces before writing it)."""
        profiles = sorted(summary.segments, key=lambda p: p.id)
        return cls.build(
            CentroidScorer.from_numbers(numbers, summary.segment_ids),
            summary.feature_schema,
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
        atypical = assignments.distances > self.atypical_limits[assignments.positions]
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
        positions = scored.assignments.positions
        assigned = (
            scored.assignments.segment_ids,
            pa.array(self.segment_names, pa.string()).take(positions)
            if arrow_names
            else np.asarray(self.segment_names, dtype=object)[positions],
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

    def check_table(self, table: pd.DataFrame | pa.Table, first_row: int = 1) -> CheckedTable:
        """Validate a table whose headers are the schema's names or aliases (other columns are
        ignored); raises :class:`ColumnsError` when a feature's column is missing or doubled.
        An Arrow table's columns are checked as they are, with Arrow's kernels."""
        column: Callable[[int], Column]
        if isinstance(table, pa.Table):
            headers, column = table.column_names, table.column
        else:
            headers, column = list(table.columns), lambda position: table.iloc[:, position]
        found, _ = self.schema.match_headers([str(c) for c in headers])
        columns = {
            name: column(position)
            for name, position in found.items()
            if name != self.schema.id_column
        }
        return check_table(columns, self.schema, first_row=first_row)
