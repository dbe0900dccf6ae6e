"""segment-train --engine spark: MLlib's fit, scikit-learn's bundle, the study's segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from sklearn.metrics import adjusted_rand_score

from segmentation.bundle import load_bundle
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV
from tests.schemas import CLASSIC_TO_SNAKE
from training.cli import main
from training.sample_data import generate_customers
from training.spark import train_on_spark
from training.train import TrainingOptions, train

pytestmark = pytest.mark.spark

# The original study's five centroids (income k$, spending score): ../shared/data/README.md
STUDY_CENTROIDS = np.array(
    [[26.30, 20.91], [88.20, 17.11], [86.54, 82.13], [55.30, 49.52], [25.73, 79.36]]
)
INCOME_SPENDING = ("annual_income", "spending_score")


def spark_train(spark: SparkSession, data: Path, models: Path, **overrides: object) -> int:
    settings: dict[str, object] = {"stability_samples": 0, **overrides}
    options = TrainingOptions(source=DataSource(str(data)), models_dir=models, **settings)  # type: ignore[arg-type]
    return train_on_spark(options, spark).metadata.k


@pytest.mark.spark_slow
def test_the_classic_data_gives_the_study_centroids_and_predict_agrees_with_spark(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    args = ["--engine", "spark", "--data", str(CLASSIC_CSV), "--models-dir", str(models)]
    args += ["--features", ",".join(INCOME_SPENDING), "--k", "5", "--stability-samples", "2"]
    assert main(args) == 0
    assert "trained " in capsys.readouterr().out
    bundle = load_bundle(models)
    centroids = bundle.scaler.inverse_transform(bundle.kmeans.cluster_centers_)
    for expected in STUDY_CENTROIDS:
        assert np.min(np.abs(centroids - expected).max(axis=1)) < 1.0, (expected, centroids)
    # Segment sizes were counted from MLlib's labels on every row; Pipeline.predict agrees.
    frame = pd.read_csv(CLASSIC_CSV).rename(columns=CLASSIC_TO_SNAKE)
    predicted = bundle.pipeline.predict(frame[list(INCOME_SPENDING)].astype(float))
    sizes = [p.size for p in sorted(bundle.metadata.segments, key=lambda p: p.id)]
    assert np.bincount(predicted, minlength=5).tolist() == sizes
    assert sorted(sizes) == [22, 23, 35, 39, 81]
    metadata = bundle.metadata
    assert metadata.engine == "spark"
    assert metadata.spark_version == spark.version
    assert metadata.training_data.rows == 200
    assert metadata.training_data.kind == "csv"
    assert metadata.stability is not None


def test_the_scaler_is_scikit_learns_population_std_not_mllibs(
    spark: SparkSession, tmp_path: Path
) -> None:
    data = tmp_path / "customers.parquet"
    frame = generate_customers(1_000, 31).frame
    frame.to_parquet(data)
    spark_train(spark, data, tmp_path / "models", k=5)
    bundle = load_bundle(tmp_path / "models")
    values = frame.rename(columns=CLASSIC_TO_SNAKE)[bundle.metadata.features].astype(float)
    np.testing.assert_allclose(bundle.scaler.mean_, values.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(bundle.scaler.scale_, values.std(ddof=0).to_numpy(), rtol=1e-12)
    assert bundle.metadata.training_data.kind == "parquet"
    assert bundle.metadata.k_selection.mode == "fixed"


@pytest.mark.spark_slow
def test_planted_segments_same_k_by_the_same_rule_and_labels_as_scikit_learn(
    spark: SparkSession, tmp_path: Path
) -> None:
    data = tmp_path / "customers.csv"
    generated = generate_customers(10_000, 32)
    generated.frame.to_csv(data, index=False)
    # Income and spending, where the five planted segments are (age adds two more).
    options = {"features": INCOME_SPENDING, "k": None, "k_range": (2, 7), "stability_samples": 0}
    spark_k = spark_train(spark, data, tmp_path / "spark", **options)
    local = train(
        TrainingOptions(source=DataSource(str(data)), models_dir=tmp_path / "local", **options)
    )  # type: ignore[arg-type]
    assert spark_k == local.metadata.k == 5
    spark_bundle = load_bundle(tmp_path / "spark")
    assert spark_bundle.metadata.k_selection.votes == local.metadata.k_selection.votes
    rows = generated.frame.rename(columns=CLASSIC_TO_SNAKE)[list(local.metadata.features)]
    spark_labels = spark_bundle.pipeline.predict(rows.astype(float))
    local_labels = local.pipeline.predict(rows.astype(float))
    assert adjusted_rand_score(local_labels, spark_labels) >= 0.95
    assert adjusted_rand_score(generated.planted, spark_labels) >= 0.95
    # The split tree's chosen k is the model's segments in id order, as on a single machine
    # (the sample's own fit numbers it first; then MLlib's segments' order and the alignment).
    for bundle in (spark_bundle, local):
        tree = bundle.metadata.k_selection.split_tree
        assert tree is not None
        [level] = [level for level in tree.levels if level.k == 5]
        shares = [p.share for p in sorted(bundle.metadata.segments, key=lambda p: p.id)]
        assert len(set(np.round(shares, 2))) == 5, "segments of one size: the order goes untested"
        np.testing.assert_allclose(np.array(level.sizes) / tree.rows, shares, atol=0.02)


def dirty_csv(path: Path) -> Path:
    frame = generate_customers(300, 33).frame.astype({"Age": "str"})
    frame.loc[3, "Age"] = "abc"
    frame.loc[4, "Age"] = "-5"
    frame.loc[5, "CustomerID"] = frame.loc[6, "CustomerID"]
    frame.to_csv(path, index=False)
    return path


def test_bad_rows_are_refused_or_dropped_and_counted(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dirty_csv(tmp_path / "dirty.csv")
    models = tmp_path / "models"
    base = ["--engine", "spark", "--data", str(data), "--models-dir", str(models), "--k", "4"]
    assert main([*base, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "segment-train: error: " in err
    assert "3 problems in 300 rows; --drop-invalid trains without those rows" in err
    assert "age: 1 x not a number ('abc')" in err
    assert "customer_id: 1 x repeated customer id" in err
    assert not models.exists()
    assert main([*base, "--quiet", "--drop-invalid", "--stability-samples", "0"]) == 0
    quality = load_bundle(models).metadata.data_quality
    assert (quality.rows_read, quality.rows_used, quality.rows_dropped) == (300, 297, 3)
    assert quality.policy == "drop_invalid"


def test_a_catalog_table_with_gender_levels_counted_on_every_row(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = generate_customers(600, 34).frame
    spark.createDataFrame(frame).write.mode("overwrite").saveAsTable("training_customers")
    models = tmp_path / "models"
    args = ["--engine", "spark", "--data", "training_customers", "--models-dir", str(models)]
    args += ["--k", "5", "--quiet", "--stability-samples", "0"]
    assert main(args) == 0
    bundle = load_bundle(models)
    assert bundle.metadata.training_data.kind == "table"
    levels = [p.levels["gender"] for p in bundle.metadata.segments]
    assert all(set(m) == {"Female", "Male"} for m in levels)
    assert sum(sum(s.count for s in m.values()) for m in levels) == 600
    female = sum(m["Female"].count for m in levels)
    assert female == int((frame["Gender"] == "Female").sum())


def test_option_mistakes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--engine", "spark", "--data", "sqlite:///x.db", "--table", "t"])
    assert "give the path or catalog table in --data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--master", "local[1]"])
    assert "--master and --spark-conf go with --engine spark" in capsys.readouterr().err
