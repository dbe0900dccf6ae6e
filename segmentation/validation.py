"""The one check of customer columns against a feature schema, and the model's input built from
the clean columns.

Every way customers arrive ends here. A request body (JSON objects, the split layout, CSV, Arrow)
is decoded into named columns and checked by :func:`check_table`; offline scoring, the database
and Spark check their chunks by the same function, and training checks its table with
:func:`check_columns`, which :func:`check_table` runs whenever a value is not plainly valid. So
every entry point accepts the same values and words a refusal the same way.

:func:`check_table` first tries a fast path per column (Arrow compute kernels for Arrow columns,
one type test per column for JSON values); any column that is not plainly valid sends the table
to :func:`check_columns`, which names every bad cell. The two can only disagree on speed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.excerpts import quoted
from segmentation.schema import CategoricalFeature, ColumnsError, FeatureSchema, NumericFeature

MISSING = "missing value"
# A refusal lists every problem up to this many, and says how many there were in all.
MAX_REPORTED_PROBLEMS = 100
NOT_A_NUMBER = "not a number"
NOT_A_JSON_NUMBER = "not a JSON number"  # "35" in JSON: a string, which a typed API refuses
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
        return f"customer id {quoted(value)} is repeated"
    if problem in (NOT_A_NUMBER, NOT_A_JSON_NUMBER):
        return f"value {quoted(value)} is {problem}{number_hint(value)}"
    return f"value {quoted(value)} is {problem}"


_DECIMAL_COMMA = re.compile(r"^\s*([+-]?\d+),(\d+)\s*$")
_SUFFIXED = re.compile(r"^\s*([+-]?\d+(?:[.,]\d+)?)\s*([kKmM])\s*$")
_MULTIPLIERS = {"k": 1_000, "m": 1_000_000}


def number_hint(value: str) -> str:
    """A hint for numbers people write that a file or API must not guess at: a decimal comma
    (``34,5``: is it 34.5 or 345?) and a thousands suffix (``45k``). Not accepted silently."""
    comma = _DECIMAL_COMMA.match(value)
    if comma:
        whole, part = comma.groups()
        if len(part) == 3:  # 1,000 may be a thousand: say both readings
            return (
                f": write {whole}{part} without a separator, or use a decimal point: {whole}.{part}"
            )
        return f": use a decimal point: {whole}.{part}"
    suffixed = _SUFFIXED.match(value)
    if suffixed:
        number = (
            float(suffixed.group(1).replace(",", ".")) * _MULTIPLIERS[suffixed.group(2).lower()]
        )
        return f": write the full number: {number:.15g}"
    return ""


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
    # Column-major: each feature is written as one contiguous run (row-major strides made this
    # an eighth of scoring a million wide rows).
    matrix = np.empty((rows, schema.width), dtype=np.float64, order="F")
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


def check_columns(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    not_numbers: Mapping[str, np.ndarray] | None = None,
) -> CheckedColumns:
    """Check every feature column, and the attribute columns ``frame`` has, of a frame whose
    columns carry the schema's names; ``not_numbers``: cells of numeric columns to refuse as
    not numbers whatever they read as (JSON strings)."""
    problems: list[ColumnProblem] = []
    clean = pd.DataFrame(index=frame.index)
    for feature in schema.columns:
        if feature.name not in frame.columns:
            continue
        required = schema.is_feature(feature.name)
        if isinstance(feature, NumericFeature):
            clean[feature.name], found = _numeric(
                frame[feature.name],
                feature,
                required=required,
                refused=(not_numbers or {}).get(feature.name),
            )
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
    column: pd.Series, feature: NumericFeature, *, required: bool, refused: np.ndarray | None
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
    refused = _mask(refused, len(column))
    missing = missing & ~refused  # a JSON "" is a string, not a missing value
    unparsable = ~missing & ~refused & ~np.isfinite(values)
    with np.errstate(invalid="ignore"):
        out_of_range = (
            ~missing
            & ~unparsable
            & ~refused
            & ((values < feature.minimum) | (values > feature.maximum))
        )
    if text is None:
        text = column.str.strip() if (unparsable | out_of_range).any() else column
    problems = [
        ColumnProblem(name, MISSING, missing & required, text),
        ColumnProblem(name, NOT_A_NUMBER, unparsable, text),
        ColumnProblem(name, NOT_A_JSON_NUMBER, refused, text),
        ColumnProblem(name, out_of_range_problem(feature), out_of_range, text),
    ]
    return values, [p for p in problems if p.mask.any()]


def _mask(mask: np.ndarray | None, rows: int) -> np.ndarray:
    return np.zeros(rows, dtype=bool) if mask is None else mask


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
        numbers = pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:  # Arrow's parser refuses spaces around a number; trimmed only when there are some
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


def level_codes(
    text: pa.Array | pa.ChunkedArray, feature: CategoricalFeature, *, blank: bool = False
) -> np.ndarray | None:
    """Arrow text as level codes when every cell is a level (any letter case, trimmed), in C;
    None otherwise, and the caller's slower path names the bad cells. ``blank``: an empty or
    null cell is allowed too (an attribute's), as ``NO_LEVEL``."""
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return None
    if text.null_count and not blank:
        return None
    # The levels as spelled in training first (what exports write), then any case and spacing.
    codes = _positions(text, pa.array(feature.levels, pa.string()), blank=blank)
    if codes is None:
        folded = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        codes = _positions(folded, _folded_levels(feature), blank=blank)
    if codes is not None and blank:
        codes[codes == len(feature.levels)] = NO_LEVEL
    return codes


def _positions(
    cells: pa.Array | pa.ChunkedArray, levels: pa.Array, *, blank: bool
) -> np.ndarray | None:
    """Each cell's position in ``levels`` (blank cells one past the last when allowed); None
    when a cell is not there."""
    if blank:
        cells = pc.fill_null(cells, "")
        levels = pa.concat_arrays([levels, pa.array([""])])
    position = pc.index_in(cells, value_set=levels)
    if position.null_count:
        return None
    return np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.intp)


