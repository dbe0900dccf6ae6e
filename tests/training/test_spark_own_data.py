"""segment-train --engine spark on a retailer's own tables: categorical and log1p features, kinds,
ranges and levels derived from every row by the single-machine rules, and orders turned into
RFM customers; each gives the bundle single-machine training gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from sklearn.compose import ColumnTransformer
from sklearn.metrics import adjusted_rand_score

from scoring.cli import main as score_main
from segmentation.bundle import load_bundle
from segmentation.rfm import RFM_FEATURES, customer_features
from segmentation.sources import DataSource
from spark_engine.orders import order_customers
from spark_engine.session import read_customers
from tests.conftest import REPO_ROOT
from training.cli import main as train_main
from training.columns import ColumnPlan, complete_schema, plan_columns
from training.data import load_customers
from training.spark import _complete_schema

pytestmark = pytest.mark.spark

RETAIL = REPO_ROOT / "data" / "sample_retail_customers.csv"
ORDERS = REPO_ROOT / "data" / "sample_orders.csv"
FEATURES = ("tenure_months", "orders_per_year", "average_basket", "channel", "loyalty_tier")
# Nothing but names, kinds and transforms: every range and level comes from the data.
RETAIL_SCHEMA = """
[[feature]]
name = "tenure_months"

[[feature]]
name = "orders_per_year"
transform = "log1p"

[[feature]]
name = "average_basket"
transform = "log1p"

[[feature]]
name = "channel"
kind = "categorical"

[[feature]]
name = "loyalty_tier"
kind = "categorical"

