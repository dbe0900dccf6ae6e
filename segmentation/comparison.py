"""What changes for customers when one model replaces another: who moves, from where to where.

Both models score the same customers with the scorer the service uses; the answer is the
transition matrix (customers per old segment and new segment), the share whose segment id stays
the same, and per segment id whether it is kept, new or retired, with its centre's shift in
original units. Training computes it on its own rows against the model it was aligned to
(``training.align``), ``segment-compare`` on any file or table, the service for two versions it
serves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.assigner import Assigner
from segmentation.excerpts import counted
from segmentation.metadata import (
    Comparison,
    RefusedValues,
    ScorerNumbers,
    SegmentChange,
    TrainingSummary,
    Transition,
)
from segmentation.validation import CheckedTable, RowProblem

NOT_SCORED = -1


@dataclass(frozen=True)
class ComparedModel:
    """One side of a comparison: a model's description, its scorer, and its version (None for
    a model being trained, which has none yet)."""

    summary: TrainingSummary
    assigner: Assigner
    version: str | None

    @classmethod
    def of(
        cls, summary: TrainingSummary, numbers: ScorerNumbers, version: str | None
    ) -> ComparedModel:
        return cls(summary, Assigner.from_summary(summary, numbers), version)


def segment_ids(assigner: Assigner, table: pd.DataFrame | pa.Table) -> np.ndarray:
    """Each row's segment id, ``NOT_SCORED`` for a row the model refuses."""
    return _scored(assigner, table)[0]


def _scored(assigner: Assigner, table: pd.DataFrame | pa.Table) -> tuple[np.ndarray, CheckedTable]:
    checked = assigner.check_table(table)
    ids = np.full(len(checked.valid), NOT_SCORED, dtype=np.int64)
    ids[checked.valid] = assigner.score(checked.rows).assignments.segment_ids
    return ids, checked


def compare(
    old: ComparedModel, new: ComparedModel, table: pd.DataFrame | pa.Table, data: str
) -> Comparison:
    """Score ``table`` with both models and count where each customer goes, and why any row
    either model refuses is left out."""
    before, old_checked = _scored(old.assigner, table)
    after, new_checked = _scored(new.assigner, table)
    refused = sorted(
        [
            *refusals(old_checked.problems, "old"),
            *refusals(new_checked.problems, "new"),
        ],
        key=lambda r: (-r.customers, r.model != "old", r.column, r.problem),
    )
    return count_transitions(old, new, before, after, data, refused)


def refusals(problems: Sequence[RowProblem], model: Literal["old", "new"]) -> list[RefusedValues]:
    """The rows a model refuses, counted per column and problem."""
    counts = Counter((problem.column, problem.problem) for problem in problems)
    return [
        RefusedValues(model=model, column=column, problem=kind, customers=count)
        for (column, kind), count in counts.items()
    ]


def count_transitions(
    old: ComparedModel,
    new: ComparedModel,
    before: np.ndarray,
    after: np.ndarray,
    data: str,
    refused: Sequence[RefusedValues] = (),
) -> Comparison:
    """The comparison from each customer's old and new segment id (``NOT_SCORED``: left out).

    ``kept_share`` and ``moved_share`` are shares of the customers both models score; with
    none, both are 0: no customer is known to keep their segment. Rows left out are counted,
    per model, and ``refused`` says why."""
    scored = (before != NOT_SCORED) & (after != NOT_SCORED)
    left_out_by_old = int((before == NOT_SCORED).sum())
    left_out_by_new = int((after == NOT_SCORED).sum())
    before, after = before[scored], after[scored]
    customers = int(scored.sum())
    pairs, counts = (
        np.unique(np.stack([before, after], axis=1), axis=0, return_counts=True)
        if customers
        else (np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.int64))
    )
    kept = int((before == after).sum())
    old_profiles = {p.id: p for p in old.summary.segments}
    new_profiles = {p.id: p for p in new.summary.segments}
    segments = []
    for segment in sorted(old_profiles.keys() | new_profiles.keys()):
        in_old, in_new = old_profiles.get(segment), new_profiles.get(segment)
        status = "kept" if in_old and in_new else "new" if in_new else "retired"
        segments.append(
            SegmentChange(
                id=segment,
                status=status,
                old_name=in_old.name if in_old else None,
                new_name=in_new.name if in_new else None,
                old_customers=int((before == segment).sum()),
                new_customers=int((after == segment).sum()),
                stayed=int(((before == segment) & (after == segment)).sum()),
                centroid_shift=in_new.centroid_shift_from(in_old) if in_old and in_new else {},
            )
        )
    return Comparison(
        old_version=old.version or "",
        new_version=new.version,
        data=data,
        customers=customers,
        left_out=len(scored) - customers,
        left_out_by_old=left_out_by_old,
        left_out_by_new=left_out_by_new,
        refused=list(refused),
        kept=kept,
        kept_share=kept / customers if customers else 0.0,
        moved=customers - kept,
        moved_share=(customers - kept) / customers if customers else 0.0,
        transitions=[
            Transition(source=int(source), target=int(target), customers=int(count))
            for (source, target), count in zip(pairs.tolist(), counts.tolist(), strict=True)
        ],
        segments=segments,
    )


