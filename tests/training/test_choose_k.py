"""Choosing k: the documented rule, the stored evidence, and the classic dataset's answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segmentation.k_choice import consensus_reason
from segmentation.metadata import KScore, StructureTest
from tests.conftest import TrainFn
from training.choose_k import (
    AUTO_RULE,
    consensus,
    criterion_votes,
    knee_distances,
    no_structure_warning,
    parse_k_range,
    rule_votes,
    structure_evidence,
    structure_found,
)
from training.fit import MINIBATCH_THRESHOLD, cluster
from training.structure import GapStatistic, gap_choice, gap_statistic


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


@pytest.mark.parametrize(
    ("votes", "chosen", "reason"),
    [
        ((6, 2, 4, 6), 6, "named by 2 of the 4 criteria"),
        ((5, 5, 5, 9), 5, "named by 3 of the 4 criteria"),
        ((3, 5, 5, 3), 3, "the lower median of their choices"),
        ((8, 2, 6, 4), 4, "the lower median of their choices"),
        ((7, 3, 5), 5, "their median"),
    ],
    ids=["plurality", "three-of-four", "tie-goes-lower", "all-differ", "three-votes"],
)
def test_the_k_named_most_wins_else_the_lower_median(
    votes: tuple[int, ...], chosen: int, reason: str
) -> None:
    names = ["silhouette", "calinski_harabasz", "davies_bouldin", "gap_statistic"]
    named = dict(zip(names, votes, strict=False))
    assert consensus(named) == chosen
    assert consensus_reason(named) == reason


def test_the_gap_statistic_votes_only_for_a_k_in_the_range() -> None:
    table = [score(3, 0.6, 0.1), score(4, 0.5, 0.1), score(5, 0.4, 0.1)]
    assert rule_votes(table, structure_test(gap_says_one=False, gap_k=4))["gap_statistic"] == 4
    for outside in (1, 2, 9):
        assert "gap_statistic" not in rule_votes(table, structure_test(gap_k=outside))
    assert "gap_statistic" not in rule_votes(table, None)


def test_the_gap_statistic_stops_at_the_k_it_needs_with_the_full_curves_answer() -> None:
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    sample = np.vstack([rng.normal(centre, 1.0, size=(60, 2)) for centre in centres])
    scan = GapStatistic(sample, seed=11)
    assert scan.choice(8) == gap_choice(*gap_statistic(sample, range(1, 9), seed=11)) == 4
    assert sorted(scan.gap) == [1, 2, 3, 4, 5]  # k = 6 to 8 never fitted


def test_the_gap_statistic_reuses_the_fits_training_already_made() -> None:
    rng = np.random.default_rng(5)
    sample = np.vstack([rng.normal(centre, 1.0, size=(80, 2)) for centre in ([0, 0], [7, 1])])
    fitted = {k: cluster(sample, k, 11, MINIBATCH_THRESHOLD).score.inertia for k in (2, 3)}
    reused = GapStatistic(sample, seed=11, observed=fitted)
    fresh = GapStatistic(sample, seed=11)
    assert reused.choice(4) == fresh.choice(4)
    assert reused.gap == fresh.gap  # the same models, so the same numbers to the last bit
    assert reused.error == fresh.error


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


def silhouettes(margin: float, strength: float) -> dict[str, object]:
    return {
        "bic_says_one": False,
        "silhouette": 0.25 * margin,
        "reference_silhouette": 0.25,
        "best_prediction_strength": strength,
        "best_prediction_strength_k": 3,
    }


@pytest.mark.parametrize(
    ("evidence", "found"),
    [
        ({"gap_says_one": False, "gap_k": 4}, True),
        ({"bic_says_one": True}, False),
        (silhouettes(margin=0.95, strength=0.99), False),
        (silhouettes(margin=1.1, strength=0.7), False),
        (silhouettes(margin=1.1, strength=0.9), True),
        (silhouettes(margin=1.3, strength=0.4), True),
        ({"bic_says_one": False}, False),
    ],
    ids=[
        "gap-finds-two",
        "gap-and-bic-say-one",
        "silhouette-no-better-than-uniform",
        "slightly-better-but-not-reproducible",
        "slightly-better-and-reproducible",
        "clearly-better",
        "not-tested",
    ],
)
def test_no_structure_needs_the_gap_and_a_second_witness(
    evidence: dict[str, object], found: bool
) -> None:
    assert structure_found(structure_test(**evidence)) is found


def test_the_evidence_is_said_in_words_with_its_figures() -> None:
    found = structure_test(**silhouettes(margin=1.3, strength=0.4))
    assert structure_evidence(found, found=True) == (
        "the gap statistic finds no gain from two segments over none, but the segments stand "
        "out from structureless data (best silhouette 0.325 against 0.250 on uniform data of "
        "the same extent, 1.30x; best prediction strength 0.40 at k = 3)"
    )
    cloud = structure_test(**silhouettes(margin=1.1, strength=0.7))
    warning = no_structure_warning(cloud, 2)
    assert warning.startswith("no clear segments: the customers look like one cloud (the gap")
    assert "do not stand out from structureless data" in warning
    assert "1.10x" in warning
    assert "k = 2 is an arbitrary cut" in warning
    with pytest.raises(ValueError, match="one more test"):
        no_structure_warning(structure_test(), 2)


def test_a_bundle_judged_before_the_silhouette_evidence_keeps_its_verdict_in_words() -> None:
    # A report redrawn for an older bundle (segment-names) states the stored verdict and the
    # evidence it rested on, prediction strength; it does not re-decide by the new rule.
    older = structure_test(
        bic_says_one=False, best_prediction_strength=0.93, best_prediction_strength_k=4
    )
    assert structure_evidence(older, found=True) == (
        "the gap statistic finds no gain from two segments over none, but best prediction "
        "strength 0.93 at k = 4"
    )
    unsplittable = structure_test(**{**silhouettes(1.1, 0.0), "best_prediction_strength_k": None})
    assert "no k fits in half the sample" in structure_evidence(unsplittable, found=False)


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
    assert selection.votes == rule_votes(list(selection.table), selection.structure_test)
    assert selection.structure_test is not None
    assert selection.votes.get("gap_statistic") == (
        selection.structure_test.gap_k if selection.structure_test.gap_k in range(2, 7) else None
    )
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


def test_auto_tries_only_k_whose_segments_average_ten_customers(
    train_into: TrainFn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """45 customers: k = 5 would average 9, so 2 to 4 are scored, and the stored range says so
    (11 customers made 10 segments of one before)."""
    data = tmp_path / "small.csv"
    data.write_text(
        "age,annual_income,spending_score\n"
        + "\n".join(f"{20 + i},{15 + (7 * i) % 100},{1 + (11 * i) % 99}" for i in range(45))
    )
    with caplog.at_level("INFO", logger="training"):
        selection = train_into(data=data, k=None, k_range=(2, 10)).metadata.k_selection
    assert [row.k for row in selection.table] == [2, 3, 4]
    assert selection.k_range == (2, 4)
    assert "k above 4 not tried: 45 customers would average fewer than 10 a segment" in (
        caplog.text
    )


def test_auto_tries_no_more_segments_than_distinct_customers(
    train_into: TrainFn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """200 rows of 5 distinct customers: K-Means at 6 or more would leave segments empty."""
    data = tmp_path / "repeated.csv"
    five = ["25,20,80", "30,90,10", "50,60,50", "65,30,20", "40,120,90"]
    data.write_text("age,annual_income,spending_score\n" + "\n".join(five * 40))
    with caplog.at_level("INFO", logger="training"):
        selection = train_into(data=data, k=None, k_range=(2, 10)).metadata.k_selection
    assert [row.k for row in selection.table] == [2, 3, 4, 5]
    assert "k above 5 not tried: there are only 5 distinct customers" in caplog.text


def test_a_fixed_k_is_not_capped_by_the_average_segment(
    train_into: TrainFn, tmp_path: Path
) -> None:
    """The cap is --k auto's: a k asked for is the user's choice."""
    data = tmp_path / "small.csv"
    data.write_text(
        "age,annual_income,spending_score\n"
        + "\n".join(f"{20 + 3 * i},{15 + 7 * i},{1 + 11 * i}" for i in range(6))
    )
    assert train_into(data=data, k=5, min_rows=1).metadata.k == 5
