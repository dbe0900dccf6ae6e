"""Choosing k: the documented rule, the stored evidence, and the classic dataset's answer."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.metadata import KScore
from tests.conftest import TrainFn
from training.choose_k import AUTO_RULE, _by_rank_sum, knee_distances, parse_k_range


def score(k: int, silhouette: float, knee: float) -> KScore:
    return KScore(
        k=k,
        inertia=100.0 / k,
        silhouette=silhouette,
        calinski_harabasz=1.0,
        davies_bouldin=1.0,
        knee_distance=knee,
    )


def test_knee_distance_is_largest_at_the_elbow() -> None:
    ks = [2, 3, 4, 5, 6, 7]
    inertias = [1000, 700, 450, 150, 130, 120]
    distances = knee_distances(ks, inertias)
    assert ks[int(np.argmax(distances))] == 5
    assert distances[0] == pytest.approx(0.0)
    assert distances[-1] == pytest.approx(0.0)


def test_knee_is_undefined_for_fewer_than_three_points() -> None:
    assert knee_distances([2, 3], [10.0, 5.0]) == [0.0, 0.0]


def test_rule_sums_the_two_ranks() -> None:
    # k=4 has the best silhouette, k=6 the best knee; k=5 is second on both and wins.
    table = [
        score(3, 0.30, 0.10),
        score(4, 0.60, 0.15),
        score(5, 0.55, 0.35),
        score(6, 0.40, 0.40),
        score(7, 0.45, 0.30),
    ]
    assert _by_rank_sum(table) == 5


def test_ties_go_to_the_higher_silhouette_then_the_smaller_k() -> None:
    assert _by_rank_sum([score(3, 0.5, 0.2), score(4, 0.6, 0.1)]) == 4
    assert _by_rank_sum([score(3, 0.5, 0.2), score(4, 0.5, 0.2)]) == 3


@pytest.mark.parametrize(("text", "bounds"), [("2-10", (2, 10)), ("3-3", (3, 3))])
def test_parse_k_range(text: str, bounds: tuple[int, int]) -> None:
    assert parse_k_range(text) == bounds


def test_auto_k_stores_every_criterion_for_every_k(train_into: TrainFn) -> None:
    selection = train_into(k=None, k_range=(2, 6)).metadata.k_selection
    assert selection.mode == "auto"
    assert selection.k_range == (2, 6)
    assert selection.rule == AUTO_RULE
    assert [row.k for row in selection.table] == [2, 3, 4, 5, 6]
    for row in selection.table:
        assert row.inertia > 0
        assert row.silhouette is not None
        assert row.calinski_harabasz is not None
        assert row.davies_bouldin is not None
        assert row.knee_distance is not None
    assert selection.chosen_k == _by_rank_sum(list(selection.table))
    knees = [row.knee_distance for row in selection.table]
    assert selection.knee_k == selection.table[knees.index(max(knees))].k


def test_fixed_k_records_one_row(train_into: TrainFn) -> None:
    selection = train_into(k=4).metadata.k_selection
    assert selection.mode == "fixed"
    assert selection.k_range is None
    assert [row.k for row in selection.table] == [4]
    assert selection.chosen_k == 4


def test_the_range_is_capped_by_the_number_of_rows(train_into: TrainFn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "small.csv"
    data.write_text(
        "age,annual_income,spending_score\n"
        + "\n".join(f"{20 + 3 * i},{15 + 7 * i},{1 + 11 * i}" for i in range(6))
    )
    selection = train_into(data=data, k=None, k_range=(2, 10), min_rows=1).metadata.k_selection
    assert [row.k for row in selection.table] == [2, 3, 4, 5]
