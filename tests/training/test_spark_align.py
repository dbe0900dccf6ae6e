"""segment-train --engine spark numbers its segments after the model it replaces, like local
training: same ids and names for the same groups, a new id for a moved one, sizes that follow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from segmentation.bundle import load_bundle
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV
from tests.retraining_data import CENTRES, MOVED, planted
from training.spark import train_on_spark
from training.train import TrainingOptions, rename_segments, train

pytestmark = pytest.mark.spark


def options(data: Path, models: Path, **overrides: object) -> TrainingOptions:
    settings: dict[str, object] = {"k": 5, "stability_samples": 0, **overrides}
    return TrainingOptions(source=DataSource(str(data)), models_dir=models, **settings)  # type: ignore[arg-type]


def test_spark_keeps_the_ids_and_names_of_the_local_model_on_the_mall_data(
    spark: SparkSession, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    local = train(options(CLASSIC_CSV, models, seed=1))
    names = tmp_path / "names.yaml"
    names.write_text("segments:\n  0:\n    name: First of the five\n")
    renamed = rename_segments(models, names)
    assert renamed is not None
    on_spark = train_on_spark(options(CLASSIC_CSV, models, seed=7), spark)
    before = {p.id: p for p in renamed.metadata.segments}
    after = {p.id: p for p in on_spark.metadata.segments}
    assert after.keys() == before.keys()
    for segment, profile in after.items():
        assert profile.name == before[segment].name
        assert abs(profile.size - before[segment].size) <= 3
        assert profile.centroid["annual_income"] == pytest.approx(
            before[segment].centroid["annual_income"], abs=1.5
        )
    lineage = on_spark.metadata.lineage
    assert lineage is not None
    assert lineage.aligned_to == renamed.metadata.version
    assert lineage.new == []
    assert lineage.retired == []
    comparison = on_spark.metadata.comparison
    assert comparison is not None
    assert comparison.customers == 200
    assert comparison.kept_share > 0.95
    assert local.metadata.lineage is not None


def test_spark_gives_a_moved_group_a_new_id_and_sizes_follow_the_ids(
    spark: SparkSession, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    first = train(options(planted(tmp_path / "a.csv", CENTRES), models, k=3))
    moved_data = planted(tmp_path / "b.csv", MOVED, seed=1, size=40)
    on_spark = train_on_spark(options(moved_data, models, k=3), spark)
    lineage = on_spark.metadata.lineage
    assert lineage is not None
    assert lineage.new == [3]
    assert len(lineage.retired) == 1
    bundle = load_bundle(models)
    frame = pd.read_csv(moved_data)
    rows = bundle.pipeline.predict(frame[bundle.metadata.features])
    ids = np.asarray(bundle.metadata.segment_ids)[rows]
    sizes = {p.id: p.size for p in bundle.metadata.segments}
    assert sizes == {int(i): int((ids == i).sum()) for i in np.unique(ids)}
    assert sizes[3] == 40
    assert {p.name for p in first.metadata.segments} & {p.name for p in bundle.metadata.segments}
