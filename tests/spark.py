"""One real local Spark session for the whole test run (Java from ``make spark-deps``).

``local[2]`` with two shuffle partitions and no web UI: the machine has two cores, and the
tests' tables are small, where Spark's default of 200 partitions would be mostly overhead.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from spark_engine.session import get_session

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
}


def start_spark(warehouse: str) -> SparkSession:
    """The session, its catalog's tables in ``warehouse`` (a temporary folder, not the repo)."""
    return get_session(
        "segment-tests", "local[2]", {**TEST_CONF, "spark.sql.warehouse.dir": warehouse}
    )
