"""The CRM round trip: score a database table and upsert the segments back, all or nothing.

Every test runs on SQLite (the embedded default) and on a real PostgreSQL started by the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy

from scoring.batch import ScoringError
from scoring.cli import main
from scoring.database import OUTPUT_COLUMNS, score_into_table
from segmentation.assigner import Assigner
from segmentation.bundle import Bundle
from segmentation.sources import DataSource
from tests.conftest import REPO_ROOT, TrainFn, write_sample_csv
from tests.postgres import PostgresServer
from tests.real_server import free_port
from tests.schemas import CLASSIC_TO_SNAKE
from tests.segmentation.sources_tables import (
    create_schema,
    create_tables,
    income_not_a_number,
    sqlite_with_declared_types,
)
from training.sample_data import generate_customers
from training.train import TrainingOptions, train

OUTPUT = "customer_segments"
CUSTOMERS = 400


@pytest.fixture
def crm(database_url: str) -> Iterator[str]:
    """A CRM database with a table of customers (classic column names, integer ids)."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as connection:
            generate_customers(CUSTOMERS, seed=5).frame.to_sql("customers", connection, index=False)
        yield database_url
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """One small model for the module: every test scores with it and none changes it."""
    root = tmp_path_factory.mktemp("crm-models")
    data = write_sample_csv(root / "customers.csv")
    options = TrainingOptions(
        source=DataSource(str(data)), models_dir=root / "models", k=4, stability_samples=0
    )
    return train(options)


def read(url: str, query: str) -> pd.DataFrame:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return pd.read_sql_query(sqlalchemy.text(query), connection)
    finally:
        engine.dispose()


def has_table(url: str, table: str) -> bool:
    engine = sqlalchemy.create_engine(url)
    try:
        return sqlalchemy.inspect(engine).has_table(table)
    finally:
        engine.dispose()


def segments(url: str, table: str = OUTPUT) -> pd.DataFrame:
    quoted = '"' + table.replace('"', '""') + '"'
    return read(url, f"SELECT * FROM {quoted} ORDER BY customer_id")


def score(bundle: Bundle, url: str, *extra: str) -> int:
    return main(
        [
            "--models-dir",
            str(bundle.path.parent),
            "--version",
            bundle.metadata.version,
            "--data",
            url,
            "--quiet",
            *extra,
        ]
    )


