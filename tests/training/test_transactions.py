"""RFM segments from a table of orders: trained, named the CRM way, and scored the same way into a
file and into a database table (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

from scoring.cli import main as score_main
from segmentation.bundle import Bundle, load_bundle
from segmentation.rfm import RFM_FEATURES, OrdersError, customer_features, read_order_customers
from segmentation.schema import NumericFeature
from segmentation.sources import DataSource, SourceReader
from tests.conftest import REPO_ROOT
from tests.postgres import PostgresServer
from training.cli import main as train_main
from training.sample_retail import generate_orders

SAMPLE_ORDERS = REPO_ROOT / "data" / "sample_orders.csv"
RFM_NAMES = {"Champions", "Loyal", "At risk", "Hibernating", "New", "Promising", "Needs attention"}


@pytest.fixture(scope="module")
def rfm_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("rfm") / "models"
    arguments = ["--transactions", str(SAMPLE_ORDERS), "--models-dir", str(models)]
    assert train_main([*arguments, "--k", "5", "--stability-samples", "0", "--quiet"]) == 0
    return models


def rfm_frame(path: Path, as_of: date | None = None) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"customer_id": str, "order_date": str})
    return customer_features(frame, as_of, str(path)).frame


def expected_segments(bundle: Bundle, frame: pd.DataFrame) -> list[int]:
    return [int(s) for s in bundle.pipeline.predict(frame[list(RFM_FEATURES)])]


def test_orders_train_rfm_segments_with_crm_names(rfm_models: Path) -> None:
    bundle = load_bundle(rfm_models)
    metadata = bundle.metadata
    assert metadata.features == list(RFM_FEATURES)
    transforms = {
        f.name: f.transform
        for f in metadata.feature_schema.features
        if isinstance(f, NumericFeature)
    }
    assert transforms["monetary"] == transforms["frequency"] == "log1p"
    assert transforms["tenure_days"] is None
    orders = metadata.training_data.transactions
    assert orders is not None
    assert (orders.as_of, orders.as_of_rule) == (date(2026, 12, 1), "day_after_last_order")
    assert orders.returns > 0
    assert orders.customers_with_orders == metadata.training_data.rows == 500
    names = {p.auto_name.split(" (")[0] for p in metadata.segments}
    assert names <= RFM_NAMES
    # The planted groups of the sample come back under their own names.
    assert {"Champions", "New", "Hibernating", "At risk"} <= names


def test_segment_score_scores_the_customers_of_orders_as_training_did(
    rfm_models: Path, tmp_path: Path
) -> None:
    orders = tmp_path / "orders.csv"
    generate_orders(120, seed=3).frame.to_csv(orders, index=False)
    output = tmp_path / "segments.csv"
    arguments = ["--models-dir", str(rfm_models), "--transactions", str(orders)]
    assert score_main([*arguments, "--output", str(output), "--as-of", "2026-12-01"]) == 0
    scored = pd.read_csv(output, dtype={"customer_id": str})
    frame = rfm_frame(orders, date(2026, 12, 1))
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    assert scored["segment_id"].tolist() == expected_segments(load_bundle(rfm_models), frame)


def test_scoring_orders_into_a_database_table_is_all_or_nothing(
    rfm_models: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = generate_orders(80, seed=8).frame
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        frame.to_sql("orders", connection, index=False)
    arguments = ["--models-dir", str(rfm_models), "--transactions", database_url]
    arguments += ["--table", "orders", "--output-table", "customer_segments", "--quiet"]
    assert score_main(arguments) == 0
    with engine.connect() as connection:
        written = pd.read_sql("SELECT * FROM customer_segments ORDER BY customer_id", connection)
    customers = customer_features(frame, None, "orders").frame.sort_values("customer_id")
    assert written["customer_id"].tolist() == customers["customer_id"].tolist()
    bundle = load_bundle(rfm_models)
    assert written["segment_id"].tolist() == expected_segments(bundle, customers)
    # A bad order writes nothing: the table keeps the rows it had.
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO orders (customer_id, order_date, amount) "
                "VALUES ('C99999', 'not a date', 5)"
            )
        )
    capsys.readouterr()
    assert score_main(arguments) == 2
    # Named by its customer, in SQLite (read here) as in PostgreSQL (checked in the database):
    # a table's rows come in no fixed order, so "row 81" would find nothing.
    refusal = capsys.readouterr().err
    assert "column 'order_date'" in refusal
    assert "customer 'C99999'" in refusal
    assert " row " not in refusal
    with engine.connect() as connection:
        again = pd.read_sql("SELECT * FROM customer_segments ORDER BY customer_id", connection)
    pd.testing.assert_frame_equal(again, written)
    engine.dispose()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "customer_id,order_date,amount\nA,2026-11-01,5\nB,yesterday,5\n",
            "column 'order_date', row 2 (line 3): value 'yesterday' is not a date",
        ),
        ("customer_id,day,amount\nA,2026-11-01,5\n", "missing required column 'order_date'"),
    ],
)
def test_bad_orders_fail_training_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, message: str
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(rows, encoding="utf-8")
    models = tmp_path / "models"
    assert train_main(["--transactions", str(orders), "--models-dir", str(models), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not models.exists()


def test_as_of_goes_with_transactions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train_main(["--as-of", "2026-12-01"])
    assert "--as-of goes with --transactions" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        score_main(["--input", "x.csv", "--output", "y.csv", "--as-of", "2026-12-01"])
    assert "--as-of goes with --transactions" in capsys.readouterr().err


def test_postgresql_aggregates_the_orders_itself(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One GROUP BY in the database: not one order is read into Python, and the customers are
    the ones the pandas path makes of the same orders (typed DATE and NUMERIC columns)."""
    url = postgres.url(postgres.create_database())
    frame = generate_orders(150, seed=12).frame
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "CREATE TABLE sales (client text, day date, total numeric(12, 2), store text)"
            )
        )
        connection.execute(
            sqlalchemy.text("INSERT INTO sales VALUES (:c, :d, :a, 'north')"),
            [
                {"c": c, "d": d, "a": a}
                for c, d, a in frame[["customer_id", "order_date", "amount"]].itertuples(
                    index=False
                )
            ],
        )

    def no_rows(*_: object, **__: object) -> None:
        raise AssertionError("orders were read into Python")

    monkeypatch.setattr(SourceReader, "read_all", no_rows)
    source = DataSource(
        url,
        table="sales",
        columns={"client": "customer_id", "day": "order_date", "total": "amount"},
    )
    read = read_order_customers(source, date(2026, 12, 1))
    expected = customer_features(frame, date(2026, 12, 1), "orders").frame
    got = read.rfm.frame.sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got, expected.sort_values("customer_id").reset_index(drop=True), check_exact=False
    )
    assert read.rfm.summary.returns == int((frame["amount"] < 0).sum())
    # An order after the as-of date is refused, naming the customer.
    late = r"after the as-of date 2026-11-01, in .* of the orders \(customer '"
    with pytest.raises(OrdersError, match=late):
        read_order_customers(source, date(2026, 11, 1))
    # Another schema's orders, named as SQL names them (it was taken whole: "database error").
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE SCHEMA crm"))
        connection.execute(sqlalchemy.text("CREATE TABLE crm.sales AS SELECT * FROM sales"))
    in_crm = dataclasses.replace(source, table="crm.sales")
    pd.testing.assert_frame_equal(
        read_order_customers(in_crm, date(2026, 12, 1)).rfm.frame.sort_values("customer_id"),
        read.rfm.frame.sort_values("customer_id"),
    )
    with pytest.raises(OrdersError, match=r"no schema 'sales_2025' \(the database's schemas: "):
        read_order_customers(dataclasses.replace(source, table="sales_2025.sales"), None)
    with pytest.raises(OrdersError, match=r"no such table 'orders' in schema 'crm'"):
        read_order_customers(dataclasses.replace(source, table="crm.orders"), None)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("INSERT INTO sales VALUES ('C1', NULL, 5, 'x')"))
    with pytest.raises(OrdersError, match="column 'order_date': missing value, in 1 of the orders"):
        read_order_customers(source, None)
    engine.dispose()


