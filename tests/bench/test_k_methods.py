"""The benchmark's shared computations give training's own numbers, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bench.k_methods import kmeans_curves, project_structure_test, structure_curves
from training.choose_k import examine_structure
from training.fit import SILHOUETTE_MAX_ROWS, score_clustering
from training.structure import gap_choice, gap_statistic, structure_sample

SEED = 11


def blobs(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 1.0], [0.0, 6.0, -1.0], [4.0, 5.0, 3.0]])
    return np.vstack([rng.normal(c, 1.0, size=(rows // len(centres), 3)) for c in centres])


@pytest.mark.parametrize("rows", [400, SILHOUETTE_MAX_ROWS + 1_000], ids=["all", "sampled"])
def test_the_silhouette_from_shared_distances_is_the_one_training_scores(rows: int) -> None:
    scaled = blobs(rows, 3)
    with threadpool_limits(limits=1):
        curves = kmeans_curves(scaled, SEED, 5)
    for k in range(2, 6):
        trained = score_clustering(scaled, curves.labels[k], k, curves.inertia[k], SEED)
        assert curves.silhouette[k] == trained.silhouette


def test_the_gap_scan_shared_with_the_structure_test_gives_training_s_test_and_choice() -> None:
    scaled = blobs(600, 5)
    with threadpool_limits(limits=1):
        curves = kmeans_curves(scaled, SEED, 8)
        structure_curves(curves)
        project_structure_test(curves)
        alone = examine_structure(scaled, list(range(2, 9)), SEED)
        full_gap, full_error = gap_statistic(structure_sample(scaled, SEED), range(1, 9), SEED)
    assert curves.structure_test == alone
    assert gap_choice(curves.gap, curves.gap_error) == gap_choice(full_gap, full_error) == 4
    assert sorted(curves.gap) == [1, 2, 3, 4, 5]  # one past the 1-SE rule's stop, no further
    assert all(curves.gap[k] == full_gap[k] for k in curves.gap)
