"""Choosing k: the documented rule, the stored evidence, and the classic dataset's answer."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.metadata import KScore, StructureTest
from tests.conftest import TrainFn
from training.choose_k import (
    AUTO_RULE,
    consensus,
    criterion_votes,
    knee_distances,
    parse_k_range,
    structure_found,
)


def score(
    k: int,
    silhouette: float,
    knee: float,
    calinski_harabasz: float = 1.0,
    davies_bouldin: float = 1.0,
) -> KScore:
    return KScore(
        k=k,
        inertia=100.0 / k,
        silhouette=silhouette,
        calinski_harabasz=calinski_harabasz,
        davies_bouldin=davies_bouldin,
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


def test_the_rule_takes_the_median_of_the_three_criteria() -> None:
    # Silhouette best at 4, Calinski-Harabasz at 6, Davies-Bouldin (lower is better) at 5.
    table = [
        score(3, 0.30, 0.1, calinski_harabasz=10.0, davies_bouldin=0.9),
        score(4, 0.60, 0.1, calinski_harabasz=20.0, davies_bouldin=0.8),
        score(5, 0.55, 0.1, calinski_harabasz=30.0, davies_bouldin=0.5),
        score(6, 0.40, 0.1, calinski_harabasz=40.0, davies_bouldin=0.7),
    ]
    votes = criterion_votes(table)
    assert votes == {"silhouette": 4, "calinski_harabasz": 6, "davies_bouldin": 5}
    assert consensus(votes) == 5


def test_two_criteria_agreeing_outvote_the_third() -> None:
    assert consensus({"silhouette": 3, "calinski_harabasz": 9, "davies_bouldin": 3}) == 3


def test_criterion_ties_go_to_the_smaller_k() -> None:
    table = [score(3, 0.5, 0.2), score(4, 0.5, 0.1)]
    assert criterion_votes(table)["silhouette"] == 3


def structure_test(**overrides: object) -> StructureTest:
    values: dict[str, object] = {
        "sample_rows": 1000,
        "gap_one": 0.5,
        "gap_two": 0.4,
        "gap_two_error": 0.02,
        "gap_says_one": True,
        **overrides,
    }
    return StructureTest.model_validate(values)


@pytest.mark.parametrize(
    ("evidence", "found"),
    [
        ({"gap_says_one": False}, True),
        ({"bic_says_one": True}, False),
        ({"bic_says_one": False, "best_prediction_strength": 0.62}, False),
        ({"bic_says_one": False, "best_prediction_strength": 0.93}, True),
    ],
    ids=["gap-finds-two", "gap-and-bic-say-one", "gap-and-strength-say-one", "strength-saves"],
)
def test_no_structure_needs_the_gap_and_a_second_witness(
    evidence: dict[str, object], found: bool
) -> None:
    assert structure_found(structure_test(**evidence)) is found


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
    assert selection.votes == criterion_votes(list(selection.table))
    assert selection.structure == "segments"
    assert selection.chosen_k == consensus(selection.votes)
    assert selection.warning is None
    knees = [row.knee_distance for row in selection.table]
    assert selection.knee_k == selection.table[knees.index(max(knees))].k


def test_fixed_k_records_one_row(train_into: TrainFn) -> None:
    selection = train_into(k=4).metadata.k_selection
    assert selection.mode == "fixed"
    assert selection.k_range is None
    assert [row.k for row in selection.table] == [4]
    assert selection.chosen_k == 4
    assert selection.structure is None
    assert selection.votes is None


def test_the_range_is_capped_by_the_number_of_rows(train_into: TrainFn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "small.csv"
    data.write_text(
        "age,annual_income,spending_score\n"
        + "\n".join(f"{20 + 3 * i},{15 + 7 * i},{1 + 11 * i}" for i in range(6))
    )
    selection = train_into(data=data, k=None, k_range=(2, 10), min_rows=1).metadata.k_selection
    assert [row.k for row in selection.table] == [2, 3, 4, 5]
