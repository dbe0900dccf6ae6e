"""The column checks give the same numbers and problems whatever the columns are stored as.

Files are read as Arrow text and take Arrow's parser when every cell is a number; other text
takes pandas'. A cell must not be judged differently because of how the file was read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segmentation.schema import ColumnsError, schema_from_document
from segmentation.validation import (
    MAX_REPORTED_PROBLEMS,
    NO_LEVEL,
    check_columns,
    check_table,
)
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
            [
                "value 'abc' is not a number",
                "value '1,5' is not a number: use a decimal point: 1.5",
            ],
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


# -- check_table: the one check of every body format, file, database and Spark batch ---------

GOOD = {"age": [31, 40.5], "annual_income": [72, 15], "spending_score": [81, 1]}


def as_arrow(columns: dict[str, list[object]]) -> dict[str, pa.Array]:
    return {
        name: pa.array([None if v is None else str(v) for v in values])
        for name, values in columns.items()
    }


@pytest.mark.parametrize("container", ["json", "arrow text", "arrow typed", "pandas"])
def test_every_container_of_the_same_values_gives_the_same_input(container: str) -> None:
    columns: dict[str, object] = {
        "json": GOOD,
        "arrow text": as_arrow(GOOD),
        "arrow typed": {n: pa.array(v, pa.float64()) for n, v in GOOD.items()},
        "pandas": {n: pd.Series(v) for n, v in GOOD.items()},
    }[container]
    checked = check_table(columns, FEATURES, json_types=container == "json")  # type: ignore[arg-type]
    assert checked.problems == []
    assert checked.rows.tolist() == [[31.0, 72.0, 81.0], [40.5, 15.0, 1.0]]
    assert checked.valid.tolist() == [True, True]


def test_json_text_booleans_nan_and_objects_are_not_numbers() -> None:
    columns = {**GOOD, "age": ["31", True, float("nan"), {"n": 1}], "annual_income": [1] * 4}
    columns["spending_score"] = [50] * 4
    checked = check_table(columns, FEATURES, first_row=0, json_types=True)
    assert [(p.row, p.column, p.message) for p in checked.problems] == [
        (0, "age", "value '31' is not a JSON number"),
        (1, "age", "value 'True' is not a JSON number"),
        (2, "age", "value 'nan' is not a JSON number"),
        (3, "age", """value "{'n': 1}" is not a JSON number"""),
    ]
    # From a file, the text "31" is a number.
    assert check_table({**columns, "age": ["31"] * 4}, FEATURES).problems == []


def test_problems_come_in_row_order_then_column_order_and_are_counted_past_the_bound() -> None:
    rows = 150
    columns = {
        "age": ["x"] * rows,
        "annual_income": [1] * rows,
        "spending_score": [0] * rows,
    }
    checked = check_table(columns, FEATURES, json_types=False)
    assert len(checked.problems) == 2 * rows
    assert [(p.row, p.column) for p in checked.problems[:3]] == [
        (1, "age"),
        (1, "spending_score"),
        (2, "age"),
    ]
    assert len(checked.reported_problems) == MAX_REPORTED_PROBLEMS
    assert checked.unreported_problems == 2 * rows - MAX_REPORTED_PROBLEMS
    assert checked.bad_rows == rows
    assert checked.rows.shape == (0, 3)


@pytest.mark.parametrize("container", ["json", "arrow"])
def test_attributes_may_be_blank_and_give_level_codes(container: str) -> None:
    columns: dict[str, list[object]] = {**GOOD, "gender": [" female", None]}
    if container == "arrow":
        columns["gender"] = [" female", ""]
        sent: object = as_arrow(columns)
    else:
        sent = columns
    checked = check_table(sent, FEATURES, json_types=container == "json")  # type: ignore[arg-type]
    assert checked.problems == []
    assert checked.levels["gender"].tolist() == [0, NO_LEVEL]


def test_a_feature_absent_from_the_columns_is_refused_as_a_missing_column() -> None:
    with pytest.raises(ColumnsError, match="missing column 'spending_score'"):
        check_table({"age": [1], "annual_income": [1]}, FEATURES)


CODED = schema_from_document(
    {
        "feature": [
            {"kind": "numeric", "name": "visits", "minimum": 0, "maximum": 10},
            {"kind": "categorical", "name": "store", "levels": ["10", "20", "30"]},
            {"kind": "categorical", "name": "newsletter", "levels": ["False", "True"]},
        ]
    },
    "test",
)


@pytest.mark.parametrize(
    "columns",
    [
        # JSON: a code sent as a float, a flag as 1 and 0.
        {"visits": [1, 2], "store": [20.0, 10], "newsletter": [1, 0]},
        # pandas: a column of codes with a gap is float, and a flag is stored as 0/1 (SQLite).
        {
            "visits": pd.Series([1, 2]),
            "store": pd.Series([20.0, 10.0]),
            "newsletter": pd.Series([1, 0]),
        },
        # Arrow: float codes, integer flags.
        {
            "visits": pa.array([1.0, 2.0]),
            "store": pa.array([20.0, 10.0]),
            "newsletter": pa.array([1, 0]),
        },
    ],
    ids=["json", "pandas", "arrow"],
)
def test_levels_that_are_numbers_read_the_way_numbers_are_stored(columns: dict) -> None:  # type: ignore[type-arg]
    """A store coded 10/20/30 was refused as '20.0' (every row of a float column), and a flag
    of levels False/True as '1'."""
    checked = check_table(columns, CODED, json_types=isinstance(columns["visits"], list))
    assert not checked.reported_problems
    expected = check_table(
        {"visits": [1, 2], "store": ["20", "10"], "newsletter": ["True", "False"]}, CODED
    )
    np.testing.assert_array_equal(checked.rows, expected.rows)


def test_a_code_that_is_not_a_whole_level_is_still_refused() -> None:
    checked = check_table(
        {"visits": [1], "store": [20.5], "newsletter": [2]}, CODED, json_types=True
    )
    assert [p.message for p in checked.reported_problems] == [
        "value '20.5' is not one of '10', '20', '30'",
        "value '2' is not 'False' or 'True'",
    ]