def _folded_levels(feature: CategoricalFeature) -> pa.Array:
    # Arrow's lower-casing, which equals casefold() for the levels people write.
    return pa.array([level.strip().lower() for level in feature.levels])


def as_text(column: pd.Series) -> pd.Series:
    return column if pd.api.types.is_string_dtype(column) else column.astype("str")


# -- tables of customers: the one check every entry point uses -----------------------------------

# A column as it arrives: Arrow (CSV and Arrow bodies), JSON values (one per customer, None where
# absent), or pandas (files, databases, Spark batches).
Column: TypeAlias = pa.Array | pa.ChunkedArray | Sequence[Any] | pd.Series
_NUMBERS = frozenset({int, float})
# One valid customer's mask, shared (read-only): np.ones was 2% of a one-customer request.
_ONE_VALID = np.ones(1, dtype=bool)
_ONE_VALID.flags.writeable = False
_LEVEL_TYPES = frozenset({str, bool, type(None)})


@dataclass(frozen=True)
class RowProblem:
    """One problem of one row of a table of customers; ``row`` counts from ``first_row``.
    ``problem`` is its kind without the value (``missing value``, ``outside the valid range 0 to
    590``), what a comparison counts refused rows by; ``message`` says it with the value."""

    row: int
    column: str
    message: str
    problem: str


@dataclass(frozen=True)
class CheckedTable:
    rows: np.ndarray  # the model's input, for valid rows only
    valid: np.ndarray
    problems: list[RowProblem]  # every problem, in row order, then the schema's column order
    # Level codes of each categorical column present (NO_LEVEL where blank or invalid).
    levels: Mapping[str, np.ndarray] = field(default_factory=dict)

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


def check_table(
    columns: Mapping[str, Column],
    schema: FeatureSchema,
    *,
    first_row: int = 1,
    json_types: bool = False,
) -> CheckedTable:
    """Check customers given as columns under the schema's names (every feature present; see
    :meth:`FeatureSchema.match_headers`) and build the model's input for the valid rows.

    ``json_types``: values came from JSON, where a number must be a JSON number (the text
    ``"35"`` is refused, as a typed API should) and a level a string or boolean.
    """
    missing = [name for name in schema.names if name not in columns]
    if missing:
        message = f"missing column {missing[0]!r}: the model needs {', '.join(schema.names)}"
        raise ColumnsError([(None, message)])
    fast = _plainly_valid(columns, schema)
    if fast is not None:
        matrix, levels = fast
        return CheckedTable(
            rows=matrix,
            valid=_ONE_VALID if len(matrix) == 1 else np.ones(len(matrix), dtype=bool),
            problems=[],
            levels=levels,
        )
    present = [f.name for f in schema.columns if f.name in columns]
    frame = pd.DataFrame({name: _series(columns[name]) for name in present})
    checked = check_columns(frame, schema, _not_json_numbers(frame, schema) if json_types else {})
    problems = [
        RowProblem(
            row=first_row + int(position),
            column=problem.column,
            message=problem.describe(int(position)),
            problem=problem.problem,
        )
        for problem in checked.problems
        for position in np.flatnonzero(problem.mask)
    ]
    order = {name: position for position, name in enumerate(present)}
    problems.sort(key=lambda p: (p.row, order[p.column]))
    levels = {
        name: np.asarray(checked.clean[name].cat.codes, dtype=np.intp)
        for name in present
        if isinstance(schema.feature(name), CategoricalFeature)
    }
    rows = checked.feature_matrix()[checked.valid]
    return CheckedTable(rows=rows, valid=checked.valid, problems=problems, levels=levels)


def _series(column: Column) -> pd.Series:
    if isinstance(column, pd.Series):
        return column.reset_index(drop=True)
    if isinstance(column, pa.Array | pa.ChunkedArray):
        return pd.Series(column.to_pylist(), dtype=object)
    return pd.Series(list(column), dtype=object)