def not_known_to_keep(comparison: Comparison) -> tuple[int, int, float]:
    """Customers not known to keep their segment (those who move and those left out), all the
    rows compared or left out, and the share: what ``segment-train --max-moved`` measures."""
    rows = comparison.customers + comparison.left_out
    unknown = comparison.moved + comparison.left_out
    return unknown, rows, unknown / rows if rows else 1.0


def describe_left_out(comparison: Comparison, limit: int = 3) -> str:
    """Why rows were left out, in words: ``593 refused by the old model (basket outside the
    valid range 4.1 to 400: 593)``; comparisons from before the reasons were recorded say
    only that a model refused them."""
    parts = []
    for model, count in (("old", comparison.left_out_by_old), ("new", comparison.left_out_by_new)):
        if not count:
            continue
        reasons = [r for r in comparison.refused if r.model == model]
        words = "; ".join(f"{r.column} {r.problem}: {r.customers:,}" for r in reasons[:limit])
        if len(reasons) > limit:
            words += f"; {len(reasons) - limit} more problems"
        parts.append(f"{count:,} refused by the {model} model" + (f" ({words})" if words else ""))
    return ", ".join(parts) or "refused by a model (a value outside its ranges or levels)"


def transition_matrix(comparison: Comparison) -> tuple[list[int], list[int], np.ndarray]:
    """Old ids (rows), new ids (columns) and the customer counts, every segment of each model
    included even when empty."""
    old_ids = [s.id for s in comparison.segments if s.status != "new"]
    new_ids = [s.id for s in comparison.segments if s.status != "retired"]
    matrix = np.zeros((len(old_ids), len(new_ids)), dtype=np.int64)
    rows = {segment: i for i, segment in enumerate(old_ids)}
    columns = {segment: i for i, segment in enumerate(new_ids)}
    for transition in comparison.transitions:
        matrix[rows[transition.source], columns[transition.target]] = transition.customers
    return old_ids, new_ids, matrix


def describe_moves(comparison: Comparison, limit: int = 3) -> list[str]:
    """The largest moves between different segments, in words a marketer reads: "412
    customers (8%) moved from 'Careful spenders' to 'Young, high spending'"."""
    names_before = {s.id: s.old_name for s in comparison.segments}
    names_after = {s.id: s.new_name for s in comparison.segments}
    moves = sorted(
        (t for t in comparison.transitions if t.source != t.target),
        key=lambda t: (-t.customers, t.source, t.target),
    )
    total = comparison.customers or 1
    return [
        f"{counted(t.customers, 'customer')} ({t.customers / total:.0%}) moved from "
        f"{_label(t.source, names_before)} to {_label(t.target, names_after)}"
        for t in moves[:limit]
    ]


def _label(segment: int, names: dict[int, str | None]) -> str:
    name = names.get(segment)
    return f"{segment} '{name}'" if name else str(segment)


def format_shift(shift: dict[str, float], columns: Sequence[str] | None = None) -> str:
    """``age +1.2, annual_income -0.4``: the columns that moved, in the given order."""
    shown = columns or list(shift)
    return ", ".join(f"{c} {shift[c]:+.3g}" for c in shown if c in shift and shift[c] != 0)
