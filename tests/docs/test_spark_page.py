"""docs/spark.md's examples on the suite's local[2] Spark session: the Python example as the page
shows it (only the models folder replaced), on a catalog table crm.customers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, page_section
from training.sample_data import generate_customers

pytestmark = pytest.mark.spark

PAGE = REPO_ROOT / "docs" / "spark.md"


def test_the_python_example_scores_a_catalog_table_into_another(
    spark: SparkSession, trained_models: Path
) -> None:
    [example] = blocks(page_section(PAGE, "Scoring"), "python")
    assert 'load_bundle(Path("/dbfs/models"))' in example
    customers = generate_customers(500, 8).frame
    spark.sql("CREATE DATABASE IF NOT EXISTS crm")
    spark.sql("DROP TABLE IF EXISTS crm.scored")
    spark.createDataFrame(customers).write.mode("overwrite").saveAsTable("crm.customers")
    try:
        exec(example.replace("/dbfs/models", str(trained_models)), {})
        scored = spark.table("crm.scored").toArrow().to_pandas()  # toPandas warns on pandas 3
    finally:
        spark.sql("DROP TABLE IF EXISTS crm.scored")
        spark.sql("DROP TABLE IF EXISTS crm.customers")
    assert len(scored) == len(customers)
    appended = ["segment_id", "segment_name", "distance", "atypical"]
    assert list(scored.columns) == [*customers.columns, *appended]
    assert scored["segment_name"].notna().all()
