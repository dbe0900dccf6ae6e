"""Scoring a Spark DataFrame with a bundle: the same assigner as the service and segment-score.

One scorer, three callers. The bundle is loaded and verified on the driver (``load_bundle``
checks its sha256 and scikit-learn version); executors receive only its numbers (the scaler's
mean and scale, the centroids, each segment's p99 training distance, the names) and rebuild the
``Assigner`` from them: never a pickle. Only the feature columns travel to Python, through an
Arrow-backed pandas UDF; every other column stays in the JVM untouched.

Bad rows are never scored or dropped silently: ``on_invalid="fail"`` (the default) fails the
job, and :func:`run_checked` turns that failure into :class:`InvalidRowsError`, whose message
names the column and the problem with a sample of offending rows and their count;
``on_invalid="flag"`` keeps such rows with null assignment columns and says why in ``problem``.
Needs the ``[spark]`` extra (pyspark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.pandas.functions import pandas_udf

from segmentation.assigner import ASSIGNMENT_COLUMNS, CONTRIBUTION_PREFIX, Assigner
from segmentation.bundle import Bundle
from segmentation.excerpts import counted
from segmentation.nearest_centroid import CentroidScorer
from segmentation.schema import FeatureSchema
from segmentation.validation import RowProblem
from spark_engine.session import feature_sources, quiet_task_failures, spark_input

OnInvalid = Literal["fail", "flag"]
PROBLEM_COLUMN: Final = "problem"
# Executors raise with this text; the driver recognises it inside Spark's wrapped exception.
INVALID_ROWS_MARKER: Final = "segment-score: invalid rows in a batch"
SAMPLE_ROWS: Final = 5
_STRUCT: Final = "__segment_assignment"
# numpy kind -> a pandas dtype that holds nulls, for the invalid rows of a flagged batch.
_NULLABLE: Final = {"b": "boolean", "i": "Int64", "u": "Int64", "f": "Float64"}
R = TypeVar("R")


class SparkScoringError(Exception):
    """The DataFrame cannot be scored (a missing column, say); the message says why."""


class InvalidRowsError(SparkScoringError):
    """Rows with a null, non-numeric or out-of-range feature stopped the job."""


@dataclass(frozen=True)
class ModelArrays:
    """All an executor needs to assign customers: numbers and names, no pickle, no sklearn."""

    schema: FeatureSchema
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    atypical_limits: tuple[float, ...]
    segment_names: tuple[str, ...]
    segment_ids: tuple[int, ...]  # of each centroid row

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> ModelArrays:
        assigner = Assigner.from_bundle(bundle)
        scorer = assigner.scorer
        return cls(
            schema=assigner.schema,
            mean=tuple(scorer.mean.tolist()),
            scale=tuple(scorer.scale.tolist()),
            centroids=tuple(tuple(row) for row in scorer.centroids.tolist()),
            atypical_limits=tuple(assigner.atypical_limits.tolist()),
            segment_names=assigner.segment_names,
            segment_ids=tuple(scorer.segment_ids.tolist()),
        )

    def assigner(self) -> Assigner:
        scorer = CentroidScorer.build(self.mean, self.scale, self.centroids, self.segment_ids)
        return Assigner.build(
            scorer,
            self.schema,
            self.segment_names,
            np.asarray(self.atypical_limits, dtype=np.float64),
        )

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.schema.names)


def output_fields(
    features: Sequence[str], explain: bool, on_invalid: OnInvalid
) -> list[T.StructField]:
    """The appended columns and their Spark types, in the order segment-score writes them."""
    fields = [
        T.StructField("segment_id", T.LongType()),
        T.StructField("segment_name", T.StringType()),
        T.StructField("distance", T.DoubleType()),
        T.StructField("atypical", T.BooleanType()),
    ]
    if explain:
        fields += [
            T.StructField("runner_up_segment_id", T.LongType()),
            T.StructField("margin", T.DoubleType()),
            T.StructField("confidence", T.DoubleType()),
            *(T.StructField(CONTRIBUTION_PREFIX + f, T.DoubleType()) for f in features),
        ]
    if on_invalid == "flag":
        fields.append(T.StructField(PROBLEM_COLUMN, T.StringType()))
    assert [f.name for f in fields[:4]] == list(ASSIGNMENT_COLUMNS)
    return fields


def assign_segments(
    df: DataFrame,
    bundle: Bundle,
    *,
    explain: bool = False,
    columns: Mapping[str, str] | None = None,
    on_invalid: OnInvalid = "fail",
) -> DataFrame:
    """``df`` with segment_id, segment_name, distance and atypical appended (and the explanation
    columns with ``explain``, and ``problem`` with ``on_invalid="flag"``).

    ``bundle`` comes from ``load_bundle``, which has verified it. Columns of ``df`` named like an
    appended one (a table scored before) are replaced. Lazy, like any DataFrame: with
    ``on_invalid="fail"`` an invalid row fails the job that evaluates it; wrap that action in
    :func:`run_checked` for a message that counts and shows the invalid rows.
    """
    if on_invalid not in ("fail", "flag"):
        raise ValueError(f"on_invalid must be 'fail' or 'flag', got {on_invalid!r}")
    arrays = ModelArrays.from_bundle(bundle)
    sources = feature_sources(df.columns, arrays.schema, columns)
    inputs = [f.name for f in arrays.schema.columns if f.name in sources]
    fields = output_fields(arrays.features, explain, on_invalid)
    # The stubs' overloads spell out one to four fixed arguments; ours takes one per input.
    score = pandas_udf(  # type: ignore[call-overload]
        _batch_scorer(arrays, inputs, explain, on_invalid), returnType=T.StructType(fields)
    )
    appended = {f.name for f in fields}
    kept = [c for c in df.columns if c not in appended]
    arguments = [spark_input(df, sources[name], arrays.schema.feature(name)) for name in inputs]
    with_struct = df.select(*kept, score(*arguments).alias(_STRUCT))
    return with_struct.select(*kept, *(F.col(f"{_STRUCT}.{f.name}").alias(f.name) for f in fields))


def run_checked(
    action: Callable[[], R],
    df: DataFrame,
    bundle: Bundle,
    columns: Mapping[str, str] | None = None,
) -> R:
    """Run a Spark action on scored rows; an invalid row becomes an :class:`InvalidRowsError`
    that counts every invalid row of ``df`` and shows a sample of them (a second job, run only
    on failure). That message is the whole story, so Spark's logs of the failed tasks (their
    tracebacks, hundreds of lines) are held back meanwhile; any other failure is raised as it is.
    """
    with quiet_task_failures(df.sparkSession):
        try:
            return action()
        except Exception as exc:
            if INVALID_ROWS_MARKER not in str(exc):
                raise
        # Still quiet: a task of the failed job may log its failure while this one runs.
        raise InvalidRowsError(describe_invalid_rows(df, bundle, columns)) from None


def describe_invalid_rows(
    df: DataFrame, bundle: Bundle, columns: Mapping[str, str] | None = None
) -> str:
    """Which rows of ``df`` cannot be scored: how many, and a sample with their problems."""
    arrays = ModelArrays.from_bundle(bundle)
    sources = feature_sources(df.columns, arrays.schema, columns)
    needed = list(dict.fromkeys(sources.values()))
    flagged = assign_segments(df.select(*needed), bundle, columns=columns, on_invalid="flag").where(
        F.col(PROBLEM_COLUMN).isNotNull()
    )
    rows = flagged.select(*needed, PROBLEM_COLUMN).limit(SAMPLE_ROWS).collect()
    total = flagged.count()
    if not rows:
        return "invalid rows were found while scoring, but none on a second look at the input"
    first = rows[0][PROBLEM_COLUMN]
    lines = [
        f"{first} ({counted(total, 'invalid row')}; nothing was written; --on-invalid flag "
        f"keeps them with a null segment and a '{PROBLEM_COLUMN}' column)",
        f"  a sample of {len(rows)}:",
    ]
    for row in rows:
        values = ", ".join(f"{c}={row[c]!r}" for c in needed)
        lines.append(f"  {values}: {row[PROBLEM_COLUMN]}")
    return "\n".join(lines)


def _batch_scorer(
    arrays: ModelArrays, inputs: Sequence[str], explain: bool, on_invalid: OnInvalid
) -> Callable[..., pd.DataFrame]:
    """The function executors run on each Arrow batch: check, assign, explain."""
    names = list(inputs)
    fields = [f.name for f in output_fields(arrays.features, explain, on_invalid)]

    def score(*series: pd.Series) -> pd.DataFrame:
        assigner = arrays.assigner()
        table = pd.DataFrame(dict(zip(names, series, strict=True)))
        checked = assigner.check_table(table, first_row=0)
        if checked.problems and on_invalid == "fail":
            raise ValueError(f"{INVALID_ROWS_MARKER}: {_problem_text(checked.problems[0])}")
        computed = assigner.output_columns(assigner.score(checked.rows), explain)
        if not checked.problems:
            if on_invalid == "flag":
                computed[PROBLEM_COLUMN] = np.full(len(checked.rows), None, dtype=object)
            return pd.DataFrame(computed, columns=fields)
        return _with_invalid_rows(computed, checked.valid, checked.problems, fields)

    return score


def _with_invalid_rows(
    computed: Mapping[str, np.ndarray],
    valid: np.ndarray,
    problems: Iterable[RowProblem],
    fields: Sequence[str],
) -> pd.DataFrame:
    """Valid rows' results in place, nulls for the invalid rows and the reason in ``problem``."""
    rows = len(valid)
    out: dict[str, pd.Series] = {}
    for name, values in computed.items():
        array = np.asarray(values)
        column = pd.Series([None] * rows, dtype=_NULLABLE.get(array.dtype.kind, "object"))
        column[valid] = array
        out[name] = column
    texts: list[str | None] = [None] * rows
    for row, text in _problems_by_row(problems).items():
        texts[row] = text
    out[PROBLEM_COLUMN] = pd.Series(texts, dtype=object)
    return pd.DataFrame(out, columns=list(fields))


def _problems_by_row(problems: Iterable[RowProblem]) -> dict[int, str]:
    by_row: dict[int, list[str]] = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(_problem_text(problem))
    return {row: "; ".join(texts) for row, texts in by_row.items()}


def _problem_text(problem: RowProblem) -> str:
    return f"column {problem.column!r}: {problem.message}"
