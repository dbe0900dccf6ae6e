"""Step 1 of training: read a customer file and refuse it, with a precise message, if it is bad.

Every value is read as text first and checked column by column, so the message can name the
file, the column, the row and the offending value rather than a pandas traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.bundle import sha256_of
from segmentation.features import (
    CLASSIC_TO_SNAKE,
    CUSTOMER_ID,
    GENDER,
    GENDER_ENCODING,
    GENDER_VALUES,
    NUMERIC_FEATURES,
)

UNKNOWN_GENDER = "Unknown"


class DataError(Exception):
    """The training data cannot be used; the message says where and why."""


@dataclass(frozen=True)
class CustomerData:
    """Validated customers: snake_case columns, numbers as floats, gender canonical."""

    frame: pd.DataFrame
    source: str
    sha256: str

    @property
    def rows(self) -> int:
        return len(self.frame)

    def feature_matrix(self, features: Sequence[str]) -> pd.DataFrame:
        """The model's input: one float column per feature, gender encoded as 1.0 = Female."""
        columns = {
            name: (
                self.frame[name].map(GENDER_ENCODING).astype("float64")
                if name == GENDER
                else self.frame[name].astype("float64")
            )
            for name in features
        }
        return pd.DataFrame(columns, index=self.frame.index)


def load_customers(path: Path, features: Sequence[str]) -> CustomerData:
    """Read and validate a CSV with classic or snake_case column names."""
    raw = _read_csv_as_text(path)
    frame = _rename_columns(raw, path)
    required = list(features)
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing required column {_both_names(missing[0])}; "
            f"found columns: {', '.join(map(str, raw.columns))}"
        )
    clean = pd.DataFrame(index=frame.index)
    if CUSTOMER_ID in frame.columns:
        clean[CUSTOMER_ID] = frame[CUSTOMER_ID].str.strip()
    if GENDER in frame.columns:
        clean[GENDER] = _validate_gender(frame[GENDER], path, required=GENDER in required)
    for name in required:
        if name in NUMERIC_FEATURES:
            clean[name] = _validate_numeric(frame[name], name, path)
    clean = clean.reset_index(drop=True)
    return CustomerData(frame=clean, source=str(path), sha256=sha256_of(path))


def _read_csv_as_text(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {_first_line(exc)}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file: {exc.strerror}") from None
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no data rows")
    return frame


def _rename_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    renamed = frame.rename(columns=lambda c: CLASSIC_TO_SNAKE.get(str(c).strip(), str(c).strip()))
    duplicated = renamed.columns[renamed.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"{path}: column {_both_names(str(duplicated[0]))} appears more than once")
    return renamed


def _validate_numeric(column: pd.Series, name: str, path: Path) -> pd.Series:
    feature = NUMERIC_FEATURES[name]
    text = column.str.strip()
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    blank = text == ""
    unparsable = ~blank & ~np.isfinite(values.to_numpy())
    out_of_range = ~blank & ~unparsable & ((values < feature.minimum) | (values > feature.maximum))
    bad = blank | unparsable | out_of_range
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        value = text.iloc[first]
        if blank.iloc[first]:
            message = "missing value"
        elif unparsable.iloc[first]:
            message = f"value {value!r} is not a number"
        else:
            message = f"value {value} is outside the valid range {feature.describe_range()}"
        raise DataError(
            f"{path}: column {_both_names(name)}, {_row(first)}: {message}"
            f"{_also(int(bad.sum()) - 1)}"
        )
    return values


def _validate_gender(column: pd.Series, path: Path, *, required: bool) -> pd.Series:
    text = column.str.strip().str.capitalize()
    blank = text == ""
    allowed = text.isin(GENDER_VALUES) | (blank & (not required))
    if not allowed.all():
        first = int(np.flatnonzero(~allowed.to_numpy())[0])
        value = column.iloc[first]
        problem = (
            "missing value" if blank.iloc[first] else f"value {value!r} is not 'Female' or 'Male'"
        )
        raise DataError(
            f"{path}: column {_both_names(GENDER)}, {_row(first)}: {problem}"
            f"{_also(int((~allowed).sum()) - 1)}"
        )
    return text.where(~blank, UNKNOWN_GENDER)


def _both_names(name: str) -> str:
    classic = next((c for c, s in CLASSIC_TO_SNAKE.items() if s == name), None)
    return f"'{name}' ('{classic}')" if classic else f"'{name}'"


def _row(index: int) -> str:
    # Data row numbers start at 1; the header is line 1 of the file.
    return f"row {index + 1} (line {index + 2})"


def _also(others: int) -> str:
    return f" (and {others} more bad rows in this column)" if others else ""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