def test_scoring_says_who_was_left_out_and_reads_renamed_columns(
    rfm_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "client,day,total\nA,2026-11-01,30\nB,2026-11-02,-10\nC,2026-11-03,50\n",
        encoding="utf-8",
    )
    output = tmp_path / "segments.csv"
    arguments = ["--models-dir", str(rfm_models), "--transactions", str(orders)]
    arguments += ["--columns", "client=customer_id,day=order_date,total=amount"]
    assert score_main([*arguments, "--output", str(output)]) == 0
    printed = capsys.readouterr()
    assert "scored 2 customers" in printed.out
    assert "left out: 1 customer with returns only" in printed.out
    assert pd.read_csv(output)["customer_id"].tolist() == ["A", "C"]


def test_a_bad_order_with_drop_invalid_says_orders_are_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--drop-invalid had no effect on orders and said nothing about it."""
    orders = pd.read_csv(SAMPLE_ORDERS, dtype=str)
    orders.loc[1, "order_date"] = "01/11/2026"
    path = tmp_path / "orders.csv"
    orders.to_csv(path, index=False)
    models = tmp_path / "models"
    arguments = ["--transactions", str(path), "--models-dir", str(models), "--quiet"]
    assert train_main([*arguments, "--drop-invalid"]) == 2
    err = capsys.readouterr().err
    assert "column 'order_date', row 2 (line 3): value '01/11/2026' is not a date" in err
    assert "--drop-invalid leaves out customers whose features are invalid, not orders" in err
    assert not models.exists()


def test_a_customer_made_from_orders_is_named_by_id_not_by_a_row_of_the_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = pd.read_csv(SAMPLE_ORDERS, dtype=str)
    customer = orders.loc[0, "customer_id"]
    orders.loc[orders["customer_id"] == customer, "amount"] = "1e300"
    path = tmp_path / "orders.csv"
    orders.to_csv(path, index=False)
    models = tmp_path / "models"
    arguments = ["--transactions", str(path), "--models-dir", str(models), "--quiet"]
    assert train_main(arguments) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert f", customer '{customer}': value " in first
    assert "is outside the valid range" in first
    assert " row " not in first
    assert train_main([*arguments, "--drop-invalid"]) == 0
    metadata = load_bundle(models).metadata
    assert metadata.data_quality.rows_dropped == 1
