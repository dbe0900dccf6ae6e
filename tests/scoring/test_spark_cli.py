"""segment-score --engine spark: paths and tables in and out, all or nothing, bad rows, progress."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from scoring.batch import score_file
from scoring.cli import main
from segmentation.assigner import Assigner
from segmentation.bundle import load_bundle
from segmentation.metadata import MODEL_FILE, current_version
from training.sample_data import generate_customers

pytestmark = pytest.mark.spark


def score(models: Path, data: str, *extra: str) -> int:
    engine = ["--engine", "spark", "--master", "local[2]"]
    return main([*engine, "--models-dir", str(models), "--data", data, *extra])


def parquet_dir(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("CustomerID", ignore_index=True)


def test_parquet_in_a_parquet_directory_out_equal_to_segment_score(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "customers.parquet"
    generate_customers(3_000, 21).frame.to_parquet(source)
    target = tmp_path / "scored.parquet"
    target.mkdir()
    (target / "yesterday.parquet").write_text("replaced")
    assert score(trained_models, str(source), "--output", str(target), "--explain") == 0
    out = capsys.readouterr()
    assert "scored 3,000 customers with " in out.out
    assert "on Spark into" in out.out
    assert "  segment 0: " in out.out
    assert "segment-score: scoring: stage " in out.err
    expected = tmp_path / "expected.parquet"
    score_file(Assigner.from_bundle(load_bundle(trained_models)), source, expected, explain=True)
    pd.testing.assert_frame_equal(
        parquet_dir(target), parquet_dir(expected), check_dtype=False, check_exact=True
    )
    assert not (target / "yesterday.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "customers.parquet",
        "expected.parquet",
        "scored.parquet",
    ]


def test_csv_with_mapped_columns_in_a_csv_directory_out(
    spark: SparkSession, trained_models: Path, tmp_path: Path
) -> None:
    frame = generate_customers(500, 22).frame.rename(columns={"Annual Income (k$)": "Income"})
    source = tmp_path / "export.csv"
    frame.to_csv(source, index=False)
    target = tmp_path / "scored.csv"
    args = ["--output", str(target), "--columns", "Income=annual_income", "--quiet"]
    assert score(trained_models, str(source), *args) == 0
    scored = pd.concat(pd.read_csv(p) for p in sorted(target.glob("part-*.csv")))
    scored = scored.sort_values("CustomerID", ignore_index=True)
    assert list(scored.columns) == [
        *frame.columns,
        "segment_id",
        "segment_name",
        "distance",
        "atypical",
    ]
    bundle = load_bundle(trained_models)
    features = frame.rename(
        columns={
            "Income": "annual_income",
            "Age": "age",
            "Spending Score (1-100)": "spending_score",
        }
    )[bundle.metadata.features]
    assert scored["segment_id"].tolist() == bundle.pipeline.predict(features.astype(float)).tolist()


def test_a_catalog_table_in_and_out(
    spark: SparkSession, trained_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spark.createDataFrame(generate_customers(400, 23).frame).write.mode("overwrite").saveAsTable(
        "customers_in"
    )
    assert score(trained_models, "customers_in", "--output-table", "segments_out") == 0
    assert "scored 400 customers" in capsys.readouterr().out
    table = spark.table("segments_out")
    assert table.count() == 400
    assert "segment_id" in table.columns
    assert not [t.name for t in spark.catalog.listTables() if "staging" in t.name]


def write_dirty(path: Path) -> None:
    frame = generate_customers(200, 24).frame.astype({"Age": "str"})
    frame.loc[5, "Age"] = "abc"
    frame.loc[6, "Age"] = "-1"
    frame.to_csv(path, index=False)


def test_invalid_rows_fail_the_run_and_leave_the_previous_output(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "dirty.csv"
    write_dirty(source)
    target = tmp_path / "scored.parquet"
    target.mkdir()
    (target / "yesterday.parquet").write_text("kept")
    assert score(trained_models, str(source), "--output", str(target), "--quiet") == 2
    err = capsys.readouterr().err
    assert "segment-score: error: column 'age': value 'abc' is not a number (2 invalid rows;" in err
    assert "value -1 is outside the valid range 0 to 120" in err
    assert (target / "yesterday.parquet").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dirty.csv", "scored.parquet"]


def test_invalid_rows_flagged_are_counted(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "dirty.csv"
    write_dirty(source)
    target = tmp_path / "flagged.parquet"
    assert score(trained_models, str(source), "--output", str(target), "--on-invalid", "flag") == 0
    assert "invalid, kept with a null segment: 2" in capsys.readouterr().out
    flagged = parquet_dir(target)
    assert len(flagged) == 200
    assert flagged["problem"].notna().sum() == 2


def test_a_tampered_bundle_is_refused_before_any_spark_job(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = tmp_path / "models"
    version = current_version(trained_models)
    (models / version).mkdir(parents=True)
    for item in (trained_models / version).iterdir():
        (models / version / item.name).write_bytes(item.read_bytes())
    (models / "CURRENT").write_text(version + "\n")
    with (models / version / MODEL_FILE).open("ab") as model:
        model.write(b"tampered")
    source = tmp_path / "customers.parquet"
    generate_customers(50, 25).frame.to_parquet(source)
    tracker = spark.sparkContext.statusTracker()
    jobs_before = tracker.getJobIdsForGroup(None)
    assert score(models, str(source), "--output", str(tmp_path / "out.parquet")) == 2
    assert "does not match its metadata" in capsys.readouterr().err
    assert tracker.getJobIdsForGroup(None) == jobs_before
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark", "--input", "x.csv", "--output", "o"], "give the path or catalog"),
        (["--input", "x.csv", "--output", "o.csv", "--master", "local"], "go with --engine spark"),
        (["--engine", "spark", "--data", "x", "--output", "o", "--spark-conf", "k"], "key=value"),
    ],
)
def test_option_mistakes(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_input_is_named(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nothing.parquet"
    assert score(trained_models, str(missing), "--output", str(tmp_path / "o.parquet")) == 2
    err = capsys.readouterr().err
    assert f"segment-score: error: {missing}: " in err
    assert "PATH_NOT_FOUND" in err
    assert score(trained_models, "no_such_table", "--output", str(tmp_path / "o.parquet")) == 2
    assert "no_such_table" in capsys.readouterr().err


@pytest.fixture
def crm(spark: SparkSession) -> Iterator[str]:
    """Database ``crm``, its tables dropped afterwards; yields its folder in the warehouse."""
    spark.sql("CREATE DATABASE IF NOT EXISTS crm")
    yield spark.catalog.getDatabase("crm").locationUri.removeprefix("file:")
    for table in spark.catalog.listTables("crm"):
        spark.sql(f"DROP TABLE IF EXISTS crm.`{table.name}`")


def staging_left(spark: SparkSession, folder: str) -> list[str]:
    """Staging tables in ``crm`` and staging folders in its warehouse folder."""
    tables = [t.name for t in spark.catalog.listTables("crm") if "staging" in t.name]
    return tables + [p.name for p in Path(folder).iterdir() if "staging" in p.name]


def test_an_existing_table_of_something_else_is_refused_and_left_as_it_is(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    crm: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spark.createDataFrame([("C1", "call back")], "cust_no string, note string").write.saveAsTable(
        "crm.other_out"
    )
    source = tmp_path / "customers.parquet"
    generate_customers(50, 26).frame.to_parquet(source)
    assert score(trained_models, str(source), "--output-table", "crm.other_out", "--quiet") == 2
    assert capsys.readouterr().err == (
        "segment-score: error: output table 'crm.other_out' exists without columns "
        "'segment_id', 'segment_name', 'distance', 'atypical': it is not an earlier output of "
        "segment-score, so it was left as it is (drop it, or name another table)\n"
    )
    assert [tuple(row) for row in spark.table("crm.other_out").collect()] == [("C1", "call back")]
    assert staging_left(spark, crm) == []
    # An earlier output is replaced, as the page says.
    assert score(trained_models, str(source), "--output-table", "crm.segments", "--quiet") == 0
    generate_customers(70, 27).frame.to_parquet(source)
    assert score(trained_models, str(source), "--output-table", "crm.segments", "--quiet") == 0
    assert spark.table("crm.segments").count() == 70


def test_a_table_name_in_backticks_is_written_and_a_bad_one_refused_in_words(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    crm: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "customers.parquet"
    generate_customers(60, 28).frame.to_parquet(source)
    # A name of digits is a table name only in backticks.
    assert score(trained_models, str(source), "--output-table", "crm.`2024`", "--quiet") == 0
    assert spark.table("crm.`2024`").count() == 60
    assert capsys.readouterr().err == ""
    # Spark's own catalog allows no space in a name: said as the catalog says it, no traceback.
    assert score(trained_models, str(source), "--output-table", "crm.`seg out`", "--quiet") == 2
    err = capsys.readouterr().err
    assert err.startswith("segment-score: error: output table 'crm.`seg out`': ")
    assert "is not a valid name for tables/schemas" in err
    assert len(err.splitlines()) == 1
    # Without its backticks the name is no name at all.
    assert score(trained_models, str(source), "--output-table", "crm.seg out", "--quiet") == 2
    assert capsys.readouterr().err.startswith(
        "segment-score: error: output table 'crm.seg out' is not a table name: "
    )
    assert staging_left(spark, crm) == []


def test_a_failed_table_job_leaves_no_staging_table_or_folder(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    crm: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "dirty.csv"
    write_dirty(source)
    assert score(trained_models, str(source), "--output-table", "crm.segments", "--quiet") == 2
    assert "(2 invalid rows; nothing was written;" in capsys.readouterr().err
    assert not spark.catalog.tableExists("crm.segments")
    assert staging_left(spark, crm) == []


@pytest.mark.spark_slow
def test_bad_rows_print_the_message_and_not_sparks_task_tracebacks(
    trained_models: Path, tmp_path: Path
) -> None:
    # A process of its own: Spark's JVM writes its log to the stderr it started with, which
    # only a new process's capture sees (about 20 s, a JVM of its own).
    source = tmp_path / "dirty.csv"
    write_dirty(source)
    command = [str(Path(sys.executable).parent / "segment-score"), "--engine", "spark"]
    command += ["--master", "local[2]", "--models-dir", str(trained_models), "--quiet"]
    command += ["--data", str(source), "--output", str(tmp_path / "scored.parquet")]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 2, done.stderr
    assert (
        "segment-score: error: column 'age': value 'abc' is not a number (2 invalid rows;"
        in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert "Aborting task" not in done.stderr
    assert " ERROR " not in done.stderr


@pytest.mark.parametrize("destination", ["--output", "--output-table"])
def test_an_input_without_rows_is_refused_as_segment_score_refuses_it(
    spark: SparkSession,
    trained_models: Path,
    tmp_path: Path,
    crm: str,
    capsys: pytest.CaptureFixture[str],
    destination: str,
) -> None:
    source = tmp_path / "empty.parquet"
    generate_customers(10, 29).frame.iloc[:0].to_parquet(source)
    local = ["--models-dir", str(trained_models), "--data", str(source), "--quiet"]
    assert main([*local, "--output", str(tmp_path / "local.parquet")]) == 2
    assert f"segment-score: error: {source}: no data rows\n" == capsys.readouterr().err
    target = str(tmp_path / "scored.parquet") if destination == "--output" else "crm.segments"
    assert score(trained_models, str(source), destination, target, "--quiet") == 2
    assert capsys.readouterr().err == (
        "segment-score: error: no data rows in the input (a header only, or an empty table); "
        "nothing was written\n"
    )
    assert not (tmp_path / "scored.parquet").exists()
    assert not spark.catalog.tableExists("crm.segments")
    assert staging_left(spark, crm) == []