[[attribute]]
name = "region"
kind = "categorical"
"""


@pytest.fixture
def retail_schema(tmp_path: Path) -> Path:
    path = tmp_path / "retail.toml"
    path.write_text(RETAIL_SCHEMA, encoding="utf-8")
    return path


def spark_schema_of(spark: SparkSession, location: Path, plan: ColumnPlan) -> object:
    return _complete_schema(read_customers(spark, str(location)), plan, {}, str(location))


def test_kinds_ranges_and_levels_come_from_every_row_by_the_single_machine_rules(
    spark: SparkSession, retail_schema: Path, tmp_path: Path
) -> None:
    # Kinds inferred from a CSV's text (Spark reads every CSV column as text).
    inferred = plan_columns(FEATURES, None)
    local = load_customers(DataSource(str(RETAIL)), inferred).schema
    assert spark_schema_of(spark, RETAIL, inferred) == local
    # A schema file's log1p features and attribute, from a Parquet file's typed columns.
    parquet = tmp_path / "retail.parquet"
    pd.read_csv(RETAIL).to_parquet(parquet)
    declared = plan_columns(None, retail_schema)
    local = load_customers(DataSource(str(parquet)), declared).schema
    assert spark_schema_of(spark, parquet, declared) == local
    assert local.feature("average_basket").transform == "log1p"  # type: ignore[union-attr]
    # Letter case folded to the most common spelling; a number column with a few bad cells.
    frame = pd.DataFrame(
        {
            "channel": ["online", "Online", "online ", "store", "STORE", "store"] * 5,
            "visits": [str(n) for n in range(1, 28)] + ["x", "x", "5"],  # 90% numbers
            # A third "NA" (missing in a column of numbers, not text against it), and a typo
            # beyond 1e100 that the derived range leaves out.
            "spend": ["NA", "12.5", "30"] * 9 + ["1e300", "40", "NA"],
        }
    )
    plan = plan_columns(["channel", "visits", "spend"], None)
    got = _complete_schema(spark.createDataFrame(frame), plan, {}, "frame")
    assert got == complete_schema(plan, frame)
    assert got.feature("channel").levels == ("online", "store")  # type: ignore[union-attr]


@pytest.mark.spark_slow
def test_categorical_and_log1p_features_train_on_spark_as_on_one_machine(
    spark: SparkSession, retail_schema: Path, tmp_path: Path
) -> None:
    common = ["--data", str(RETAIL), "--schema", str(retail_schema), "--k", "4", "--quiet"]
    common += ["--stability-samples", "0"]
    spark_models, local_models = tmp_path / "spark", tmp_path / "local"
    assert train_main([*common, "--engine", "spark", "--models-dir", str(spark_models)]) == 0
    assert train_main([*common, "--models-dir", str(local_models)]) == 0
    on_spark, local = load_bundle(spark_models), load_bundle(local_models)
    assert on_spark.metadata.engine == "spark"
    assert on_spark.metadata.feature_schema == local.metadata.feature_schema
    assert isinstance(on_spark.scaler, ColumnTransformer)
    np.testing.assert_allclose(on_spark.numbers.mean, local.numbers.mean, rtol=1e-9)
    np.testing.assert_allclose(on_spark.numbers.scale, local.numbers.scale, rtol=1e-9)
    frame = pd.read_csv(RETAIL)
    spark_labels = on_spark.pipeline.predict(frame[list(FEATURES)])
    local_labels = local.pipeline.predict(frame[list(FEATURES)])
    assert adjusted_rand_score(local_labels, spark_labels) >= 0.95
    # Level shares and segment sizes count every row, the attribute's levels too.
    local_levels = local.metadata.feature_levels
    for name, shares in on_spark.metadata.feature_levels.items():
        assert shares == pytest.approx(local_levels[name])
    assert set(on_spark.metadata.feature_levels) == set(local_levels) == {"channel", "loyalty_tier"}
    segments = on_spark.metadata.segments
    assert [p.size for p in segments] == np.bincount(spark_labels, minlength=4).tolist()
    regions = sum(s.count for p in segments for s in p.levels["region"].values())
    assert regions == len(frame)


@pytest.mark.spark_slow
def test_orders_train_on_spark_into_the_customers_one_machine_makes(
    spark: SparkSession, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    arguments = ["--engine", "spark", "--transactions", str(ORDERS), "--models-dir", str(models)]
    assert train_main([*arguments, "--k", "5", "--stability-samples", "0", "--quiet"]) == 0
    orders = pd.read_csv(ORDERS, dtype={"customer_id": str, "order_date": str})
    expected = customer_features(orders, None, str(ORDERS))
    made = order_customers(read_customers(spark, str(ORDERS)))
    pd.testing.assert_frame_equal(
        made.customers.toArrow().to_pandas().sort_values("customer_id", ignore_index=True),
        expected.frame.sort_values("customer_id", ignore_index=True),
        check_dtype=False,
    )
    bundle = load_bundle(models)
    metadata = bundle.metadata
    assert metadata.features == list(RFM_FEATURES)
    assert metadata.training_data.transactions == expected.summary
    assert expected.summary.as_of == date(2026, 12, 1)
    assert metadata.training_data.rows == expected.summary.customers_with_orders
    # The bundle scores orders on one machine, as the pipeline assigns the customers.
    output = tmp_path / "segments.csv"
    scoring = ["--models-dir", str(models), "--transactions", str(ORDERS), "--quiet"]
    assert score_main([*scoring, "--output", str(output)]) == 0
    scored = pd.read_csv(output, dtype={"customer_id": str})
    assigned = bundle.pipeline.predict(expected.frame[list(RFM_FEATURES)])
    assert scored["segment_id"].tolist() == assigned.tolist()


ORDERS_HEADER = "customer_id,order_date,amount\n"
CITIES = "".join(f"R{i},{i % 7},city {i % 40}\n" for i in range(80))
MEMBERS = "".join(f"R{i},{i % 7},{1000 + i}\n" for i in range(25))
CODES = "".join(f"R{i},{i % 7},code-{i}\n" for i in range(25))


@pytest.mark.parametrize(
    ("kind", "rows", "extra", "message"),
    [
        (
            "orders",
            ORDERS_HEADER + "A,2026-11-01,5\nB,yesterday,5\n",
            [],
            "column 'order_date': not a date (YYYY-MM-DD), in 1 of the orders "
            "(customer 'B': 'yesterday')",
        ),
        (
            "orders",
            ORDERS_HEADER + "A,2026-11-01,5\nB,2026-11-02,\n",
            [],
            "column 'amount': missing value, in 1 of the orders (customer 'B'",
        ),
        (
            "orders",
            ORDERS_HEADER + "A,2026-11-01,5\nB,2026-11-02,7\n",
            ["--as-of", "2026-11-01"],
            "column 'order_date': after the as-of date 2026-11-01, in 1 of the orders "
            "(customer 'B'",
        ),
        (
            "customers",
            "customer_id,spend,city\n" + CITIES,
            ["--features", "spend,city"],
            "column 'city' has 40 different values, more than the 30",
        ),
        (
            "customers",
            "customer_id,spend,member_no\n" + MEMBERS,
            ["--features", "spend,member_no"],
            "column 'member_no' looks like an identifier (every value is a different whole "
            "number, without gaps)",
        ),
        (
            "customers",
            "customer_id,spend,code\n" + CODES,
            ["--features", "spend,code"],
            "column 'code' looks like an identifier (every one of its 25 values is different)",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_column(
    spark: SparkSession,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    rows: str,
    extra: list[str],
    message: str,
) -> None:
    data = tmp_path / f"{kind}.csv"
    data.write_text(rows, encoding="utf-8")
    models = tmp_path / "models"
    source = "--transactions" if kind == "orders" else "--data"
    arguments = ["--engine", "spark", source, str(data), "--models-dir", str(models)]
    assert train_main([*arguments, *extra, "--k", "2", "--quiet"]) == 2
    assert f"segment-train: error: {data}: {message}" in capsys.readouterr().err
    assert not models.exists()


INTEGER_CODED_SCHEMA = """
[[feature]]
name = "spend"
transform = "log1p"

