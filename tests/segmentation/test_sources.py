"""Reading customers from a database table: the table a name means (schema.table, quoted parts),
and a table's declared column types, which decide nothing (SQLite declares anything).

Every database test runs on SQLite and on a real PostgreSQL started by the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy

from scoring.cli import main as score_main
from segmentation.bundle import load_bundle
from segmentation.sources import DataSource, SourceError, SourceReader, TableName
from tests.postgres import PostgresServer
from tests.segmentation.sources_tables import (
    create_schema,
    create_tables,
    income_not_a_number,
    sqlite_with_declared_types,
)
from training.cli import main as train_main

NEEDED = ["customer_id", "age"]
NAME_OF = {"CustomerID": "customer_id", "Age": "age"}


def read_table(url: str, table: str) -> pd.DataFrame:
    return SourceReader(DataSource(url, table=table), NEEDED, NAME_OF).read_all()


def default_schema(url: str) -> str:
    engine = sqlalchemy.create_engine(url)
    try:
        schema = sqlalchemy.inspect(engine).default_schema_name
    finally:
        engine.dispose()
    assert schema
    return schema


@pytest.mark.parametrize(
    ("text", "schema", "name"),
    [
        ("customers", None, "customers"),
        ("crm.customers", "crm", "customers"),
        ('"crm"."customers"', "crm", "customers"),
        ('"odd.name"', None, "odd.name"),
        ('crm."Customer Table"', "crm", "Customer Table"),
        ("Customer Table", None, "Customer Table"),  # taken as written, case and spaces
        ('"say ""hi"""', None, 'say "hi"'),
        # A quote inside an unquoted name is a character of it, never SQL.
        ('segments"; DROP TABLE customers; --', None, 'segments"; DROP TABLE customers; --'),
    ],
)
def test_a_dot_outside_quotes_separates_schema_and_table(
    text: str, schema: str | None, name: str
) -> None:
    assert TableName.parse(text) == TableName(name, schema)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("  ", "give a table name"),
        ('""', """'""' has an empty name: give table or schema.table"""),
        ("db.crm.customers", "'db.crm.customers' has 3 parts: give table or schema.table"),
        ("crm.", "'crm.' has an empty name after its dot"),
        (".customers", "'.customers' has an empty name before its dot"),
        ('"crm.customers', "the double quote at character 1 is never closed"),
        ('"crm"customers', "a quoted name must end at a dot or at the end, not before 'customers'"),
    ],
)
def test_a_name_that_is_no_table_name_says_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TableName.parse(text)


def test_plain_and_quoted_names_read_the_table_so_named(database_url: str) -> None:
    schema = default_schema(database_url)  # main (SQLite), public (PostgreSQL)
    create_tables(
        database_url, {(None, "customers"): 30, (None, "Customer Table"): 20, (None, "crm.x"): 10}
    )
    assert len(read_table(database_url, "customers")) == 30
    assert len(read_table(database_url, "Customer Table")) == 20
    assert len(read_table(database_url, '"Customer Table"')) == 20
    assert len(read_table(database_url, f"{schema}.customers")) == 30
    assert len(read_table(database_url, f'"{schema}"."Customer Table"')) == 20
    # A table with a dot in its name: quoted, it is that table.
    assert len(read_table(database_url, '"crm.x"')) == 10


def test_a_table_of_another_schema_is_read_not_one_with_a_dot_in_its_name(
    postgres: PostgresServer,
) -> None:
    url = postgres.url(postgres.create_database())
    create_schema(url, "crm")
    create_tables(
        url,
        {
            ("crm", "customers"): 40,
            ("crm", "Customer Table"): 25,
            (None, "crm.customers"): 15,
        },
    )
    assert len(read_table(url, "crm.customers")) == 40
    assert len(read_table(url, '"crm"."customers"')) == 40
    assert len(read_table(url, 'crm."Customer Table"')) == 25
    assert len(read_table(url, '"crm.customers"')) == 15
    with pytest.raises(
        SourceError, match=r"table crm\.nope: no such table 'nope' in schema 'crm'$"
    ):
        read_table(url, "crm.nope")
    # SQL would fold CRM to crm; read as written, the message names the schema there is.
    with pytest.raises(SourceError) as raised:
        read_table(url, "CRM.customers")
    assert str(raised.value).endswith(
        " table CRM.customers: no schema 'CRM', but there is 'crm': a name is read with its "
        "letter case, as written: crm.customers"
    )


