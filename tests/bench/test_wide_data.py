"""The wide benchmark table: valid for its own schema, the same bytes every time, and its planted
segments are what a k = 5 fit of training's pipeline finds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from bench import wide_data
from segmentation.schema import ID_COLUMN, CategoricalFeature, NumericFeature, load_schema_file
from training.fit import cluster, fit_scaler


def test_the_schema_file_describes_every_column_and_the_rows_keep_to_it(tmp_path: Path) -> None:
    schema = load_schema_file(wide_data.write_schema(tmp_path / "wide.toml"))
    frame = wide_data.generate(5_000, seed=1)
    assert list(frame.columns) == [ID_COLUMN, *schema.names]
    assert len(schema.names) == 15
    numeric = [f for f in schema.features if isinstance(f, NumericFeature)]
    categorical = [f for f in schema.features if isinstance(f, CategoricalFeature)]
    assert len(numeric) == 12
    assert [len(f.levels) for f in categorical] == [3, 6, 4]
    assert sum(f.transform == "log1p" for f in numeric) >= 3
    for feature in numeric:
        assert frame[feature.name].between(feature.minimum, feature.maximum).all(), feature.name
    for feature in categorical:
        assert set(frame[feature.name]) == set(feature.levels), feature.name
    assert frame[ID_COLUMN].is_unique


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_same_rows_and_seed_give_the_same_bytes(tmp_path: Path, suffix: str) -> None:
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    wide_data.write_table(3_000, 5, first)
    wide_data.write_table(3_000, 5, second)
    assert first.read_bytes() == second.read_bytes()
    read = pd.read_csv(first) if suffix == ".csv" else pd.read_parquet(first)
    expected = wide_data.generate(3_000, seed=5)
    pd.testing.assert_frame_equal(read, expected, check_dtype=False)


def test_chunks_continue_the_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wide_data, "CHUNK_ROWS", 400)
    frame = wide_data.generate(1_000, seed=2)
    assert list(frame[ID_COLUMN].iloc[[0, 399, 400, 999]]) == [
        "W00000001",
        "W00000400",
        "W00000401",
        "W00001000",
    ]


def test_a_fit_at_the_planted_k_finds_the_planted_segments(tmp_path: Path) -> None:
    schema = load_schema_file(wide_data.write_schema(tmp_path / "wide.toml"))
    frame, planted = wide_data.generate_planted(4_000, seed=3)
    _, scaled = fit_scaler(frame[schema.names], schema)
    found = cluster(scaled, wide_data.PLANTED_K, seed=0, minibatch_threshold=100_000)
    assert adjusted_rand_score(planted, found.labels) > 0.9
    assert np.bincount(planted).min() > 0.1 * len(planted)
