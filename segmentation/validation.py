"""The one check of customer columns against a feature schema, and the model's input built from
the clean columns. Training, the service (every body format), offline scoring, the database and
Spark all validate through :func:`check_columns`, so every entry point accepts the same values.

Each check returns the clean values and, per kind of problem, a mask of the rows that have it,
with the original values for messages. Callers decide what to do with them: training counts them
with examples, the service lists the bad rows in one 4xx, offline scoring refuses or marks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.schema import CategoricalFeature, FeatureSchema, NumericFeature

MISSING = "missing value"
NOT_A_NUMBER = "not a number"
REPEATED_ID = "repeated customer id"
# Code of a blank attribute value: attributes are optional, features are not.
NO_LEVEL = -1


def out_of_range_problem(feature: NumericFeature) -> str:
    return f"outside the valid range {feature.describe_range()}"


def not_a_level_problem(feature: CategoricalFeature) -> str:
    if len(feature.levels) == 2:
        return f"not {feature.levels[0]!r} or {feature.levels[1]!r}"
    return f"not one of {feature.describe_levels()}"


@dataclass(frozen=True)
class ColumnProblem:
    """Rows of one column that share one problem."""

    column: str
    problem: str
    mask: np.ndarray
    values: pd.Series

    def describe(self, position: int) -> str:
        return describe_problem(self.problem, str(self.values.iloc[position]))


def describe_problem(problem: str, value: str) -> str:
    """One row's problem in words, e.g. ``value 'abc' is not a number``."""
    if problem == MISSING:
        return MISSING
    if problem.startswith("outside"):
        return f"value {value} is {problem}"
    if problem == REPEATED_ID:
        return f"customer id {value!r} is repeated"
    return f"value {value!r} is {problem}"


@dataclass(frozen=True)
class CheckedColumns:
    """Clean columns (floats; categorical ones as ``pd.Categorical`` of the schema's levels) and
    every problem found."""

    schema: FeatureSchema
    clean: pd.DataFrame
    problems: list[ColumnProblem]
    valid: np.ndarray

    def feature_matrix(self) -> np.ndarray:
        """The model's input (``schema.encoded_columns()``); meaningful for valid rows only."""
        columns: dict[str, np.ndarray] = {}
        for feature in self.schema.features:
            column = self.clean[feature.name]
            if isinstance(feature, NumericFeature):
                columns[feature.name] = column.to_numpy(dtype="float64")
            else:
                columns[feature.name] = np.asarray(column.cat.codes, dtype=np.intp)
        return encode(columns, self.schema)


def encode(columns: Mapping[str, np.ndarray | list[float]], schema: FeatureSchema) -> np.ndarray:
    """The model's input from clean columns: numbers (log1p applied where the schema says so)
    and, for a categorical feature given as level codes (positions in its levels), its
    indicator columns."""
    rows = len(next(iter(columns.values())))
    matrix = np.empty((rows, schema.width), dtype=np.float64)
    position = 0
    for feature in schema.features:
        values = columns[feature.name]
        if isinstance(feature, NumericFeature):
            if feature.transform == "log1p":
                # Invalid rows (out of range, unparsable) may be encoded too, and are dropped.
                with np.errstate(invalid="ignore", divide="ignore"):
                    values = np.log1p(values)
            matrix[:, position] = values
            position += 1
        elif feature.encoding == "first_level":
            matrix[:, position] = np.equal(values, 0)
            position += 1
        else:
            width = len(feature.levels)
            block = matrix[:, position : position + width]
            block[:] = 0.0
            codes = np.asarray(values, dtype=np.intp)
            known = np.flatnonzero(codes >= 0)  # an invalid row's code is NO_LEVEL: no indicator
            block[known, codes[known]] = 1.0
            position += width
    return matrix


def check_columns(frame: pd.DataFrame, schema: FeatureSchema) -> CheckedColumns:
    """Check every feature column, and the attribute columns ``frame`` has, of a frame whose
    columns carry the schema's names."""
    problems: list[ColumnProblem] = []
    clean = pd.DataFrame(index=frame.index)
    for feature in schema.columns:
        if feature.name not in frame.columns:
            continue
        required = schema.is_feature(feature.name)
        if isinstance(feature, NumericFeature):
            clean[feature.name], found = _numeric(frame[feature.name], feature, required=required)
        else:
            clean[feature.name], found = _categorical(
                frame[feature.name], feature, required=required
            )
        problems += found
    valid = np.ones(len(frame), dtype=bool)
    for problem in problems:
        valid &= ~problem.mask
    return CheckedColumns(schema=schema, clean=clean, problems=problems, valid=valid)


