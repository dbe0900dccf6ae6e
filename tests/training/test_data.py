"""Reading and validating training data: every problem counted, located and explained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

from segmentation import sources
from segmentation.sources import DataSource, parse_column_mapping
from tests.schemas import DEFAULT_FEATURES
from training.columns import plan_columns
from training.data import CustomerData, DataError, load_customers

HEADER_CLASSIC = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"
HEADER_SNAKE = "customer_id,gender,age,annual_income,spending_score"


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def customers(source: DataSource, features: object, **options: object) -> CustomerData:
    """Training's reading step, with the plan ``segment-train --features`` makes."""
    return load_customers(source, plan_columns(features, None), **options)  # type: ignore[arg-type]


def load(path: Path, features: object = DEFAULT_FEATURES, **options: object) -> CustomerData:
    return customers(DataSource(str(path)), features, min_rows=1, **options)


def test_reads_classic_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_CLASSIC}\n1,Male,19,15,39\n2,Female,21,15,81\n")
    data = load(path)
    assert list(data.frame.columns) == [*DEFAULT_FEATURES, "gender"]
    assert data.frame["age"].tolist() == [19.0, 21.0]
    assert data.rows == 2
    assert data.training_data.kind == "csv"
    assert len(data.training_data.sha256) == 64
    assert data.quality.rows_read == data.quality.rows_used == 2
    assert data.quality.problems == []


def test_reads_snake_case_names_and_normalises_gender(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_SNAKE}\na,female ,19,15.5,39\nb,,21,15,81\n")
    data = load(path)
    # A blank attribute is allowed and counts in no level.
    assert data.frame["gender"].iloc[0] == "Female"
    assert pd.isna(data.frame["gender"].iloc[1])
    assert data.frame["annual_income"].tolist() == [15.5, 15.0]


def test_gender_feature_is_a_categorical_feature_read_as_its_levels(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_SNAKE}\n1,Female,19,15,39\n2,male,21,15,81\n")
    data = load(path, ["gender", "age"])
    assert data.schema.names == ["gender", "age"]
    assert data.model_input().values.tolist() == [["Female", 19.0], ["Male", 21.0]]


def test_only_required_columns_must_exist_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "Annual Income (k$),Spending Score (1-100),Store\n15,39,north\n")
    data = load(path, ["annual_income", "spending_score"])
    assert data.rows == 1
    assert list(data.frame.columns) == ["annual_income", "spending_score"]


