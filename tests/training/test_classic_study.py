"""Training on the classic dataset reproduces the figures the original study reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segmentation.checksums import sha256_of
from tests.conftest import CLASSIC_CSV, TrainFn

STUDY_CENTROIDS = [(26.3, 20.9), (88.2, 17.1), (86.5, 82.1), (55.3, 49.5), (25.7, 79.4)]
STUDY_NAMES = {
    (26.3, 20.9): "Low income, low spending",
    (88.2, 17.1): "High income, low spending",
    (86.5, 82.1): "High income, high spending",
    (55.3, 49.5): "Average income, average spending",
    (25.7, 79.4): "Low income, high spending",
}
CLASSIC_SHA256 = "194975e1f84d29ee7a99ca72bc14dcd55af355384f35171ef7e9e053ac7f6612"


@pytest.fixture(scope="module")
def classic_csv() -> Path:
    assert CLASSIC_CSV.is_file(), f"the classic dataset is expected at {CLASSIC_CSV}"
    assert sha256_of(CLASSIC_CSV) == CLASSIC_SHA256
    return CLASSIC_CSV


@pytest.mark.parametrize("k", [5, None], ids=["k=5", "k=auto"])
def test_income_and_spending_finds_the_study_centroids(
    classic_csv: Path, train_into: TrainFn, k: int | None
) -> None:
    bundle = train_into(data=classic_csv, features=("annual_income", "spending_score"), k=k)
    assert bundle.metadata.k == 5
    found = {
        (p.centroid["annual_income"], p.centroid["spending_score"]): p
        for p in bundle.metadata.segments
    }
    assert bundle.metadata.training_data.rows == 200
    for expected in STUDY_CENTROIDS:
        nearest = min(found, key=lambda c: np.hypot(c[0] - expected[0], c[1] - expected[1]))
        assert abs(nearest[0] - expected[0]) <= 1.0, (expected, nearest)
        assert abs(nearest[1] - expected[1]) <= 1.0, (expected, nearest)
        assert found[nearest].name == STUDY_NAMES[expected]
    assert sorted(p.size for p in bundle.metadata.segments) == [22, 23, 35, 39, 81]
    # Gender is no feature here, but an attribute of the study's table: described per segment.
    female = sum(p.levels["gender"]["Female"].count for p in bundle.metadata.segments)
    assert female == 112


def test_auto_k_reproduces_the_study_figures(classic_csv: Path, train_into: TrainFn) -> None:
    selection = train_into(
        data=classic_csv, features=("annual_income", "spending_score"), k=None, k_range=(2, 8)
    ).metadata.k_selection
    assert selection.chosen_k == 5
    assert selection.knee_k == 5
    silhouettes = {row.k: row.silhouette for row in selection.table}
    # The study's silhouettes are on unscaled data; scaled, the partition and the peak agree.
    assert max(silhouettes, key=lambda k: silhouettes[k] or 0) == 5
    assert silhouettes[5] == pytest.approx(0.555, abs=0.01)


def test_with_age_the_silhouette_peaks_at_six(classic_csv: Path, train_into: TrainFn) -> None:
    bundle = train_into(data=classic_csv, k=None)
    table = {row.k: row.silhouette for row in bundle.metadata.k_selection.table}
    assert table[6] == pytest.approx(0.43, abs=0.01)
    assert table[5] == pytest.approx(0.42, abs=0.01)
    assert bundle.metadata.k == 6
