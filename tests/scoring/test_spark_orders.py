"""Orders scored on Spark: the same segments as segment-score gives on one machine."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from scoring.cli import main as score_main
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