def test_column_mapping_reads_a_crm_export(tmp_path: Path) -> None:
    path = write(tmp_path, "Client,Sex,Years,Income,Score\n7,F,30,55,60\n8,M,40,70,20\n")
    mapping = parse_column_mapping(
        "Client=customer_id, Sex=gender, Years=age, Income=annual_income, Score=spending_score"
    )
    source = DataSource(str(path), columns=mapping)
    # A CRM's own coding of gender is its levels (the study's 'Female' or 'Male' refused it).
    coded = customers(source, DEFAULT_FEATURES, min_rows=1)
    assert coded.frame["gender"].tolist() == ["F", "M"]
    path.write_text("Client,Sex,Years,Income,Score\n7,Female,30,55,60\n8,male,40,70,20\n")
    data = customers(source, DEFAULT_FEATURES, min_rows=1)
    assert data.frame[list(DEFAULT_FEATURES)].values.tolist() == [[30, 55, 60], [40, 70, 20]]
    assert data.frame["gender"].tolist() == ["Female", "Male"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Income", "column mapping 'Income' is not of the form SOURCE=TARGET"),
        ("=salary", "column mapping '=salary' is not of the form SOURCE=TARGET"),
        ("A=age,A=annual_income", "names 'A' twice"),
        ("A=age,B=age", "maps two columns to 'age'"),
    ],
)
def test_bad_column_mappings(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_column_mapping(text)


def test_mapping_a_column_that_is_not_there(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_SNAKE}\n1,Male,19,15,39\n")
    source = DataSource(str(path), columns={"Income": "annual_income"})
    with pytest.raises(DataError, match="--columns names 'Income', which is not a column"):
        customers(source, DEFAULT_FEATURES)


@pytest.mark.parametrize(
    ("text", "features", "expected"),
    [
        ("", DEFAULT_FEATURES, "the file is empty"),
        (HEADER_CLASSIC + "\n", DEFAULT_FEATURES, "no data rows"),
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
            "column 'age' ('Age'), row 1 (line 2): value 121 is outside the valid range 0 to 120",
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
            f"{HEADER_CLASSIC}\n1,Male,NaN,15,50\n",
            DEFAULT_FEATURES,
            "row 1 (line 2): missing value",
        ),
        (
            # A typo among the study's levels (a column of its own coding takes its own).
            f"{HEADER_CLASSIC}\n1,Robot,19,15,50\n2,Female,20,16,51\n",
            DEFAULT_FEATURES,
            "column 'gender' ('Gender'), row 1 (line 2): value 'Robot' is not 'Female' or 'Male'",
        ),
        (
            f"{HEADER_CLASSIC}\n1,,19,15,50\n",
            ["gender", "age"],
            "column 'gender' ('Gender'), row 1 (line 2): missing value",
        ),
        (
            f"{HEADER_CLASSIC}\n5,Male,19,15,50\n6,Male,19,15,50\n5,Male,20,16,51\n",
            DEFAULT_FEATURES,
            "column 'customer_id' ('CustomerID'), row 3 (line 4): customer id '5' is repeated",
        ),
        (
            "Age,age,annual_income,spending_score\n1,2,3,4\n",
            DEFAULT_FEATURES,
            "column 'age' ('Age') appears more than once",
        ),
        (f'{HEADER_CLASSIC}\n1,Male,"19,15,50\n', DEFAULT_FEATURES, "not a readable CSV file"),
    ],
)
def test_bad_files_are_refused_with_where_and_why(
    tmp_path: Path, text: str, features: list[str], expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        load(path, features)
    first_line = str(caught.value).splitlines()[0]
    assert first_line.startswith(f"{path}: ")
    assert expected in first_line


def test_the_report_counts_every_problem_with_example_rows(tmp_path: Path) -> None:
    rows = ["1,Male,19,15,39"] + [f"{i},Male,x{i},15,39" for i in range(2, 10)]
    rows += ["10,Male,30,15,200", "1,Female,30,20,40"]
    path = write(tmp_path, HEADER_CLASSIC + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as caught:
        load(path)
    lines = str(caught.value).splitlines()
    assert "10 problems in 11 rows; --drop-invalid trains without those rows" in lines[0]
    assert lines[1] == (
        "  age: 8 x not a number (row 2: 'x2', row 3: 'x3', row 4: 'x4', row 5: 'x5', row 6: 'x6')"
    )
    assert lines[2] == "  spending_score: 1 x outside the valid range 1 to 100 (row 10: '200')"
    assert lines[3] == "  customer_id: 1 x repeated customer id (row 11: '1')"


def test_drop_invalid_keeps_the_good_rows_and_records_the_rest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER_CLASSIC}\n1,Male,19,15,39\n2,Male,abc,15,39\n"
        "3,Male,20,,40\n1,Male,25,30,50\n4,Female,30,40,60\n",
    )
    data = load(path, drop_invalid=True)
    assert data.frame["age"].tolist() == [19.0, 30.0]
    quality = data.quality
    assert (quality.rows_read, quality.rows_used, quality.rows_dropped) == (5, 2, 3)
    assert quality.policy == "drop_invalid"
    assert [(p.column, p.problem, p.count) for p in quality.problems] == [
        ("age", "not a number", 1),
        ("annual_income", "missing value", 1),
        ("customer_id", "repeated customer id", 1),
    ]
    assert data.training_data.rows == 2


def test_drop_invalid_fails_when_too_few_rows_remain(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER_CLASSIC}\n1,Male,19,15,39\n2,Male,abc,15,39\n")
    with pytest.raises(DataError, match="only 1 valid rows of 2, fewer than the 5 needed"):
        customers(DataSource(str(path)), DEFAULT_FEATURES, drop_invalid=True, min_rows=5)