[[feature]]
name = "channel"
kind = "categorical"
levels = ["0", "1", "2"]
"""


@pytest.mark.spark_slow
def test_integer_coded_levels_train_on_spark_as_on_one_machine(
    spark: SparkSession, tmp_path: Path
) -> None:
    # A retailer's channel stored as int64 codes 0, 1, 2: the level "0" is the number 0.
    rng = np.random.default_rng(31)
    data = tmp_path / "customers.parquet"
    pd.DataFrame(
        {
            "customer_id": np.arange(400),
            "spend": rng.uniform(1, 100, 400).round(2),
            "channel": rng.integers(0, 3, 400),
        }
    ).to_parquet(data)
    schema = tmp_path / "schema.toml"
    schema.write_text(INTEGER_CODED_SCHEMA, encoding="utf-8")
    common = ["--data", str(data), "--schema", str(schema), "--features", "spend,channel"]
    common += ["--k", "3", "--stability-samples", "0", "--quiet"]
    spark_models, local_models = tmp_path / "spark", tmp_path / "local"
    assert train_main([*common, "--engine", "spark", "--models-dir", str(spark_models)]) == 0
    assert train_main([*common, "--models-dir", str(local_models)]) == 0
    on_spark, local = load_bundle(spark_models), load_bundle(local_models)
    assert on_spark.metadata.feature_schema == local.metadata.feature_schema
    assert on_spark.metadata.training_data.rows == 400
    assert on_spark.metadata.data_quality.rows_dropped == 0
    shares = on_spark.metadata.feature_levels["channel"]
    assert shares == pytest.approx(local.metadata.feature_levels["channel"])


def test_an_empty_input_is_refused_as_on_one_machine(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No schema: the ranges and levels would be derived from rows there are none of.
    data = tmp_path / "customers.parquet"
    pd.DataFrame(
        {"customer_id": pd.Series(dtype="int64"), "spend": pd.Series(dtype="float64")}
    ).to_parquet(data)
    common = ["--data", str(data), "--features", "spend", "--k", "2", "--quiet"]
    assert train_main([*common, "--models-dir", str(tmp_path / "local")]) == 2
    local = capsys.readouterr().err
    assert (
        local == f"segment-train: error: {data}: no data rows (only a header, or an empty result)\n"
    )
    assert train_main([*common, "--engine", "spark", "--models-dir", str(tmp_path / "spark")]) == 2
    assert capsys.readouterr().err == local
