"""Scoring a Spark DataFrame: the same answers as the single-machine scorer, row for row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark import cloudpickle
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from scoring.batch import score_file
from scoring.spark import (
    PROBLEM_COLUMN,
    InvalidRowsError,
    ModelArrays,
    _batch_scorer,
    assign_segments,
    run_checked,
)
from segmentation.assigner import Assigner
from segmentation.bundle import Bundle, load_bundle
from spark_engine.session import TASK_FAILURE_LOGGERS, SparkSourceError
from tests.conftest import TrainFn
from tests.schemas import CLASSIC_TO_SNAKE
from training.sample_data import generate_customers

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def bundle(trained_models: Path) -> Bundle:
    return load_bundle(trained_models)


def to_pandas(df: DataFrame) -> pd.DataFrame:
    # Through Arrow: pyspark's own toPandas warns about pandas 3's copy keyword.
    frame: pd.DataFrame = df.toArrow().to_pandas()
    return frame


def single_machine(bundle: Bundle, source: Path, target: Path, explain: bool) -> pd.DataFrame:
    score_file(Assigner.from_bundle(bundle), source, target, explain=explain)
    return pd.read_parquet(target)


def generated_parquet(path: Path, rows: int, seed: int = 11) -> Path:
    generate_customers(rows, seed).frame.to_parquet(path)
    return path


@pytest.mark.spark_slow
def test_200000_customers_equal_the_single_machine_scorer_row_for_row(
    spark: SparkSession, bundle: Bundle, tmp_path: Path
) -> None:
    source = generated_parquet(tmp_path / "customers.parquet", 200_000)
    expected = single_machine(bundle, source, tmp_path / "expected.parquet", explain=True)
    scored = assign_segments(spark.read.parquet(str(source)), bundle, explain=True)
    actual = to_pandas(scored).sort_values("CustomerID", ignore_index=True)
    assert len(actual) == 200_000
    assert list(actual.columns) == list(expected.columns)
    # Labels, distances, atypical flags and every explanation column, bit for bit.
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=True)
    assert actual["segment_id"].nunique() == bundle.metadata.k


def test_without_explanations_the_columns_are_segment_scores(
    spark: SparkSession, bundle: Bundle, tmp_path: Path
) -> None:
    source = generated_parquet(tmp_path / "customers.parquet", 2_000)
    expected = single_machine(bundle, source, tmp_path / "expected.parquet", explain=False)
    scored = assign_segments(spark.read.parquet(str(source)), bundle)
    assert [(f.name, f.dataType.simpleString()) for f in scored.schema.fields[-4:]] == [
        ("segment_id", "bigint"),
        ("segment_name", "string"),
        ("distance", "double"),
        ("atypical", "boolean"),
    ]
    actual = to_pandas(scored).sort_values("CustomerID", ignore_index=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=True)


def test_snake_case_and_mapped_column_names(spark: SparkSession, bundle: Bundle) -> None:
    frame = generate_customers(500, 4).frame
    classic = to_pandas(assign_segments(spark.createDataFrame(frame), bundle))
    snake = to_pandas(
        assign_segments(spark.createDataFrame(frame.rename(columns=CLASSIC_TO_SNAKE)), bundle)
    )
    own = frame.rename(columns={"Age": "years", "Annual Income (k$)": "income_k"})
    mapped = to_pandas(
        assign_segments(
            spark.createDataFrame(own),
            bundle,
            columns={"years": "age", "income_k": "annual_income"},
        )
    )
    assert list(mapped.columns[:5]) == [
        "CustomerID",
        "Gender",
        "years",
        "income_k",
        "Spending Score (1-100)",
    ]
    for scored in (snake, mapped):
        assert scored["segment_id"].tolist() == classic["segment_id"].tolist()
        assert scored["distance"].tolist() == classic["distance"].tolist()


def test_a_missing_column_is_named_before_any_job(spark: SparkSession, bundle: Bundle) -> None:
    frame = generate_customers(10, 4).frame.drop(columns=["Age"])
    with pytest.raises(SparkSourceError, match="missing column 'age'"):
        assign_segments(spark.createDataFrame(frame), bundle)
    with pytest.raises(SparkSourceError, match="--columns names 'years', which is not a column"):
        assign_segments(spark.createDataFrame(frame), bundle, columns={"years": "age"})


def dirty_frame() -> pd.DataFrame:
    frame = generate_customers(300, 8).frame.astype({"Age": "str"})
    frame.loc[10, "Age"] = "abc"
    frame.loc[20, "Age"] = None
    frame.loc[30, "Age"] = "130"
    frame.loc[40, "Gender"] = "X"
    return frame


def test_invalid_rows_fail_the_job_by_default_naming_column_problem_sample_and_count(
    spark: SparkSession, bundle: Bundle
) -> None:
    df = spark.createDataFrame(dirty_frame())
    scored = assign_segments(df, bundle)
    with pytest.raises(InvalidRowsError) as raised:
        run_checked(scored.collect, df, bundle)
    message = str(raised.value)
    first = message.splitlines()[0]
    assert first.startswith("column 'age': value 'abc' is not a number (4 invalid rows;")
    assert "nothing was written" in first
    assert "Age='abc'" in message
    assert "column 'age': missing value" in message
    assert "column 'age': value 130 is outside the valid range 0 to 120" in message
    assert "column 'gender': value 'X' is not 'Female' or 'Male'" in message


def test_invalid_rows_flagged_keep_the_row_with_a_null_segment_and_the_problem(
    spark: SparkSession, bundle: Bundle
) -> None:
    frame = dirty_frame()
    flagged = to_pandas(assign_segments(spark.createDataFrame(frame), bundle, on_invalid="flag"))
    assert len(flagged) == len(frame)
    bad = flagged[flagged[PROBLEM_COLUMN].notna()]
    assert bad.index.tolist() == [10, 20, 30, 40]
    assert bad[PROBLEM_COLUMN].tolist() == [
        "column 'age': value 'abc' is not a number",
        "column 'age': missing value",
        "column 'age': value 130 is outside the valid range 0 to 120",
        "column 'gender': value 'X' is not 'Female' or 'Male'",
    ]
    assert bad[["segment_id", "segment_name", "distance", "atypical"]].isna().all().all()
    good = flagged[flagged[PROBLEM_COLUMN].isna()]
    clean = frame.drop(index=[10, 20, 30, 40])
    expected = bundle.pipeline.predict(
        clean.rename(columns=CLASSIC_TO_SNAKE)[bundle.metadata.features].astype(float)
    )
    assert good["segment_id"].astype(int).tolist() == expected.tolist()


def test_a_table_scored_before_has_its_columns_replaced(
    spark: SparkSession, bundle: Bundle
) -> None:
    once = assign_segments(spark.createDataFrame(generate_customers(50, 2).frame), bundle)
    twice = assign_segments(once, bundle)
    assert twice.columns == once.columns
    assert to_pandas(twice).equals(to_pandas(once))


def test_executors_receive_numbers_not_the_pickled_model(bundle: Bundle) -> None:
    arrays = ModelArrays.from_bundle(bundle)
    scorer = _batch_scorer(arrays, list(arrays.features), True, "fail")
    shipped = cloudpickle.dumps(scorer)  # type: ignore[no-untyped-call]
    assert b"sklearn" not in shipped
    assert b"joblib" not in shipped
    assert b"Pipeline" not in shipped
    assert arrays.assigner().scorer.centroids.tolist() == bundle.kmeans.cluster_centers_.tolist()


def log_levels(spark: SparkSession) -> dict[str, str]:
    log_manager = spark._jvm.org.apache.logging.log4j.LogManager  # type: ignore[union-attr]
    return {
        name: log_manager.getLogger(name).getLevel().toString() for name in TASK_FAILURE_LOGGERS
    }


def test_a_failure_other_than_invalid_rows_is_raised_with_its_message(
    spark: SparkSession, bundle: Bundle
) -> None:
    # Spark's task-failure logs are held back only while run_checked runs, and only the failure
    # of invalid rows is turned into a message of its own: anything else keeps its words.
    before = log_levels(spark)
    df = spark.createDataFrame(dirty_frame())
    with pytest.raises(InvalidRowsError):
        run_checked(assign_segments(df, bundle).collect, df, bundle)
    assert log_levels(spark) == before
    with pytest.raises(PySparkException, match="disk on fire"):
        run_checked(lambda: df.select(F.raise_error(F.lit("disk on fire"))).collect(), df, bundle)
    assert log_levels(spark) == before


INTEGER_CODED_SCHEMA = """
[[feature]]
name = "spend"
minimum = 0
maximum = 1000