def _numeric(
    column: pd.Series, feature: NumericFeature, *, required: bool
) -> tuple[np.ndarray, list[ColumnProblem]]:
    name = feature.name
    missing = column.isna().to_numpy()
    text: pd.Series | None
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        text = column
    elif (parsed := _plain_numbers(column)) is not None:
        values, text = parsed, None  # stripped below, only when a cell has to be named
    else:
        text = as_text(column).str.strip()
        missing = missing | (text == "").to_numpy(dtype=bool, na_value=True)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    unparsable = ~missing & ~np.isfinite(values)
    with np.errstate(invalid="ignore"):
        out_of_range = (
            ~missing & ~unparsable & ((values < feature.minimum) | (values > feature.maximum))
        )
    if text is None:
        text = column.str.strip() if (unparsable | out_of_range).any() else column
    problems = [
        ColumnProblem(name, MISSING, missing & required, text),
        ColumnProblem(name, NOT_A_NUMBER, unparsable, text),
        ColumnProblem(name, out_of_range_problem(feature), out_of_range, text),
    ]
    return values, [p for p in problems if p.mask.any()]


def _plain_numbers(column: pd.Series) -> np.ndarray | None:
    """Arrow's parser on a pandas column of Arrow text (offline scoring reads files so), else
    None; the slower path then names each bad cell."""
    if not isinstance(column.dtype, pd.StringDtype) or column.dtype.storage != "pyarrow":
        return None
    return plain_numbers(pa.array(column))


def plain_numbers(text: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Arrow text as float64 when every cell is a number (whitespace around it allowed), in C.

    Several times faster than ``pd.to_numeric``. Arrow refuses the whole column at the first
    cell that is not a number, is blank or is null, and the caller then takes a slower path
    that names each bad cell; the cells Arrow accepts, pandas parses to the same numbers.
    """
    if text.null_count:
        return None
    try:
        numbers = pc.cast(pc.utf8_trim_whitespace(text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)


def _categorical(
    column: pd.Series, feature: CategoricalFeature, *, required: bool
) -> tuple[pd.Categorical[str], list[ColumnProblem]]:
    text = as_text(column).str.strip()
    blank = (column.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    spelled = feature.level_of()
    canonical = text.str.casefold().map(spelled)
    known = canonical.notna().to_numpy()
    codes = np.where(
        known, pd.Categorical(canonical, categories=list(feature.levels)).codes, NO_LEVEL
    )
    levels = pd.Categorical.from_codes(
        codes.astype(np.intp), categories=pd.Index(list(feature.levels))
    )
    problems = [
        ColumnProblem(feature.name, MISSING, blank & required, text),
        ColumnProblem(feature.name, not_a_level_problem(feature), ~blank & ~known, text),
    ]
    return levels, [p for p in problems if p.mask.any()]


def arrow_model_input(
    columns: Mapping[str, pa.Array | pa.ChunkedArray], schema: FeatureSchema
) -> np.ndarray | None:
    """The model's input from Arrow columns (text or typed, under the schema's names), in C,
    when every feature cell is valid and every attribute column present is valid too; None
    otherwise, and the caller runs :func:`check_columns`, which names each bad cell."""
    raw: dict[str, np.ndarray] = {}
    for feature in schema.columns:
        column = columns.get(feature.name)
        if column is None:
            if schema.is_feature(feature.name):
                return None
            continue
        if isinstance(feature, NumericFeature):
            numbers = _arrow_numbers(column)
            if numbers is None:
                return None
            if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
                return None  # NaN fails both comparisons, so it is refused too
            raw[feature.name] = numbers
        elif schema.is_feature(feature.name):
            codes = level_codes(column, feature)
            if codes is None:
                return None
            raw[feature.name] = codes
        elif not levels_or_blank(column, feature):
            return None
    return encode({name: raw[name] for name in schema.names}, schema)


def _arrow_numbers(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return plain_numbers(column)
    if column.null_count or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return None
    return np.asarray(column.to_numpy(), dtype=np.float64)


def level_codes(text: pa.Array | pa.ChunkedArray, feature: CategoricalFeature) -> np.ndarray | None:
    """Arrow text as level codes when every cell is a level (any letter case, trimmed), in C;
    None otherwise, and the caller's slower path names the bad cells."""
    if text.null_count or not (
        pa.types.is_string(text.type) or pa.types.is_large_string(text.type)
    ):
        return None
    folded = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    position = pc.index_in(folded, value_set=_folded_levels(feature))
    if position.null_count:
        return None
    return np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.intp)


def levels_or_blank(text: pa.Array | pa.ChunkedArray, feature: CategoricalFeature) -> bool:
    """An attribute column (optional): every cell blank, null or a level."""
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return False
    folded = pc.fill_null(pc.utf8_lower(pc.utf8_trim_whitespace(text)), "")
    known = pc.is_in(folded, value_set=_folded_levels(feature))
    return bool(pc.all(pc.or_(known, pc.equal(folded, ""))).as_py())


def _folded_levels(feature: CategoricalFeature) -> pa.Array:
    # Arrow's lower-casing, which equals casefold() for the levels people write.
    return pa.array([level.strip().lower() for level in feature.levels])


def as_text(column: pd.Series) -> pd.Series:
    return column if pd.api.types.is_string_dtype(column) else column.astype("str")
