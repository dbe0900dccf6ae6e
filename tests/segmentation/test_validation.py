"""The column checks give the same numbers and problems whatever the columns are stored as.

Files are read as Arrow text and take Arrow's parser when every cell is a number; other text
takes pandas'. A cell must not be judged differently because of how the file was read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.validation import check_columns
from tests.schemas import MALL

FEATURES = MALL.select(["age", "annual_income", "spending_score"])
STORAGES = ["pyarrow", "python", "object"]


def frame(storage: str, **columns: list[str | None]) -> pd.DataFrame:
    dtype = object if storage == "object" else pd.StringDtype(storage)
    return pd.DataFrame({name: pd.Series(values, dtype=dtype) for name, values in columns.items()})


def problems(checked_frame: pd.DataFrame) -> list[tuple[str, str, list[int], list[str]]]:
    checked = check_columns(checked_frame, FEATURES)
    return [
        (
            p.column,
            p.problem,
            np.flatnonzero(p.mask).tolist(),
            [p.describe(int(i)) for i in np.flatnonzero(p.mask)],
        )
        for p in checked.problems
    ]


@pytest.mark.parametrize("storage", STORAGES)
def test_plain_numbers_parse_alike_with_spaces_signs_and_exponents(storage: str) -> None:
    customers = frame(
        storage,
        age=[" 31", "-0", "2.5e1 "],
        annual_income=["72", "15.5", "1e2"],
        spending_score=["81", "+45", " 7 "],
    )
    checked = check_columns(customers, FEATURES)
    assert checked.problems == []
    assert checked.feature_matrix().tolist() == [
        [31.0, 72.0, 81.0],
        [0.0, 15.5, 45.0],
        [25.0, 100.0, 7.0],
    ]


@pytest.mark.parametrize("storage", STORAGES)
def test_every_bad_cell_is_named_the_same_way(storage: str) -> None:
    customers = frame(
        storage,
        age=["31", " 500 ", "nan", "40"],
        annual_income=["72", "inf", "60", ""],
        spending_score=["abc", "50", None, "1,5"],
    )
    assert problems(customers) == [
        ("age", "not a number", [2], ["value 'nan' is not a number"]),
        (
            "age",
            "outside the valid range 0 to 120",
            [1],
            ["value 500 is outside the valid range 0 to 120"],
        ),
        ("annual_income", "missing value", [3], ["missing value"]),
        ("annual_income", "not a number", [1], ["value 'inf' is not a number"]),
        ("spending_score", "missing value", [2], ["missing value"]),
        (
            "spending_score",
            "not a number",
            [0, 3],
            ["value 'abc' is not a number", "value '1,5' is not a number"],
        ),
    ]


def test_arrow_text_with_only_range_problems_is_still_named_stripped() -> None:
    customers = frame("pyarrow", age=[" 130 "], annual_income=["10"], spending_score=["50"])
    assert [p[3] for p in problems(customers)] == [
        ["value 130 is outside the valid range 0 to 120"]
    ]


@pytest.mark.parametrize("storage", STORAGES)
def test_gender_is_optional_but_checked_when_sent(storage: str) -> None:
    customers = frame(
        storage,
        age=["31", "32", "33", "34"],
        annual_income=["50", "50", "50", "50"],
        spending_score=["50", "50", "50", "50"],
        gender=[None, " female", "x", "MALE"],
    )
    assert problems(customers) == [
        ("gender", "not 'Female' or 'Male'", [2], ["value 'x' is not 'Female' or 'Male'"])
    ]