[[feature]]
name = "channel"
kind = "categorical"
levels = ["0", "1", "2"]
"""


def test_integer_coded_levels_score_as_on_one_machine(
    spark: SparkSession, train_into: TrainFn, tmp_path: Path
) -> None:
    # A retailer's channel stored as int64 codes 0, 1, 2: the level "0" is the number 0.
    rng = np.random.default_rng(30)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(300),
            "spend": rng.uniform(1, 100, 300).round(2),
            "channel": rng.integers(0, 3, 300),
        }
    )
    source = tmp_path / "customers.parquet"
    frame.to_parquet(source)
    schema = tmp_path / "schema.toml"
    schema.write_text(INTEGER_CODED_SCHEMA, encoding="utf-8")
    bundle = train_into(data=source, schema_file=schema, features=["spend", "channel"], k=3)
    expected = single_machine(bundle, source, tmp_path / "expected.parquet", explain=True)
    scored = assign_segments(spark.read.parquet(str(source)), bundle, explain=True)
    actual = to_pandas(scored).sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=True)
    # A code the schema does not have reads as segment-score reads it: 3, not 3.0.
    frame.loc[7, "channel"] = 3
    flagged = assign_segments(spark.createDataFrame(frame), bundle, on_invalid="flag")
    problems = to_pandas(flagged.where(F.col(PROBLEM_COLUMN).isNotNull()))[PROBLEM_COLUMN]
    [local] = Assigner.from_bundle(bundle).check_table(frame[["spend", "channel"]]).problems
    assert problems.tolist() == [f"column 'channel': {local.message}"]
    assert "'3'" in local.message
