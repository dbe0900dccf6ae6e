"""The split test: a valley between two segments that K-Means at k + 1 divides, or none."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from training.choose_k import select_k
from training.fit import MINIBATCH_THRESHOLD
from training.split_test import (
    CH_PLATEAU,
    PAIR_VALLEY_RATIO,
    VALLEY_RATIO,
    clean_splits,
    least_distinct_pair,
    split_count,
    split_k,
    valley_ratio,
)


def gaussians(distance: float, sizes: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    first = rng.normal(size=(sizes[0], 3))
    second = rng.normal(size=(sizes[1], 3)) + np.array([distance, 0.0, 0.0])
    return np.vstack([first, second])


@pytest.mark.parametrize(
    ("sizes", "distance", "deeper_than"),
    [((400, 400), 5.0, 0.2), ((600, 40), 6.0, VALLEY_RATIO)],
    ids=["equal", "small-beside-large"],
)
def test_two_segments_apart_leave_a_valley(
    sizes: tuple[int, int], distance: float, deeper_than: float
) -> None:
    # Beside a segment 15 times its size, a small one's valley is shallower (the large one's
    # tail fills it): 0.47 at five spreads, above the threshold, so it needs six.
    rows = gaussians(distance, sizes)
    labels = np.repeat([0, 1], sizes)
    assert valley_ratio(rows[labels == 0], rows[labels == 1], seed=1) < deeper_than


@pytest.mark.parametrize("rows", [60, 400, 4000])
def test_one_cloud_cut_in_two_has_no_valley(rows: int) -> None:
    cloud = np.random.default_rng(rows).normal(size=(rows, 3))
    halves = cloud[:, 0] > 0
    assert valley_ratio(cloud[~halves], cloud[halves], seed=1) > VALLEY_RATIO


def test_a_clean_split_is_found_between_adjacent_k() -> None:
    # Far left: one segment; right: two close segments that k = 2 merges and k = 3 divides.
    rng = np.random.default_rng(5)
    far = rng.normal(size=(300, 2)) + np.array([-20.0, 0.0])
    rows = np.vstack([far, gaussians(5.0, (200, 100))[:, :2]])
    at_two = np.repeat([0, 1], [300, 300])
    at_three = np.repeat([2, 0, 1], [300, 200, 100])
    [split] = clean_splits(rows, at_two, at_three, seed=1)
    assert split.parent == 1
    assert sorted(split.sizes) == [100, 200]
    assert split.valley < VALLEY_RATIO
    # The one round segment on the left cut through its middle at k + 1 is no clean split.
    cut = np.where((at_two == 0) & (rows[:, 0] > -20.0), 2, at_two)
    [split] = clean_splits(rows, at_two, cut, seed=1)
    assert split.parent == 0
    assert split.valley > VALLEY_RATIO


def test_the_split_test_adds_segments_only_from_the_vote_upwards() -> None:
    valleys = {2: 0.1, 3: 0.9, 4: 0.2, 5: 0.3, 6: 0.8}
    assert split_k(3, 10, valleys, VALLEY_RATIO) == 3
    assert split_k(4, 10, valleys, VALLEY_RATIO) == 6
    assert split_k(5, 5, valleys, VALLEY_RATIO) == 5  # never past the top of the range


def test_the_plateau_step_looks_past_where_the_walk_stops() -> None:
    # The walk goes from 4 to 5 and stops: K-Means at 6 divides no segment of 5 cleanly. On the
    # plateau (7 and 8, within 1.5% of the best Calinski-Harabasz index, at 8) every segment at
    # 7 has a valley with its nearest one; at 8 one pair has none (a segment cut in two): 7.
    split_valley = {4: 0.1, 5: 1.0, 6: 0.3, 7: 0.9, 8: 1.0, 9: 1.0}
    calinski_harabasz = {2: 40.0, 3: 60.0, 4: 75.0, 5: 80.0, 6: 80.0, 7: 99.0, 8: 100.0}
    calinski_harabasz |= {9: 90.0, 10: 85.0}
    pair_valley = dict.fromkeys(range(2, 8), 0.1) | {8: 1.0, 9: 1.0, 10: 1.0}
    assert split_count(4, 10, split_valley, pair_valley, calinski_harabasz) == 7
    # A k off the plateau is not taken, however distinct its segments.
    lower = calinski_harabasz | {7: 100.0 * CH_PLATEAU - 0.01}
    assert split_count(4, 10, split_valley, pair_valley, lower) == 5
    # Nor a k on the plateau whose nearest pair has no valley deep enough.
    shallow = pair_valley | {7: PAIR_VALLEY_RATIO}
    assert split_count(4, 10, split_valley, shallow, calinski_harabasz) == 5
    # And from the k it takes, the walk goes on while segments split cleanly.
    onwards = split_valley | {7: 0.2}
    assert split_count(4, 10, onwards, pair_valley, calinski_harabasz) == 8
    # Never fewer segments than the walk gives, never past the range.
    assert split_count(8, 8, split_valley, pair_valley, calinski_harabasz) == 8


def test_a_segment_cut_in_two_is_the_least_distinct_pair() -> None:
    rng = np.random.default_rng(4)
    right = rng.normal(size=(300, 2)) + np.array([12.0, 0.0])
    apart = np.vstack([rng.normal(size=(300, 2)), right])
    two = np.repeat([0, 1], 300)
    assert least_distinct_pair(apart, two, seed=1) < 0.05
    # Cutting the right segment through its middle leaves a pair with no valley.
    three = np.where((two == 1) & (apart[:, 0] > 12.0), 2, two)
    assert least_distinct_pair(apart, three, seed=1) > PAIR_VALLEY_RATIO


def test_k_auto_counts_a_close_pair_the_vote_merges() -> None:
    # Five segments 40 spreads apart and a pair 5.5 apart: the silhouette and Davies-Bouldin
    # merge the pair (the vote says 6); the pair's valley (0.15) brings k to the planted 7.
    rng = np.random.default_rng(3)
    centres = [(0, 0, 0), (40, 0, 0), (0, 40, 0), (0, 0, 40), (40, 40, 40)]
    parts = [rng.normal(size=(200, 3)) + np.array(c) for c in centres]
    parts.append(rng.normal(size=(150, 3)) + np.array([40.0, 0.0, 40.0]))
    parts.append(rng.normal(size=(150, 3)) + np.array([45.5, 0.0, 40.0]))
    rows = np.vstack(parts)
    scaled = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    with threadpool_limits(limits=1):
        selection, clustering = select_k(scaled, (2, 10), 42, MINIBATCH_THRESHOLD)
    assert selection.voted_k == 6
    assert selection.chosen_k == 7
    assert len(np.unique(clustering.labels)) == 7
    assert selection.split_tree is not None
    assert selection.split_tree.runner_up == 6
