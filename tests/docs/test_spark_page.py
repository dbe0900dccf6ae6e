"""docs/spark.md's examples on the suite's local[2] Spark session: the scoring commands with
local paths for s3a:// ones and a catalog table, the bad-rows message as shown, the Python
example as the page shows it (only the models folder replaced), on a catalog table, and the
training commands with every optional part, on the shipped samples. The cluster routes
(spark-submit, Databricks) are test_spark_submit.py's."""

from __future__ import annotations

import re
import shlex
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from scoring.cli import main as cli_main
from segmentation.bundle import load_bundle
from segmentation.rfm import RFM_FEATURES
from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, page_section
from training.cli import main as train_main
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


# An optional part of a synopsis: ``[--explain]``, ``[--master local[*]]``.
OPTIONAL = re.compile(r"\[([^\[\]]*(?:\[[^\]]*\][^\[\]]*)?)\]")


def page_commands(
    section: str, program: str = "segment-score", *, optional: bool = False
) -> list[list[str]]:
    """The ``program --engine spark`` lines of a section's sh block, without the program's
    name; the optional ``[...]`` parts left out, or with ``optional`` kept as written."""
    [block] = blocks(section, "sh")
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = OPTIONAL.sub(r"\1" if optional else "", line)
        words = shlex.split(line)
        assert words[:3] == [program, "--engine", "spark"]
        commands.append(words[1:])
    return commands


def test_the_scoring_commands_run_with_local_paths_and_a_catalog_table(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    section = page_section(PAGE, "Scoring").split("\n### ")[0]
    to_path, to_table = page_commands(section)
    [shown] = blocks(section, "text")
    customers = generate_customers(300, 9).frame
    customers.to_parquet(tmp_path / "customers.parquet")
    local = {
        "s3a://lake/crm/customers.parquet": str(tmp_path / "customers.parquet"),
        "s3a://lake/crm/customers_scored.parquet": str(tmp_path / "scored.parquet"),
    }
    here = ["--master", "local[2]", "--models-dir", str(trained_models)]
    assert cli_main([*(local.get(word, word) for word in to_path), *here]) == 0
    printed = capsys.readouterr()
    shape = r"scored [\d,]+ customers with \S+ on Spark into .+ \([\d,]+ atypical\)"
    assert re.fullmatch(shape, shown.splitlines()[2])
    assert re.fullmatch(shape, printed.out.splitlines()[0])
    assert re.fullmatch(r"  segment 0: [^:]+: [\d,]+", printed.out.splitlines()[1])
    stage = r"segment-score: scoring: stage \d+ \(\w+\) done: \d+/\d+ tasks, [\d.]+s into the step"
    assert all(re.fullmatch(stage, line) for line in shown.splitlines()[:2])
    assert all(re.fullmatch(stage, line) for line in printed.err.splitlines())
    spark.sql("CREATE DATABASE IF NOT EXISTS crm")
    spark.read.parquet(str(tmp_path / "customers.parquet")).write.mode("overwrite").saveAsTable(
        "crm.customers"
    )
    try:
        assert cli_main([*to_table, *here]) == 0
        assert spark.table("crm.customer_segments").count() == len(customers)
    finally:
        spark.sql("DROP TABLE IF EXISTS crm.customer_segments")
        spark.sql("DROP TABLE IF EXISTS crm.customers")
    assert "scored 300 customers with " in capsys.readouterr().out


def test_bad_rows_fail_with_the_shown_message(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [shown] = blocks(page_section(PAGE, "Scoring").split("\n### Bad rows\n")[1], "text")
    rows = ["Age,Annual Income (k$),Spending Score (1-100)"] + ["30,60,50"] * 20
    rows[5:5] = ["abc,60,50"]
    rows[12:12] = ["-1,70,50"]
    (tmp_path / "dirty.csv").write_text("\n".join(rows) + "\n")
    target = tmp_path / "scored.parquet"
    args = ["--engine", "spark", "--master", "local[2]", "--models-dir", str(trained_models)]
    assert cli_main([*args, "--data", str(tmp_path / "dirty.csv"), "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert shown in err
    assert not target.exists()


def own_data_schema_file() -> str:
    """``retail.toml`` as docs/own-data.md writes it (the file the Training synopsis names)."""
    own_data = (REPO_ROOT / "docs" / "own-data.md").read_text()
    [text] = re.findall(r"^cat > retail\.toml <<'EOF'\n(.*?\n)EOF$", own_data, re.M | re.S)
    return text


def test_the_training_commands_run_as_written_with_local_paths(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both synopses with every optional part the page shows, ``--k N`` of ``--k auto|N`` (auto,
    the default, is the slow Spark tests' own), on the shipped samples as Parquet at local paths
    for the s3a:// ones."""
    customers_line, orders_line = page_commands(
        page_section(PAGE, "Training"), "segment-train", optional=True
    )
    choose = {"auto|N": "4"}
    customers_line = [choose.get(word, word) for word in customers_line]
    orders_line = [choose.get(word, word) for word in orders_line]
    monkeypatch.chdir(tmp_path)  # the page's relative retail.toml and models
    (tmp_path / "retail.toml").write_text(own_data_schema_file())
    retail = pd.read_csv(REPO_ROOT / "data" / "sample_retail_customers.csv")
    retail.loc[7, "channel"] = "fax"  # a bad row, for --drop-invalid to leave out
    retail.to_parquet(tmp_path / "customers.parquet")
    orders = pd.read_csv(REPO_ROOT / "data" / "sample_orders.csv", dtype=str)
    # The column names the page's --columns maps from.
    orders.columns = ["Client", "Day", "Total"]
    orders.to_parquet(tmp_path / "orders.parquet")
    local = {
        "s3a://lake/crm/customers.parquet": str(tmp_path / "customers.parquet"),
        "s3a://lake/crm/orders.parquet": str(tmp_path / "orders.parquet"),
    }
    here = ["--master", "local[2]"]

    assert train_main([*(local.get(word, word) for word in customers_line), *here]) == 0
    bundle = load_bundle(tmp_path / "models")
    metadata = bundle.metadata
    assert metadata.engine == "spark"
    assert metadata.features == ["tenure_months", "average_basket", "channel"]
    basket = metadata.feature_schema.feature("average_basket")
    assert getattr(basket, "transform", None) == "log1p"  # from the page's retail.toml
    quality = metadata.data_quality
    assert (quality.rows_read, quality.rows_used, quality.rows_dropped) == (600, 599, 1)
    assert (metadata.k, metadata.k_selection.mode) == (4, "fixed")

    assert train_main([*(local.get(word, word) for word in orders_line), *here]) == 0
    metadata = load_bundle(tmp_path / "models").metadata
    assert metadata.engine == "spark"
    assert metadata.features == list(RFM_FEATURES)
    transactions = metadata.training_data.transactions
    assert transactions is not None
    assert transactions.as_of == date(2026, 12, 1)
    assert metadata.training_data.rows == 500
    assert capsys.readouterr().out.count("trained ") == 2