def test_segments_are_written_back_one_row_per_customer(
    crm: str, bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert score(bundle, crm, "--table", "customers", "--output-table", OUTPUT) == 0
    written = segments(crm)
    assert list(written.columns) == list(OUTPUT_COLUMNS)
    assert len(written) == CUSTOMERS
    customers = read(crm, 'SELECT * FROM customers ORDER BY "CustomerID"')
    features = customers.rename(columns=CLASSIC_TO_SNAKE)[bundle.metadata.features]
    assert written["customer_id"].tolist() == customers["CustomerID"].tolist()
    assert written["segment_id"].tolist() == bundle.pipeline.predict(features).tolist()
    names = {p.id: p.name for p in bundle.metadata.segments}
    assert written["segment_name"].tolist() == [names[i] for i in written["segment_id"]]
    assert set(written["model_version"]) == {bundle.metadata.version}
    assert written["distance"].gt(0).all()
    out = capsys.readouterr().out
    assert f"scored {CUSTOMERS} customers with {bundle.metadata.version} into table" in out


def test_rerunning_changes_only_scored_at_and_a_newer_model_replaces_rows(
    crm: str, bundle: Bundle, trained_copy: TrainFn
) -> None:
    assigner = Assigner.from_bundle(bundle)
    source = DataSource(crm, table="customers")
    first, second = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    score_into_table(assigner, source, OUTPUT, model_version=bundle.metadata.version, now=first)
    before = segments(crm)
    score_into_table(assigner, source, OUTPUT, model_version=bundle.metadata.version, now=second)
    after = segments(crm)
    unchanged = [c for c in OUTPUT_COLUMNS if c != "scored_at"]
    pd.testing.assert_frame_equal(before[unchanged], after[unchanged])
    assert pd.to_datetime(before["scored_at"], utc=True).eq(first).all()
    assert pd.to_datetime(after["scored_at"], utc=True).eq(second).all()

    newer = trained_copy(k=3, seed=9)
    score_into_table(
        Assigner.from_bundle(newer), source, OUTPUT, model_version=newer.metadata.version
    )
    replaced = segments(crm)
    assert len(replaced) == CUSTOMERS
    assert set(replaced["model_version"]) == {newer.metadata.version}
    assert set(replaced["segment_id"]) <= {0, 1, 2}


def test_a_query_with_mapped_columns(crm: str, bundle: Bundle) -> None:
    query = (
        'SELECT "CustomerID" AS id, "Age" AS years, "Annual Income (k$)" AS income, '
        '"Spending Score (1-100)" AS score FROM customers WHERE "Age" < 40'
    )
    mapping = "id=customer_id,years=age,income=annual_income,score=spending_score"
    code = score(bundle, crm, "--query", query, "--columns", mapping, "--output-table", OUTPUT)
    assert code == 0
    young = read(crm, 'SELECT COUNT(*) AS n FROM customers WHERE "Age" < 40')["n"][0]
    assert len(segments(crm)) == young


def bad_rows_into(url: str, table: str) -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            frame = generate_customers(50, seed=1).frame
            frame.loc[30, "Age"] = 500
            frame.to_sql(table, connection, index=False)
    finally:
        engine.dispose()


def test_a_bad_row_writes_nothing_and_leaves_the_table_as_it_was(
    crm: str, bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_rows_into(crm, "more_customers")
    # First use: no table is left behind.
    assert score(bundle, crm, "--table", "more_customers", "--output-table", OUTPUT) == 2
    # A table has no row order to find a row by: the customer is named.
    customer = str(generate_customers(50, seed=1).frame.loc[30, "CustomerID"])
    assert f"customer_id '{customer}', column 'age': value 500 is outside" in (
        capsys.readouterr().err
    )
    assert not has_table(crm, OUTPUT)
    # Later: the rows written before stay exactly as they were.
    assert score(bundle, crm, "--table", "customers", "--output-table", OUTPUT) == 0
    before = segments(crm)
    assert score(bundle, crm, "--table", "more_customers", "--output-table", OUTPUT) == 2
    pd.testing.assert_frame_equal(before, segments(crm))


def test_repeated_or_missing_customer_ids_are_refused(crm: str, bundle: Bundle) -> None:
    engine = sqlalchemy.create_engine(crm)
    try:
        with engine.begin() as connection:
            frame = generate_customers(20, seed=2).frame
            frame.loc[15, "CustomerID"] = 3  # repeated in another chunk than the first 3
            frame.to_sql("repeated", connection, index=False)
            frame.drop(columns="CustomerID").to_sql("anonymous", connection, index=False)
    finally:
        engine.dispose()
    assigner = Assigner.from_bundle(bundle)
    version = bundle.metadata.version
    with pytest.raises(ScoringError, match="customer_id '3' appear more than once"):
        score_into_table(
            assigner,
            DataSource(crm, table="repeated"),
            OUTPUT,
            model_version=version,
            chunk_rows=10,
        )
    with pytest.raises(ScoringError, match="missing required column 'customer_id'"):
        score_into_table(
            assigner, DataSource(crm, table="anonymous"), OUTPUT, model_version=version
        )
    assert not has_table(crm, OUTPUT)


def test_table_names_are_identifiers_never_sql(crm: str, bundle: Bundle) -> None:
    hostile = 'segments"; DROP TABLE customers; --'
    assert score(bundle, crm, "--table", "customers", "--output-table", hostile) == 0
    assert len(segments(crm, hostile)) == CUSTOMERS
    assert len(read(crm, "SELECT * FROM customers")) == CUSTOMERS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--table", "nope", "--output-table", OUTPUT], "no such table 'nope'"),
        (["--query", "SELEKT 1", "--output-table", OUTPUT], "database error"),
    ],
)
def test_database_errors_are_one_clear_line(
    crm: str,
    bundle: Bundle,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    assert score(bundle, crm, *arguments) == 2
    assert message in capsys.readouterr().err


def test_an_output_table_of_another_shape_is_refused(crm: str, bundle: Bundle) -> None:
    engine = sqlalchemy.create_engine(crm)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"CREATE TABLE {OUTPUT} (customer_id TEXT, note TEXT)")
    finally:
        engine.dispose()
    with pytest.raises(ScoringError, match="exists without column 'segment_id'"):
        score_into_table(
            Assigner.from_bundle(bundle),
            DataSource(crm, table="customers"),
            OUTPUT,
            model_version=bundle.metadata.version,
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "sqlite:///x.db", "--table", "t", "--output", "o.csv"], "--output-table"),
        (["--input", "a.csv", "--output-table", "t"], "needs --data to be a database URL"),
        (["--input", "a.csv", "--output", "o.csv", "--table", "t"], "go with a database URL"),
        (
            ["--data", "sqlite:///x.db", "--table", "t", "--output-table", "t", "--explain"],
            "--explain adds columns to files",
        ),
    ],
)
def test_option_mistakes_exit_2(
    bundle: Bundle, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--models-dir", str(bundle.path.parent), *arguments])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_password_is_never_printed(
    postgres: object, bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.postgres import PostgresServer

    assert isinstance(postgres, PostgresServer)
    url = postgres.url(postgres.create_database(), password="s3cret-pw")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            generate_customers(30, seed=3).frame.to_sql("customers", connection, index=False)
    finally:
        engine.dispose()
    assert score(bundle, url, "--table", "customers", "--output-table", OUTPUT) == 0
    assert score(bundle, url, "--table", "nope", "--output-table", OUTPUT) == 2
    unreachable = url.replace(f":{postgres.port}/", f":{free_port()}/")
    assert score(bundle, unreachable, "--table", "customers", "--output-table", OUTPUT) == 2
    printed = capsys.readouterr()
    assert "Connection refused" in printed.err
    assert "s3cret-pw" not in printed.out + printed.err
    assert "postgres:***@" in printed.out


# segment-score with one step of the write replaced by a version that does its real work, signals
# the test through a marker file and waits to be killed.
PAUSED_WRITER = """
import os, sys, time
from scoring import database
real = getattr(database, os.environ["PAUSE_AFTER"])
def paused(*args, **kwargs):
    real(*args, **kwargs)
    open(os.environ["PAUSE_MARKER"], "w").close()
    time.sleep(600)
setattr(database, os.environ["PAUSE_AFTER"], paused)
from scoring.cli import main
sys.exit(main(sys.argv[1:]))
"""

KILL_MOMENTS = [
    # (moment, the step after which the writer is killed, whether the table had rows before)
    ("while staging the rows", "_stage", True),
    ("after the upsert, before the commit", "_merge", True),
    ("after creating the table and upserting, before the commit", "_merge", False),
]


@pytest.mark.parametrize(
    ("moment", "step", "written_before"), KILL_MOMENTS, ids=[m[0] for m in KILL_MOMENTS]
)
def test_a_write_killed_midway_leaves_the_table_as_it_was(
    crm: str, bundle: Bundle, tmp_path: Path, moment: str, step: str, written_before: bool
) -> None:
    if written_before:
        assert score(bundle, crm, "--table", "customers", "--output-table", OUTPUT) == 0
        before = segments(crm)
    # Other customers, so that a committed write would show in every row.
    engine = sqlalchemy.create_engine(crm)
    try:
        with engine.begin() as connection:
            generate_customers(CUSTOMERS, seed=8).frame.to_sql(
                "customers", connection, index=False, if_exists="replace"
            )
    finally:
        engine.dispose()
    marker = tmp_path / "paused"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSED_WRITER,
            "--models-dir",
            str(bundle.path.parent),
            "--version",
            bundle.metadata.version,
            "--data",
            crm,
            "--table",
            "customers",
            "--output-table",
            OUTPUT,
            "--quiet",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PAUSE_AFTER": step, "PAUSE_MARKER": str(marker)},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert writer.poll() is None, f"the writer ended before {moment}"
            assert time.monotonic() < deadline, f"the writer never reached {moment}"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    if written_before:
        pd.testing.assert_frame_equal(before, segments(crm))
    else:
        assert not has_table(crm, OUTPUT), moment


def customers_with_ids(url: str, table: str, ids: Sequence[object], id_type: Any = None) -> None:
    """A source table of ``len(ids)`` customers with these ids (SQLite keeps text that an
    INTEGER column cannot convert as text)."""
    frame = generate_customers(len(ids), seed=4).frame.astype({"CustomerID": object})
    frame["CustomerID"] = pd.array(list(ids), dtype=object)
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            frame.to_sql(
                table, connection, index=False, dtype={"CustomerID": id_type or sqlalchemy.Text()}
            )
    finally:
        engine.dispose()


def output_table_keyed_by(url: str, key: str, check: str = "") -> None:
    """An output table the CRM made itself, with its own type for customer_id."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE {OUTPUT} (customer_id {key} PRIMARY KEY, segment_id INTEGER NOT "
                "NULL, segment_name TEXT NOT NULL, distance FLOAT NOT NULL, atypical BOOLEAN "
                "NOT NULL, model_version TEXT NOT NULL, scored_at TIMESTAMP WITH TIME ZONE NOT "
                f"NULL{check})"
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        ([f"R{n:05d}" for n in range(20)], "'R00000', 'R00001'"),
        ([str(n) for n in range(19)] + ["07"], "'07'"),
        ([str(n) for n in range(19)] + ["99999999999999999999"], "'99999999999999999999'"),
        ([str(n) for n in range(19)] + ["-0"], "'-0'"),  # '0' and '-0': one customer
        ([str(n) for n in range(19)] + ["9" * 5000], "'99999"),  # int() refuses 4,300 digits
    ],
    ids=["letters", "leading-zero", "beyond-64-bits", "minus-zero", "thousands-of-digits"],
)
def test_ids_an_integer_output_table_cannot_hold_are_refused_not_merged(
    crm: str, bundle: Bundle, ids: list[str], shown: str
) -> None:
    """SQLite's cast made every 'R…' id customer 0 (one row for 20 customers), and '07' the
    same customer as '7', and the run still reported success."""
    assert score(bundle, crm, "--table", "customers", "--output-table", OUTPUT) == 0
    before = segments(crm)
    customers_with_ids(crm, "text_ids", ids)
    with pytest.raises(
        ScoringError,
        match=f"customer_id {shown}.* cannot be stored in output "
        f"table '{OUTPUT}', whose customer_id is BIGINT",
    ):
        score_into_table(
            Assigner.from_bundle(bundle),
            DataSource(crm, table="text_ids"),
            OUTPUT,
            model_version=bundle.metadata.version,
        )
    pd.testing.assert_frame_equal(segments(crm), before)


def test_ids_that_become_one_in_the_output_tables_key_type_are_refused(
    crm: str, bundle: Bundle
) -> None:
    output_table_keyed_by(crm, "NUMERIC")
    customers_with_ids(crm, "decimal_ids", [f"{n}.5" for n in range(18)] + ["1.0", "1.00"])
    # PostgreSQL keeps 1.0 and 1.00 apart as text and merges them as numbers; SQLite stores
    # '1.0' as 1: either way the run is refused, naming the id.
    with pytest.raises(
        ScoringError,
        match=r"customer_id '1\.0'.*(become the same id|cannot be stored in output table)",
    ):
        score_into_table(
            Assigner.from_bundle(bundle),
            DataSource(crm, table="decimal_ids"),
            OUTPUT,
            model_version=bundle.metadata.version,
        )
    assert segments(crm).empty


@pytest.mark.parametrize(
    ("key", "ids", "shown"),
    [
        ("NUMERIC", ["R00001", *(str(n) for n in range(1, 20))], "'R00001'"),
        ("NUMERIC", ["0042", *(str(n) for n in range(1, 20))], "'0042'"),
        ("VARCHAR(6)", ["R0000001", *(f"R{n:05d}" for n in range(1, 20))], "'R0000001'"),
    ],
    ids=["letters-in-numeric", "leading-zeros-in-numeric", "longer-than-varchar"],
)
def test_ids_an_output_tables_key_would_change_are_refused(
    crm: str, bundle: Bundle, key: str, ids: list[str], shown: str
) -> None:
    """SQLite stored 'R00001' in a NUMERIC key as 0 and '0042' as 42; PostgreSQL cuts an id
    cast to VARCHAR(n): each reported success."""
    output_table_keyed_by(crm, key)
    customers_with_ids(crm, "changed_ids", ids)
    with pytest.raises(ScoringError, match="cannot be stored in output table") as refused:
        score_into_table(
            Assigner.from_bundle(bundle),
            DataSource(crm, table="changed_ids"),
            OUTPUT,
            model_version=bundle.metadata.version,
        )
    assert shown.strip("'") in str(refused.value)  # PostgreSQL names it in its own words
    assert segments(crm).empty


def test_a_new_table_takes_text_ids_when_a_later_chunk_has_them(
    tmp_path: Path, bundle: Bundle
) -> None:
    """The key type came from the first chunk alone: ten integers, then ten text ids, wrote
    eleven rows for twenty customers."""
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    ids: list[object] = [*range(10), *(f"R{n}" for n in range(10))]
    customers_with_ids(url, "mixed", ids, sqlalchemy.Integer())
    summary = score_into_table(
        Assigner.from_bundle(bundle),
        DataSource(url, table="mixed"),
        OUTPUT,
        model_version=bundle.metadata.version,
        chunk_rows=10,
    )
    assert summary.rows == 20
    assert sorted(segments(url)["customer_id"]) == sorted(map(str, ids))


def test_a_write_the_output_table_refuses_names_that_table_and_writes_nothing(
    crm: str, bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    output_table_keyed_by(crm, "BIGINT", check=", CHECK (segment_id <> 2)")
    assert score(bundle, crm, "--table", "customers", "--output-table", OUTPUT) == 2
    err = capsys.readouterr().err
    assert f"output table '{OUTPUT}': database error while writing the {CUSTOMERS}" in err
    assert "so none was written" in err
    assert segments(crm).empty


def test_schema_qualified_names_read_and_write_the_tables_the_crm_reads(
    postgres: PostgresServer, bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """``crm.customer_segments`` was written as a table of that name in the default schema,
    where the CRM reading crm.customer_segments never saw it; ``crm.customers`` was not found."""
    url = postgres.url(postgres.create_database())
    create_schema(url, "crm")
    create_tables(url, {("crm", "customers"): CUSTOMERS})
    target = "crm.customer_segments"
    assert score(bundle, url, "--table", "crm.customers", "--output-table", target) == 0
    assert f"into table '{target}'" in capsys.readouterr().out
    assert len(read(url, f"SELECT * FROM {target}")) == CUSTOMERS
    assert not has_table(url, target)  # no table named with the dot in the default schema
    # A table from before the change columns gets them, in its own schema.
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"ALTER TABLE {target} DROP COLUMN previous_segment_id, "
                "DROP COLUMN segment_changed_at"
            )
    finally:
        engine.dispose()
    assert score(bundle, url, "--table", '"crm"."customers"', "--output-table", target) == 0
    assert list(read(url, f"SELECT * FROM {target}").columns) == list(OUTPUT_COLUMNS)
    # A quoted part keeps its dots and spaces.
    odd = 'crm."Segments 2026.12"'
    assert score(bundle, url, "--table", "crm.customers", "--output-table", odd) == 0
    assert len(read(url, f"SELECT * FROM {odd}")) == CUSTOMERS


def test_an_output_table_in_an_unknown_schema_is_refused_before_anything_is_read(
    crm: str, bundle: Bundle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert score(bundle, crm, "--table", "customers", "--output-table", f"crm.{OUTPUT}") == 2
    assert f"output table 'crm.{OUTPUT}': no schema 'crm' (" in capsys.readouterr().err
    assert not has_table(crm, f"crm.{OUTPUT}")
    assert not has_table(crm, OUTPUT)
    # The default schema by name (SQLite's only one is main): the tables scoring always used.
    schema = "main" if crm.startswith("sqlite") else "public"
    arguments = ["--table", f"{schema}.customers", "--output-table", f"{schema}.{OUTPUT}"]
    assert score(bundle, crm, *arguments) == 0
    assert len(segments(crm)) == CUSTOMERS


@pytest.mark.parametrize("table", ["customers", "copied"])
def test_sqlite_declared_types_neither_crash_scoring_nor_hide_a_bad_value(
    tmp_path: Path, bundle: Bundle, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    """A DATE column of '01/03/2025' that no feature reads (NUM in a copy), or 'abc' in a
    NUMERIC feature, failed with SQLAlchemy's traceback."""
    url, frame = sqlite_with_declared_types(tmp_path / "crm.db")
    assert score(bundle, url, "--table", table, "--output-table", OUTPUT) == 0
    assert segments(url)["customer_id"].tolist() == frame["CustomerID"].tolist()
    income_not_a_number(url, 12)
    capsys.readouterr()
    assert score(bundle, url, "--table", "customers", "--output-table", OUTPUT) == 2
    error = capsys.readouterr().err
    assert "customer_id '12', column 'annual_income': value 'abc' is not a number" in error
    assert "Traceback" not in error
