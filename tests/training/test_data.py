"""Loading and validating training files: every rejection names file, column and row."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.features import DEFAULT_FEATURES
from training.data import UNKNOWN_GENDER, DataError, load_customers

HEADER_CLASSIC = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"
HEADER_SNAKE = "customer_id,gender,age,annual_income,spending_score"


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_classic_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_CLASSIC}\n1,Male,19,15,39\n2,Female,21,15,81\n")
    data = load_customers(path, DEFAULT_FEATURES)
    assert list(data.frame.columns) == ["customer_id", "gender", *DEFAULT_FEATURES]
    assert data.frame["age"].tolist() == [19.0, 21.0]
    assert data.rows == 2
    assert len(data.sha256) == 64


def test_reads_snake_case_names_and_normalises_gender(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_SNAKE}\na,female ,19,15.5,39\nb,,21,15,81\n")
    data = load_customers(path, DEFAULT_FEATURES)
    assert data.frame["gender"].tolist() == ["Female", UNKNOWN_GENDER]
    assert data.frame["annual_income"].tolist() == [15.5, 15.0]


def test_gender_feature_is_encoded_female_as_one(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_SNAKE}\n1,Female,19,15,39\n2,Male,21,15,81\n")
    data = load_customers(path, ["gender", "age"])
    assert data.feature_matrix(["gender", "age"]).values.tolist() == [[1.0, 19.0], [0.0, 21.0]]


def test_only_required_columns_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "Annual Income (k$),Spending Score (1-100)\n15,39\n")
    data = load_customers(path, ["annual_income", "spending_score"])
    assert data.rows == 1


@pytest.mark.parametrize(
    ("text", "features", "expected"),
    [
        ("", DEFAULT_FEATURES, "the file is empty"),
        (HEADER_CLASSIC + "\n", DEFAULT_FEATURES, "has a header but no data rows"),
        (
            "CustomerID,Gender,Age,Spending Score (1-100)\n1,Male,19,39\n",
            DEFAULT_FEATURES,
            "missing required column 'annual_income' ('Annual Income (k$)')",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,19,15,39\n2,Male,abc,15,39\n",
            DEFAULT_FEATURES,
            "column 'age' ('Age'), row 2 (line 3): value 'abc' is not a number",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,19,,39\n",
            DEFAULT_FEATURES,
            "column 'annual_income' ('Annual Income (k$)'), row 1 (line 2): missing value",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,121,15,39\n2,Male,-1,15,39\n",
            DEFAULT_FEATURES,
            "column 'age' ('Age'), row 1 (line 2): value 121 is outside the valid range 0 to 120"
            " (and 1 more bad rows in this column)",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,19,-5,39\n",
            DEFAULT_FEATURES,
            "row 1 (line 2): value -5 is outside the valid range 0 to 1,000,000",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,19,15,0\n",
            DEFAULT_FEATURES,
            "column 'spending_score' ('Spending Score (1-100)'), row 1 (line 2): "
            "value 0 is outside the valid range 1 to 100",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,19,15,101\n",
            DEFAULT_FEATURES,
            "value 101 is outside the valid range 1 to 100",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,19,inf,50\n",
            DEFAULT_FEATURES,
            "row 1 (line 2): value 'inf' is not a number",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Male,nan,15,50\n",
            DEFAULT_FEATURES,
            "value 'nan' is not a number",
        ),
        (
            f"{HEADER_CLASSIC}\n1,Robot,19,15,50\n",
            DEFAULT_FEATURES,
            "column 'gender' ('Gender'), row 1 (line 2): value 'Robot' is not 'Female' or 'Male'",
        ),
        (
            f"{HEADER_CLASSIC}\n1,,19,15,50\n",
            ["gender", "age"],
            "column 'gender' ('Gender'), row 1 (line 2): missing value",
        ),
        (
            "Age,age,annual_income,spending_score\n1,2,3,4\n",
            DEFAULT_FEATURES,
            "column 'age' ('Age') appears more than once",
        ),
        ('Age,Annual Income (k$)\n"19,15\n', DEFAULT_FEATURES, "not a readable CSV file"),
    ],
)
def test_bad_files_are_refused_with_where_and_why(
    tmp_path: Path, text: str, features: list[str], expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        load_customers(path, features)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_customers(tmp_path / "nope.csv", DEFAULT_FEATURES)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a file"):
        load_customers(tmp_path, DEFAULT_FEATURES)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"Age,Annual Income (k$)\n\xff\xfe\x00\x01,2\n")
    with pytest.raises(DataError, match="not a readable CSV file"):
        load_customers(path, DEFAULT_FEATURES)