def test_an_unknown_schema_is_named(database_url: str) -> None:
    create_tables(database_url, {(None, "crm.customers"): 10})
    with pytest.raises(SourceError) as raised:
        read_table(database_url, "crm.customers")
    message = str(raised.value)
    assert "table crm.customers: no schema 'crm' (" in message
    assert f"'{default_schema(database_url)}'" in message  # the schemas there are
    assert message.endswith('quote a table name that holds one: "crm.customers"')


@pytest.mark.parametrize("table", ["customers", "copied"])
def test_sqlite_columns_are_read_as_stored_whatever_their_declared_type(
    tmp_path: Path, table: str
) -> None:
    url, frame = sqlite_with_declared_types(tmp_path / "crm.db")
    reader = SourceReader(
        DataSource(url, table=table),
        ["customer_id", "annual_income", "spending_score"],
        {
            "CustomerID": "customer_id",
            "Annual Income (k$)": "annual_income",
            "Spending Score (1-100)": "spending_score",
        },
    )
    read = reader.read_all()
    # Only the columns asked for, with the numbers as stored: not the DATE nobody reads.
    assert list(read.columns) == ["customer_id", "annual_income", "spending_score"]
    assert read["annual_income"].tolist() == frame["Annual Income (k$)"].tolist()
    assert read["spending_score"].tolist() == frame["Spending Score (1-100)"].tolist()


def test_training_from_a_sqlite_table_names_a_bad_value_in_a_numeric_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = sqlite_with_declared_types(tmp_path / "crm.db", rows=300)
    arguments = ["--data", url, "--k", "3", "--stability-samples", "0", "--quiet"]
    models = ["--models-dir", str(tmp_path / "models")]
    assert train_main([*arguments, *models, "--table", "copied"]) == 0
    income_not_a_number(url, 12)
    capsys.readouterr()
    assert train_main([*arguments, *models, "--table", "customers"]) == 2
    error = capsys.readouterr().err
    # Named by its customer id: a table's rows come in no fixed order, so "row 12" finds nothing.
    assert "table customers: column 'annual_income' ('Annual Income (k$)'), customer '12': " in (
        error
    )
    assert "(customer '12': 'abc')" in error
    assert "value 'abc' is not a number" in error
    assert "Traceback" not in error


def test_training_reads_a_table_of_another_schema(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.url(postgres.create_database())
    create_schema(url, "crm")
    create_tables(url, {("crm", "customers"): 200})
    models = tmp_path / "models"
    arguments = ["--data", url, "--table", "crm.customers", "--models-dir", str(models)]
    assert train_main([*arguments, "--k", "3", "--stability-samples", "0", "--quiet"]) == 0
    assert load_bundle(models).metadata.training_data.rows == 200


def test_a_sqlite_boolean_feature_reads_as_true_and_false_as_before_and_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite stores BOOLEAN as 0 and 1. Read typed, they were False and True, so a model of
    such a column has those levels; read untyped, its own table was refused row by row
    ("value '1' is not 'False' or 'True'"). A value that is no boolean is still named."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE c (customer_id INTEGER, spend NUMERIC, visits INTEGER, member BOOLEAN)"
        )
        connection.exec_driver_sql(
            "INSERT INTO c VALUES (?, ?, ?, ?)",
            [(i, 10 + (i * 37) % 200, 1 + i % 9, i % 3 == 0) for i in range(300)],
        )
    models = ["--models-dir", str(tmp_path / "models")]
    train = ["--data", url, "--table", "c", "--features", "spend,visits,member", "--k", "3"]
    assert train_main([*train, *models, "--stability-samples", "0", "--quiet"]) == 0
    member = load_bundle(tmp_path / "models").metadata.feature_schema.feature("member")
    assert member.levels == ("False", "True")  # type: ignore[union-attr]
    score = ["--data", url, "--table", "c", "--output-table", "segments", *models, "--quiet"]
    assert score_main(score) == 0
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE c SET member = 'yes' WHERE customer_id = 7")
    capsys.readouterr()
    assert score_main(score) == 2
    assert "customer_id '7', column 'member': value 'yes' is not 'False' or 'True'" in (
        capsys.readouterr().err
    )
    engine.dispose()


