"""docs/spark.md's examples on the suite's local[2] Spark session: the scoring commands with
local paths for s3a:// ones and a catalog table, the bad-rows message as shown, and the Python
example as the page shows it (only the models folder replaced), on a catalog table."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from scoring.cli import main as cli_main
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


def page_commands(section: str) -> list[list[str]]:
    """The segment-score lines of a section's sh block, optional ``[...]`` parts left out."""
    [block] = blocks(section, "sh")
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"\[[^\[\]]*(?:\[[^\]]*\][^\[\]]*)?\]", "", line)
        words = shlex.split(line)
        assert words[:3] == ["segment-score", "--engine", "spark"]
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