def _not_json_numbers(frame: pd.DataFrame, schema: FeatureSchema) -> dict[str, np.ndarray]:
    """Per numeric column, the JSON values that are not numbers (strings such as "35", booleans,
    objects): a typed API refuses them rather than reading text as a number."""
    wrong = {}
    for feature in schema.columns:
        if isinstance(feature, NumericFeature) and feature.name in frame.columns:
            values = frame[feature.name]
            wrong[feature.name] = values.map(_not_a_json_number).to_numpy(dtype=bool)
    return wrong


def _not_a_json_number(value: Any) -> bool:
    # NaN and Infinity are not JSON either (read only so that their field can be named).
    if type(value) is float:
        return not math.isfinite(value)
    return value is not None and type(value) is not int


def _plainly_valid(
    columns: Mapping[str, Column], schema: FeatureSchema
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The model's input and level codes when every cell present is plainly valid (features
    present and filled, attributes blank or valid); None sends the table to the full check."""
    raw: dict[str, np.ndarray | list[float]] = {}
    levels: dict[str, np.ndarray] = {}
    # Type tests rather than isinstance: this runs on every request, one customer included.
    for name, feature, required in schema.checked_columns:
        column = columns.get(name)
        if column is None:
            if required:
                return None
            continue
        container = type(column)
        if container is pd.Series:
            # Files and databases read as Arrow text: Arrow's kernels, without a copy.
            column = _arrow_text(column)  # type: ignore[arg-type]
            if column is None:
                return None
            container = type(column)
        json = container is list or container is tuple
        if feature.kind == "numeric":
            numbers: np.ndarray | list[float] | None
            if json:
                numbers = _json_numbers(column, feature, required=required)  # type: ignore[arg-type]
            else:
                numbers = _arrow_numbers(column, feature, required=required)
            if numbers is None:
                return None
            raw[name] = numbers
        else:
            if json:
                codes = _json_levels(column, feature, required=required)  # type: ignore[arg-type]
            else:
                codes = _arrow_levels(column, feature, required=required)
            if codes is None:
                return None
            levels[name] = raw[name] = codes
    return encode(raw, schema), levels


def _arrow_text(column: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """A pandas column of Arrow text as that Arrow array; None for any other column, which
    :func:`check_columns` checks (vectorised over pandas already)."""
    if not isinstance(column.dtype, pd.StringDtype) or column.dtype.storage != "pyarrow":
        return None
    return pa.array(column)


def _json_numbers(
    values: Sequence[Any], feature: NumericFeature, *, required: bool
) -> np.ndarray | list[float] | None:
    if not required:
        # An attribute, which the model does not read: each value a number in range, or null.
        present = [v for v in values if v is not None]
        if present and _json_numbers(present, feature, required=True) is None:
            return None
        return []
    # bool is its own type, so True never passes for a number here.
    if not set(map(type, values)) <= _NUMBERS:
        return None
    if len(values) == 1:  # one customer: plain floats, as numpy's per-call cost is most of it
        try:
            number = float(values[0])
        except OverflowError:
            return None
        return [number] if feature.minimum <= number <= feature.maximum else None
    try:
        numbers = np.array(values, dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    # NaN fails both comparisons, so it is refused too.
    if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
        return None
    return numbers


def _json_levels(
    values: Sequence[Any], feature: CategoricalFeature, *, required: bool
) -> np.ndarray | None:
    """Level codes when every value is a level (any letter case, trimmed; JSON true and false
    as "True" and "False"); null is allowed for an attribute only."""
    kinds = set(map(type, values))
    if not kinds <= _LEVEL_TYPES or (required and type(None) in kinds):
        return None
    level_of = feature.level_of()
    code_of = feature.code_of
    code: dict[Any, int] = {None: NO_LEVEL}
    for value in set(values):
        if value is None:
            continue
        level = level_of.get(str(value).strip().casefold())
        if level is None:
            return None
        code[value] = code_of[level]
    return np.array(list(map(code.__getitem__, values)), dtype=np.intp)


def _arrow_numbers(
    column: pa.Array | pa.ChunkedArray, feature: NumericFeature, *, required: bool
) -> np.ndarray | None:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if not required:
            return _blank_or(column, lambda text: _arrow_numbers(text, feature, required=True))
        numbers = plain_numbers(column)
    elif column.null_count or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return None
    else:
        numbers = np.asarray(column.to_numpy(), dtype=np.float64)
    if numbers is None:
        return None
    if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
        return None  # NaN fails both comparisons, so it is refused too
    return numbers


def _arrow_levels(
    column: pa.Array | pa.ChunkedArray, feature: CategoricalFeature, *, required: bool
) -> np.ndarray | None:
    return level_codes(column, feature, blank=not required)


def _blank(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    trimmed = pc.fill_null(pc.utf8_trim_whitespace(column), "")
    return np.asarray(pc.equal(trimmed, "").to_numpy(zero_copy_only=False), dtype=bool)


def _blank_or(column: pa.Array | pa.ChunkedArray, check: Any) -> np.ndarray | None:
    """An optional text column: blank cells allowed, the others must pass ``check``."""
    blank = _blank(column)
    if blank is None:
        return None
    filled = np.flatnonzero(~blank)
    if filled.size and check(column.take(filled)) is None:
        return None
    return np.empty(0)