def test_ids_of_a_column_with_a_gap_are_named_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pandas reads integer ids with a NULL among them as floats: customer 5 was '5.0'."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE d (customer_id INTEGER, spend, visits INTEGER)")
        connection.exec_driver_sql(
            "INSERT INTO d VALUES (?, ?, ?)",
            [(None if i == 0 else i, "abc" if i == 5 else 10 + i, i % 7) for i in range(100)],
        )
    engine.dispose()
    models = ["--models-dir", str(tmp_path / "models"), "--k", "3", "--quiet"]
    train = ["--data", url, "--table", "d", "--features", "spend,visits", *models]
    assert train_main(train) == 2
    assert "column 'spend', customer '5': value 'abc' is not a number" in capsys.readouterr().err


def test_integer_levels_with_a_gap_in_parquet_read_as_their_digits(
    tmp_path: Path,
) -> None:
    """pandas makes an int64 column with a null floats: the level 0 was '0.0', so training
    refused every row of a declared ``levels = ["0", "1", "2"]``. (Ids keep their type: a
    message names customer 5.0 as '5', ``test_ids_of_a_column_with_a_gap_are_named_as_written``.)"""
    path = tmp_path / "coded.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array([1, None, 5, 6], pa.int64()),
                "channel": pa.array([0, 2, None, 1], pa.int64()),
                "visits": pa.array([3, None, 4, 5], pa.int64()),
            }
        ),
        path,
    )
    names = ["customer_id", "channel", "visits"]
    read = SourceReader(
        DataSource(str(path)), names, {}, text_columns=["customer_id", "channel"]
    ).read_all()
    assert read["channel"].dropna().tolist() == ["0", "2", "1"]
    assert read["channel"].isna().tolist() == [False, False, True, False]
    assert read["visits"].tolist()[:1] == [3.0]  # a number stays a number
    # The id column is left as the file gives it (int64 here), as before.
    pq.write_table(pa.table({"customer_id": pa.array([1, 2], pa.int64())}), path)
    ids = SourceReader(DataSource(str(path)), ["customer_id"], {}, text_columns=["customer_id"])
    assert ids.read_all()["customer_id"].dtype == "int64"


def test_training_on_integer_coded_levels_with_a_gap_refuses_only_the_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "coded.parquet"
    rows = 300
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(range(1, rows + 1), pa.int64()),
                "spend": pa.array([10.0 + (i * 37) % 400 for i in range(rows)]),
                "channel": pa.array([None if i == 7 else i % 3 for i in range(rows)], pa.int64()),
            }
        ),
        path,
    )
    schema = tmp_path / "coded.toml"
    schema.write_text(
        '[[feature]]\nname = "spend"\n\n[[feature]]\nname = "channel"\nlevels = ["0", "1", "2"]\n'
    )
    models = tmp_path / "models"
    common = ["--data", str(path), "--schema", str(schema), "--k", "3", "--quiet"]
    assert train_main([*common, "--models-dir", str(models)]) == 2
    assert "column 'channel', row 8: missing value (1 problem in 300 rows;" in (
        capsys.readouterr().err
    )
    assert train_main([*common, "--models-dir", str(models), "--drop-invalid"]) == 0
    assert load_bundle(models).metadata.training_data.rows == rows - 1
