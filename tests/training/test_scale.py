"""Large data: mini-batch K-Means above the threshold, sampled metrics, progress lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import MiniBatchKMeans

from segmentation.bundle import load_bundle
from segmentation.nearest_centroid import CentroidScorer
from tests.conftest import TrainFn
from training import fit
from training.cli import main


def test_above_the_threshold_minibatch_kmeans_writes_the_same_bundle(
    train_into: TrainFn, tmp_path: Path
) -> None:
    bundle = train_into(k=4, minibatch_threshold=100)
    assert bundle.metadata.algorithm == "minibatch_kmeans"
    assert isinstance(bundle.kmeans, MiniBatchKMeans)
    loaded = load_bundle(tmp_path / "models")
    rows = np.random.default_rng(1).uniform([0, 0, 1], [120, 200, 100], size=(3000, 3))
    expected = loaded.pipeline.predict(pd.DataFrame(rows, columns=loaded.metadata.features))
    assert (CentroidScorer.from_numbers(loaded.numbers).assign(rows).segment_ids == expected).all()


def test_below_the_threshold_it_is_kmeans(train_into: TrainFn) -> None:
    assert train_into(k=4).metadata.algorithm == "kmeans"


def test_silhouette_is_sampled_above_its_limit(
    train_into: TrainFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "SILHOUETTE_MAX_ROWS", 100)
    metrics = train_into(k=3).metadata.metrics
    assert metrics.silhouette_sample_size == 100
    assert metrics.silhouette is not None


def test_progress_is_plain_lines_when_not_on_a_terminal(
    sample_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--data",
        str(sample_csv),
        "--models-dir",
        str(tmp_path / "m"),
        "--k-range",
        "2-4",
        "--stability-samples",
        "2",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "segment-train: reading data: done, 300 rows in " in err
    assert "segment-train: choosing k: 3/3 k (k=4 silhouette" in err
    assert "segment-train: choosing k: 3/3 k (testing whether there are segments at all)" in err
    assert "segment-train: stability: done, 2 refits in " in err
    assert "\r" not in err
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
