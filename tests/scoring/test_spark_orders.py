"""Orders scored on Spark: a Spark aggregation makes the same customers and the same segments as
segment-score does on one machine, and bad orders are named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from scoring.cli import main as score_main
from scoring.spark_orders import OrdersSparkError, order_customers
from segmentation.rfm import customer_features
from training.cli import main as train_main
from training.sample_retail import generate_orders

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def rfm_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark-rfm")
    orders = root / "orders.csv"
    generate_orders(200, seed=4).frame.to_csv(orders, index=False)
    models = root / "models"
    arguments = ["--transactions", str(orders), "--models-dir", str(models), "--quiet"]
    assert train_main([*arguments, "--k", "4", "--stability-samples", "0"]) == 0
    return models


def test_a_spark_aggregation_makes_the_customers_pandas_makes(spark: SparkSession) -> None:
    frame = generate_orders(150, seed=5).frame
    df = spark.createDataFrame(frame.rename(columns={"amount": "total"}))
    made = order_customers(df, {"total": "amount"}, date(2026, 12, 1))
    customers = made.customers.toArrow().to_pandas()
    expected = customer_features(frame, date(2026, 12, 1), "orders").frame
    pd.testing.assert_frame_equal(
        customers.sort_values("customer_id", ignore_index=True),
        expected.sort_values("customer_id", ignore_index=True),
        check_dtype=False,
    )
    left_out = customer_features(frame, date(2026, 12, 1), "orders").summary
    assert made.left_out == left_out.customers_without_orders


def test_orders_scored_on_spark_equal_segment_score(
    spark: SparkSession, rfm_models: Path, tmp_path: Path
) -> None:
    orders = tmp_path / "orders.parquet"
    generate_orders(120, seed=6).frame.to_parquet(orders)
    local = tmp_path / "local.csv"
    common = ["--models-dir", str(rfm_models), "--transactions", str(orders), "--quiet"]
    assert score_main([*common, "--output", str(local)]) == 0
    distributed = tmp_path / "spark.parquet"
    engine = ["--engine", "spark", "--master", "local[2]"]
    assert score_main([*engine, *common, "--output", str(distributed)]) == 0
    expected = pd.read_csv(local, dtype={"customer_id": str}).sort_values("customer_id")
    got = pd.read_parquet(distributed).sort_values("customer_id")
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["segment_id"].tolist() == expected["segment_id"].tolist()


def test_bad_orders_are_named(spark: SparkSession) -> None:
    """Every check goes through one refusal (the pandas path's tests cover each rule)."""
    rows = [("A", "2026-11-01", "5"), ("B", "01/11/2026", "5")]
    df = spark.createDataFrame(rows, ["customer_id", "order_date", "amount"])
    with pytest.raises(OrdersSparkError) as refused:
        order_customers(df, {}, date(2026, 12, 1))
    message = "column 'order_date': not a date (YYYY-MM-DD), in 1 of the orders (customer 'B'"
    assert message in str(refused.value)
