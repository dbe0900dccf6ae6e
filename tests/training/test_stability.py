"""Bootstrap stability: high for well-separated segments, a clear warning for arbitrary ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE_CSV, TrainFn
from training import stability as stability_module


def test_planted_segments_are_stable(train_into: TrainFn) -> None:
    bundle = train_into(
        data=SAMPLE_CSV, features=("annual_income", "spending_score"), k=5, stability_samples=5
    )
    stability = bundle.metadata.stability
    assert stability is not None
    assert stability.samples == 5
    assert stability.sample_rows == 400
    assert stability.mean_ari > 0.9
    assert [s.id for s in stability.segments] == [0, 1, 2, 3, 4]
    assert all(s.mean_ari > 0.8 for s in stability.segments)
    assert stability.warning is None


def test_segments_cut_from_uniform_noise_get_a_warning(train_into: TrainFn, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "noise.csv"
    pd.DataFrame(
        {
            "age": rng.uniform(18, 70, 400).round(),
            "annual_income": rng.uniform(15, 140, 400).round(),
            "spending_score": rng.uniform(1, 100, 400).round(),
        }
    ).to_csv(data, index=False)
    stability = train_into(data=data, k=9, stability_samples=5).metadata.stability
    assert stability is not None
    assert stability.mean_ari < stability_module.LOW_ARI
    assert stability.warning is not None
    assert "the segmentation is unstable" in stability.warning


def test_the_same_seed_gives_the_same_figures(train_into: TrainFn, tmp_path: Path) -> None:
    first = train_into(models_dir=tmp_path / "a", k=4, stability_samples=3).metadata.stability
    second = train_into(models_dir=tmp_path / "b", k=4, stability_samples=3).metadata.stability
    assert first == second


def test_large_data_is_sampled(train_into: TrainFn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stability_module, "MAX_ROWS", 120)
    stability = train_into(k=3, stability_samples=2).metadata.stability
    assert stability is not None
    assert stability.sample_rows == 120


def test_zero_samples_skips_it(train_into: TrainFn) -> None:
    assert train_into(k=3, stability_samples=0).metadata.stability is None
