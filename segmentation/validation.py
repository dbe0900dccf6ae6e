"""Vectorised checks of customer columns, shared by training, the CSV API and offline scoring.

Each check returns the clean values and, per kind of problem, a mask of the rows that have it,
with the original values for messages. Callers decide what to do with them: training counts them
with examples, the service lists the bad rows in one 4xx, offline scoring refuses or marks them.
The ranges are the feature catalogue's, so every entry point accepts exactly the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.features import GENDER, GENDER_ENCODING, GENDER_VALUES, NUMERIC_FEATURES

UNKNOWN_GENDER = "Unknown"
MISSING = "missing value"
NOT_A_NUMBER = "not a number"
NOT_A_GENDER = "not 'Female' or 'Male'"
REPEATED_ID = "repeated customer id"


def out_of_range_problem(feature: str) -> str:
    return f"outside the valid range {NUMERIC_FEATURES[feature].describe_range()}"


@dataclass(frozen=True)
class ColumnProblem:
    """Rows of one column that share one problem."""

    column: str
    problem: str
    mask: np.ndarray
    values: pd.Series

    def describe(self, position: int) -> str:
        return describe_problem(self.problem, str(self.values.iloc[position]))


def gender_as_number(column: pd.Series) -> pd.Series:
    """The model's input for a column of canonical genders: 1.0 for Female, 0.0 for Male."""
    return column.map(GENDER_ENCODING).astype("float64")


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
    """Clean columns (floats, gender as a category) and every problem found."""

    clean: pd.DataFrame
    problems: list[ColumnProblem]
    valid: np.ndarray

    def feature_matrix(self, features: list[str]) -> np.ndarray:
        """The model's input, gender encoded 1.0 = Female; meaningful for valid rows only."""
        columns = [
            gender_as_number(self.clean[name]).to_numpy()
            if name == GENDER
            else self.clean[name].to_numpy(dtype="float64")
            for name in features
        ]
        return np.column_stack(columns) if columns else np.empty((len(self.clean), 0))


def check_columns(frame: pd.DataFrame, features: list[str]) -> CheckedColumns:
    """Check the feature columns (and gender, when present) of snake_case ``frame``."""
    problems: list[ColumnProblem] = []
    clean = pd.DataFrame(index=frame.index)
    for name in features:
        if name in NUMERIC_FEATURES:
            clean[name], found = _numeric(frame[name], name)
            problems += found
    if GENDER in frame.columns:
        clean[GENDER], found = _gender(frame[GENDER], required=GENDER in features)
        problems += found
    valid = np.ones(len(frame), dtype=bool)
    for problem in problems:
        valid &= ~problem.mask
    return CheckedColumns(clean=clean, problems=problems, valid=valid)


def _numeric(column: pd.Series, name: str) -> tuple[np.ndarray, list[ColumnProblem]]:
    feature = NUMERIC_FEATURES[name]
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
        ColumnProblem(name, MISSING, missing, text),
        ColumnProblem(name, NOT_A_NUMBER, unparsable, text),
        ColumnProblem(name, out_of_range_problem(name), out_of_range, text),
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


def _gender(
    column: pd.Series, *, required: bool
) -> tuple[pd.Categorical[str], list[ColumnProblem]]:
    text = as_text(column).str.strip()
    blank = (column.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    canonical = text.str.capitalize()
    known = canonical.isin(GENDER_VALUES).to_numpy()
    unknown_value = ~blank & ~known
    missing = blank & required
    labels = np.where(known, canonical.to_numpy(dtype=object, na_value=""), UNKNOWN_GENDER)
    gender = pd.Categorical(labels, categories=[*GENDER_VALUES, UNKNOWN_GENDER])
    problems = [
        ColumnProblem(GENDER, MISSING, missing, text),
        ColumnProblem(GENDER, NOT_A_GENDER, unknown_value, text),
    ]
    return gender, [p for p in problems if p.mask.any()]


def as_text(column: pd.Series) -> pd.Series:
    return column if pd.api.types.is_string_dtype(column) else column.astype("str")