def test_problems_are_found_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "CHUNK_ROWS", 3)
    rows = [f"{i},Male,{20 + i},{10 + i},{30 + i}" for i in range(1, 11)]
    rows[7] = "8,Male,abc,18,38"
    rows[9] = "3,Male,30,20,40"
    path = write(tmp_path, HEADER_CLASSIC + "\n" + "\n".join(rows) + "\n")
    data = load(path, drop_invalid=True)
    assert data.quality.rows_read == 10
    assert [(p.column, p.examples[0].row) for p in data.quality.problems] == [
        ("age", 8),
        ("customer_id", 10),
    ]
    assert data.frame["age"].tolist() == [21, 22, 23, 24, 25, 26, 27, 29]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load(tmp_path / "nope.csv")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a file"):
        load(tmp_path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(HEADER_CLASSIC.encode() + b"\n\xff\xfe\x00\x01,2,3,4,5\n")
    with pytest.raises(DataError, match=r"data.csv: not UTF-8 text: save it as UTF-8"):
        load(path)


# -- Parquet and SQL -----------------------------------------------------------------------


def classic_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CustomerID": [1, 2, 3],
            "Gender": ["Male", "Female", "Female"],
            "Age": [19, 35, 50],
            "Annual Income (k$)": [15.0, 60.0, 90.0],
            "Spending Score (1-100)": [39, 50, 10],
        }
    )


def test_reads_parquet(tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet"
    classic_frame().to_parquet(path)
    data = load(path)
    assert data.training_data.kind == "parquet"
    assert data.frame["annual_income"].tolist() == [15.0, 60.0, 90.0]
    assert data.frame["gender"].tolist() == ["Male", "Female", "Female"]


def test_bad_parquet_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "not parquet at all", name="x.parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load(path)
    with pytest.raises(DataError, match="the file is empty"):
        load(write(tmp_path, "", name="empty.parquet"))


def test_parquet_rows_are_validated_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet"
    frame = classic_frame()
    frame.loc[1, "Age"] = 300
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"column 'age' \('Age'\), row 2: value 300 is outside"):
        load(path)


@pytest.fixture
def database(database_url: str) -> Iterator[str]:
    """A CRM database (SQLite and PostgreSQL) with a good and a bad customers table."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as connection:
            classic_frame().to_sql("customers", connection, index=False)
            connection.exec_driver_sql(
                "CREATE TABLE bad (age TEXT, annual_income REAL, spending_score REAL)"
            )
            connection.exec_driver_sql("INSERT INTO bad VALUES ('31', 50, 50), ('old', 60, 60)")
        yield database_url
    finally:
        engine.dispose()


def test_reads_a_sql_table(database: str) -> None:
    data = customers(DataSource(database, table="customers"), DEFAULT_FEATURES, min_rows=1)
    assert data.training_data.kind == "sql"
    assert data.training_data.source.endswith(" table customers")
    assert data.frame["age"].tolist() == [19, 35, 50]
    assert len(data.training_data.sha256) == 64


def test_reads_a_sql_query_and_hashes_the_rows(database: str) -> None:
    query = 'SELECT * FROM customers WHERE "Age" > 20'
    data = customers(DataSource(database, query=query), DEFAULT_FEATURES, min_rows=1)
    assert data.frame["age"].tolist() == [35, 50]
    again = customers(DataSource(database, query=query), DEFAULT_FEATURES, min_rows=1)
    everything = customers(DataSource(database, table="customers"), DEFAULT_FEATURES, min_rows=1)
    assert data.training_data.sha256 == again.training_data.sha256
    assert data.training_data.sha256 != everything.training_data.sha256


def test_sql_rows_are_validated(database: str) -> None:
    with pytest.raises(
        DataError, match="table bad: column 'age' \\('Age'\\), row 2: value 'old' is not a number"
    ):
        customers(DataSource(database, table="bad"), DEFAULT_FEATURES, min_rows=1)


@pytest.mark.parametrize(
    ("table", "query", "expected"),
    [
        ("nope", None, "no such table 'nope'"),
        (None, "SELEKT 1", "database error"),
        (None, None, "give exactly one of --table or --query"),
        ("customers", "SELECT 1", "give exactly one of --table or --query"),
    ],
)
def test_sql_errors(database: str, table: str | None, query: str | None, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        customers(DataSource(database, table=table, query=query), DEFAULT_FEATURES)


def test_database_url_is_shown_without_its_password() -> None:
    source = DataSource("postgresql://crm:s3cret@db.internal/shop", table="customers")
    assert source.describe() == "postgresql://crm:***@db.internal/shop table customers"
    assert "s3cret" not in source.describe()


def test_unusable_database_url() -> None:
    with pytest.raises(DataError, match="cannot use this database URL"):
        customers(DataSource("nosuchdb://x/y", table="t"), DEFAULT_FEATURES)
