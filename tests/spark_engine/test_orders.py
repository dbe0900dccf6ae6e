"""Orders into customers on Spark: a Spark aggregation makes the customers pandas makes, and bad
orders are named."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from segmentation.rfm import customer_features
from spark_engine.orders import OrdersSparkError, order_customers
from training.sample_retail import generate_orders

pytestmark = pytest.mark.spark


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


def test_bad_orders_are_named(spark: SparkSession) -> None:
    """Every check goes through one refusal (the pandas path's tests cover each rule)."""
    rows = [("A", "2026-11-01", "5"), ("B", "01/11/2026", "5")]
    df = spark.createDataFrame(rows, ["customer_id", "order_date", "amount"])
    with pytest.raises(OrdersSparkError) as refused:
        order_customers(df, {}, date(2026, 12, 1))
    message = "column 'order_date': not a date (YYYY-MM-DD), in 1 of the orders (customer 'B'"
    assert message in str(refused.value)
