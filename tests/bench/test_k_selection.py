"""The k-selection benchmark scores ``--k auto`` exactly as training decides, on small sets."""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import pytest
from numpy.linalg import norm
from scipy.spatial.distance import mahalanobis
from scipy.stats import multivariate_normal
from threadpoolctl import threadpool_limits

from bench.k_methods import EARLIER_PLATEAU, kmeans_curves
from bench.k_selection import (
    METHODS,
    PROJECT_RULE,
    RECOVERABLE_SPLITS,
    SEPARATED_SPREADS,
    RecoverableSplit,
    _evaluation_sample,
    curves_of,
    evaluate_set,
    methods_for,
    methods_of,
    outcomes,
    split_table,
    summary_tables,
)
from bench.planted import (
    NOISE_LABEL,
    nearest_planted_pair_gain,
    nearest_planted_separation,
    planted_set,
)
from training.choose_k import select_k
from training.fit import MINIBATCH_THRESHOLD
from training.split_test import (
    CH_PLATEAU,
    MIXTURE_GAIN,
    VALLEY_RATIO,
    PairTestsByK,
    pair_sample,
)

SEED = 11
# A development seed of issue 24's uneven families (docs/k-selection-rounds.md).
UNEVEN_SEED = 3819
TWO_GAUSSIANS_SEED = 52953
ANY_WEIGHTS_SEED = 2026
DISCRIMINANT_SEED = 47415
WIDER_PLATEAU_SEED = 54956
REGROUPED_SEED = 11863
OWN_SPREADS_SEED = 3720
STEP_BACK_SEED = 3720
STEP_BACK_COST_SEED = 30651
SECOND_RULE = "vote, walk and plateau on valleys (issue 24's second rule)"
FIFTH_RULE = "pairs light-tailed by an absolute limit (issue 24's fifth rule)"
SIXTH_RULE = "pairs on the line through their centres (issue 24's sixth rule)"
SEVENTH_RULE = "pairs as K-Means cut them (issue 24's seventh rule)"
NINTH_RULE = "pairs regrouped where K-Means' cut shows no evidence (issue 24's ninth rule)"
TENTH_RULE = "the vote's k as it is (issue 24's tenth rule)"
# Issue 24's twelfth held-out seed, scored once; its round's rule was withdrawn.
WITHDRAWN_GUARD_SEED = 26671


@functools.cache
def _evaluated(family: str, index: int, seed: int) -> dict[str, Any]:
    return evaluate_set(family, index, seed)


def evaluated(family: str, index: int, seed: int) -> dict[str, Any]:
    """``evaluate_set``'s record of one planted set (seeded, so the same on every call),
    computed once per process for this file's tests; each test gets a copy of its own."""
    return copy.deepcopy(_evaluated(family, index, seed))


def chosen_by_method(record: dict[str, Any]) -> dict[str, int]:
    """The k each method chooses on one set."""
    return {row["method"]: row["chosen_k"] for row in outcomes([record], METHODS)}


@pytest.mark.parametrize(
    ("family", "index", "seed"),
    [
        ("separated", 15, SEED),
        ("overlapping", 4, SEED),
        ("none", 2, SEED),
        ("uneven", 16, UNEVEN_SEED),
        ("uneven_mixed", 5, TWO_GAUSSIANS_SEED),
        ("uneven_mixed", 14, ANY_WEIGHTS_SEED),
        ("uneven_mixed", 7, DISCRIMINANT_SEED),
        ("uneven_mixed", 1, DISCRIMINANT_SEED),
        ("unbalanced", 7, WIDER_PLATEAU_SEED),
        ("uneven_mixed", 1, REGROUPED_SEED),
        ("uneven_mixed", 0, OWN_SPREADS_SEED),
        ("uneven_mixed", 47, STEP_BACK_SEED),
    ],
    ids=[
        "separated",
        "overlapping",
        "one-blob",
        "uneven-plateau-step",
        "uneven-two-gaussians",
        "uneven-pairs-of-any-weights",
        "uneven-pairs-on-their-discriminant",
        "uneven-pairs-of-unequal-spreads",
        "unbalanced-on-the-wider-plateau",
        "uneven-pair-regrouped",
        "uneven-pair-of-its-own-spreads",
        "uneven-vote-taken-back",
    ],
)
def test_the_project_rule_is_the_k_training_chooses(family: str, index: int, seed: int) -> None:
    record = evaluated(family, index, seed)
    chosen = next(
        row["chosen_k"] for row in outcomes([record], METHODS) if row["method"] == PROJECT_RULE
    )
    scaled, _ = _evaluation_sample(planted_set(family, index, seed), seed)
    with threadpool_limits(limits=1):
        selection, _ = select_k(scaled, (2, 10), seed, MINIBATCH_THRESHOLD)
    assert chosen == (1 if selection.structure == "none" else selection.chosen_k)
    assert curves_of(record).structure_test == selection.structure_test


@pytest.mark.parametrize(
    ("family", "index", "seed", "planted", "before", "counted_by", "not_by"),
    [
        # Ten planted segments; at 10 a segment of 206 customers and one of 42 lie far apart but
        # heavy-tailed on their line by their weights: the fifth round's absolute limit stopped
        # at 9, the sixth round's pair test (kurtosis against the fitted mixture's) takes 10.
        (
            "uneven_mixed",
            14,
            ANY_WEIGHTS_SEED,
            10,
            FIFTH_RULE,
            "pairs_distinct_any_weights",
            "pairs_distinct",
        ),
        # Eight planted segments in 555 rows; at 8 a pair of 85 and 39 customers has 5.4 of
        # evidence for two Gaussians on the line through its centres, under the 6 asked, and
        # 6.5 on its discriminant (the seventh round).
        (
            "uneven_mixed",
            7,
            DISCRIMINANT_SEED,
            8,
            SIXTH_RULE,
            "pairs_apart",
            "pairs_distinct_any_weights",
        ),
        # Seven planted segments in 2,419 rows; at 7 a pair of 121 and 592 customers of
        # different widths is heavier-tailed than a mixture with a common variance (0.8 above
        # its kurtosis), but each side is a Gaussian on its own (the seventh round).
        (
            "uneven_mixed",
            1,
            DISCRIMINANT_SEED,
            7,
            SIXTH_RULE,
            "pairs_apart",
            "pairs_distinct_any_weights",
        ),
        # Seven planted segments of unequal spreads in 486 rows: at 7, K-Means cuts a close pair
        # into groups of 74 and 53 customers that show too little evidence of two Gaussians on
        # their discriminant (0.018 per customer); regrouped by a mixture with a shared
        # covariance, 92 and 35 show 0.050, 6.3 in all, and the plateau step takes 7, the best
        # Calinski-Harabasz index (the ninth round).
        (
            "uneven_mixed",
            1,
            REGROUPED_SEED,
            7,
            SEVENTH_RULE,
            "pairs_apart_regrouped",
            "pairs_apart",
        ),
        # Six planted segments in 583 rows: at 6, K-Means' pair of 142 customers and 39 wider
        # ones shows clear evidence of two Gaussians (0.45 per customer) but tails 0.51 above a
        # mixture with a common variance, and the small side is too small for its own shape to
        # be read; against two Gaussians of the groups' own spreads the tails are 0.07 above,
        # and the large side is a Gaussian on its own (the tenth round).
        (
            "uneven_mixed",
            0,
            OWN_SPREADS_SEED,
            6,
            NINTH_RULE,
            "pairs_apart_own_spreads",
            "pairs_apart_regrouped",
        ),
    ],
    ids=[
        "sixth-round-pair-of-any-weights",
        "seventh-round-pair-on-its-discriminant",
        "seventh-round-pair-of-unequal-spreads",
        "ninth-round-pair-regrouped",
        "tenth-round-pair-of-its-own-spreads",
    ],
)
def test_each_rounds_pair_test_counts_a_pair_the_round_before_did_not(
    family: str, index: int, seed: int, planted: int, before: str, counted_by: str, not_by: str
) -> None:
    record = evaluated(family, index, seed)
    chosen = chosen_by_method(record)
    assert record["planted_k"] == chosen[PROJECT_RULE] == planted
    assert chosen[before] == planted - 1
    assert record[counted_by][planted]
    assert not record[not_by][planted]


@pytest.mark.parametrize(
    ("family", "index", "seed", "planted", "counted"),
    [
        # Eight planted segments in 1,116 rows: the vote says 9, where K-Means cuts a segment
        # into two that one Gaussian fits better than two, as cut and regrouped; the count
        # starts from 8, the walk does not go back up, and 8 is chosen.
        ("uneven_mixed", 47, STEP_BACK_SEED, 8, 8),
        # Ten planted segments in 612 rows, one pair of which one Gaussian fits as well as two
        # on its own labels (a planted pair gain below 0): the vote says 10, rightly, but that
        # pair shows no gain at 10 either, so the count starts from 9 and stays there. One of
        # the two recoverable sets the step back lost on the development seeds.
        ("uneven", 34, STEP_BACK_COST_SEED, 10, 9),
    ],
    ids=["a-segment-too-many", "a-set-it-costs"],
)
def test_the_votes_k_is_taken_back_where_it_shows_a_segment_cut_in_two(
    family: str, index: int, seed: int, planted: int, counted: int
) -> None:
    # Issue 24's eleventh round; the tenth round's rule keeps the vote's k on both sets.
    record = evaluated(family, index, seed)
    chosen = chosen_by_method(record)
    voted = chosen["vote alone (the rule before issue 24)"]
    assert record["planted_k"] == planted
    assert chosen[TENTH_RULE] == voted
    assert record["pairs_one_gaussian"][voted]
    assert not record["pairs_one_gaussian"][voted - 1]
    assert chosen[PROJECT_RULE] == counted == voted - 1


def test_a_regrouping_counts_where_the_cut_is_clearly_one_gaussian() -> None:
    # Issue 24's twelfth round counted no regrouping where one Gaussian fits K-Means' cut better
    # than two by more than 0.04 per customer, and was withdrawn after its held-out run on seed
    # 26671, where it counted this set 9: ten planted segments in 571 rows, where K-Means at 10
    # gives two planted segments 58 and 53 customers (52 and 39 of them their own) with a gain of
    # -0.057 as cut and 0.096 once regrouped. As cut it looks like the pair of one segment cut in
    # two that the round was for (unequal_spread 7 of seed 16093, -0.058), but it is two planted
    # segments, so the regrouping must count and 10 be taken.
    seed = WITHDRAWN_GUARD_SEED
    record = evaluated("uneven_mixed", 44, seed)
    chosen = chosen_by_method(record)
    assert record["planted_k"] == chosen[PROJECT_RULE] == 10
    assert record["pairs_apart_own_spreads"][10]
    assert record["pairs_apart_regrouped"][10]
    assert not record["pairs_apart"][10]  # apart only once regrouped
    scaled, _ = _evaluation_sample(planted_set("uneven_mixed", 44, seed), seed)
    with threadpool_limits(limits=1):
        labels = kmeans_curves(scaled, seed, 10).labels
        tests = PairTestsByK(scaled, labels, seed).tests(10)
    assert min(test.as_cut.gain for test in tests) < -MIXTURE_GAIN


def test_the_regrouping_does_not_count_the_pieces_of_a_stretched_segment() -> None:
    # Three stretched segments in 12,914 rows: at 8 and 9 K-Means' pieces of them show evidence
    # of two Gaussians but tails 0.51 to 0.67 above the mixture's; regrouped too, they pass and 9
    # is chosen, so a pair with evidence as cut is not regrouped. (The ninth round's pair test
    # above is the one a covariance each, rather than a shared one, gets wrong: 6 chosen.)
    record = evaluated("anisotropic", 1, 94376)
    chosen = chosen_by_method(record)
    assert record["planted_k"] == chosen[PROJECT_RULE] == chosen[SEVENTH_RULE] == 3


def test_the_wider_plateau_reaches_a_k_whose_pairs_were_already_apart() -> None:
    # Nine planted segments of 10 to 20 times each other's size in 684 rows: every pair at 9 was
    # two Gaussians by the sixth round's test too, but 9 scores 0.944 of the best
    # Calinski-Harabasz index, off the sixth round's plateau (0.985) and on the seventh's (0.94).
    record = evaluated("unbalanced", 7, WIDER_PLATEAU_SEED)
    chosen = chosen_by_method(record)
    assert record["planted_k"] == chosen[PROJECT_RULE] == 9
    assert chosen[SIXTH_RULE] == 8
    assert record["pairs_apart"][9]
    assert record["pairs_distinct_any_weights"][9]
    best = max(record["calinski_harabasz"].values())
    assert CH_PLATEAU * best <= record["calinski_harabasz"][9] < EARLIER_PLATEAU * best


def test_the_plateau_step_finds_segments_the_split_walk_stops_short_of() -> None:
    # Seven planted segments in 401 rows: the vote says 4, the split walk stops at 5 where
    # K-Means at 6 redraws a region, and the plateau step reaches 7.
    record = evaluated("uneven", 16, UNEVEN_SEED)
    chosen = chosen_by_method(record)
    assert record["planted_k"] == 7
    assert chosen["vote alone (the rule before issue 24)"] == 4
    assert chosen["vote and split walk (issue 24's first rule)"] == 5
    assert chosen[SECOND_RULE] == 7
    assert chosen[PROJECT_RULE] == 7


def test_two_touching_segments_with_no_valley_are_counted_as_two() -> None:
    # Six planted segments in 426 rows: the vote says 5; K-Means at 6 divides a segment into two
    # that leave no valley deep enough on their line, so the valleys alone stay at 5; two
    # Gaussians fit the pair clearly better than one, and the split test counts six.
    record = evaluated("uneven_mixed", 5, TWO_GAUSSIANS_SEED)
    chosen = chosen_by_method(record)
    assert record["planted_k"] == 6
    assert chosen["vote alone (the rule before issue 24)"] == 5
    assert chosen[SECOND_RULE] == 5
    assert chosen[PROJECT_RULE] == 6
    assert record["split_valley"][5] > VALLEY_RATIO
    assert record["split_distinct"][5]


def test_every_method_answers_and_the_tables_list_them() -> None:
    record = evaluated("separated", 15, SEED)
    rows = outcomes([record], METHODS)
    assert [row["method"] for row in rows] == [method.name for method in METHODS]
    assert all(1 <= row["chosen_k"] <= 10 for row in rows)
    assert next(r for r in rows if r["method"] == PROJECT_RULE)["exact"]  # 8 clear segments
    tables = summary_tables(rows, METHODS)
    for method in METHODS:
        assert f"| {method.name} |" in tables


def test_a_results_file_from_before_the_whole_structure_test_is_refused() -> None:
    record = evaluated("separated", 15, SEED)
    del record["structure_test"]
    record["structure_found"] = True
    with pytest.raises(ValueError, match="predates the stored structure test"):
        curves_of(record)


def test_a_results_file_from_before_a_round_of_the_split_test_scores_every_other_method() -> None:
    whole = evaluated("separated", 15, SEED)
    tenth = copy.deepcopy(whole)
    del tenth["pairs_one_gaussian"]
    ninth = copy.deepcopy(tenth)
    del ninth["pairs_apart_own_spreads"]
    eighth = copy.deepcopy(ninth)
    del eighth["pairs_apart_regrouped"]
    sixth = copy.deepcopy(eighth)
    del sixth["pairs_apart"]
    fifth = copy.deepcopy(sixth)
    del fifth["pairs_distinct_any_weights"]
    older = copy.deepcopy(fifth)
    del older["split_distinct"], older["pairs_distinct"]
    oldest = copy.deepcopy(older)
    del oldest["split_valley"], oldest["pair_valley"]
    # Each file scores the rule of its own round and none after it.
    for record, its_rule, next_rule in (
        (tenth, TENTH_RULE, PROJECT_RULE),
        (ninth, NINTH_RULE, TENTH_RULE),
        (eighth, SEVENTH_RULE, NINTH_RULE),
        (sixth, SIXTH_RULE, SEVENTH_RULE),
        (fifth, FIFTH_RULE, SIXTH_RULE),
        (older, SECOND_RULE, FIFTH_RULE),
    ):
        names = {m.name for m in methods_of([record])}
        assert its_rule in names
        assert not {next_rule, PROJECT_RULE} & names
    assert not {PROJECT_RULE, SECOND_RULE} & {m.name for m in methods_of([oldest])}
    chosen = {r["method"]: r["chosen_k"] for r in outcomes([whole], METHODS)}
    for record in (tenth, ninth, eighth, sixth, fifth, older, oldest):
        scored = methods_of([record])
        assert all(chosen[r["method"]] == r["chosen_k"] for r in outcomes([record], scored))


def test_without_the_refitting_peers_every_other_method_scores_the_same() -> None:
    whole = evaluated("separated", 15, SEED)
    shared = evaluate_set("separated", 15, SEED, own_fits=False)
    assert shared["bic"] == shared["prediction_strength"] == {}
    assert [m.name for m in methods_of([shared])] == [m.name for m in methods_for(False)]
    assert {"GMM BIC", "prediction strength (0.8)"} == {
        m.name for m in methods_of([whole]) if m not in methods_for(False)
    }
    chosen = {r["method"]: r["chosen_k"] for r in outcomes([whole], METHODS)}
    assert all(
        chosen[r["method"]] == r["chosen_k"] for r in outcomes([shared], methods_of([shared]))
    )


def separation_by_hand(rows: np.ndarray, labels: np.ndarray) -> float:
    """The closest planted pair's distance, computed apart from the benchmark: every segment's
    nearest by centre, scipy's Mahalanobis distance with the pair's pooled covariance."""
    segments = sorted(set(labels.tolist()) - {NOISE_LABEL})
    centres = {s: rows[labels == s].mean(axis=0) for s in segments}
    distances = []
    for s in segments:
        nearest = min((t for t in segments if t != s), key=lambda t: norm(centres[s] - centres[t]))
        pooled = np.vstack([rows[labels == u] - centres[u] for u in (s, nearest)])
        inverse = np.linalg.inv(np.cov(pooled.T))
        distances.append(mahalanobis(centres[s], centres[nearest], inverse))
    return min(distances)


def test_the_planted_separation_is_the_closest_pair_in_within_segment_spreads() -> None:
    # Three segments stretched along the first feature (spread 5) and round in the others: A and
    # B are 3 apart along the second feature, C far off; noise rows are no segment.
    rng = np.random.default_rng(5)
    spread = np.array([5.0, 1.0, 1.0])
    rows = np.vstack(
        [
            rng.normal(size=(400, 3)) * spread,
            rng.normal(size=(300, 3)) * spread + [0.0, 3.0, 0.0],
            rng.normal(size=(200, 3)) * spread + [0.0, 40.0, 0.0],
            rng.uniform(-30.0, 30.0, size=(40, 3)),
        ]
    )
    labels = np.repeat([0, 1, 2, NOISE_LABEL], [400, 300, 200, 40])
    separation = nearest_planted_separation(rows, labels)
    assert separation == pytest.approx(separation_by_hand(rows, labels), rel=1e-9)
    # 3 spreads along the round axis, though the centres are 3 apart in raw units either way.
    assert separation == pytest.approx(3.0, abs=0.25)
    kept = labels != NOISE_LABEL
    assert nearest_planted_separation(rows[kept], labels[kept]) == separation
    # With A and B one segment, the closest pair is that segment and C, far apart.
    assert nearest_planted_separation(rows, np.where(labels == 1, 0, labels)) > 10.0
    assert nearest_planted_separation(rows, np.where(kept, 0, NOISE_LABEL)) is None


def test_every_record_keeps_its_planted_separation() -> None:
    record = evaluated("uneven", 16, UNEVEN_SEED)
    scaled, labels = _evaluation_sample(planted_set("uneven", 16, UNEVEN_SEED), UNEVEN_SEED)
    assert record["planted_separation"] == pytest.approx(separation_by_hand(scaled, labels))
    assert evaluated("none", 2, SEED)["planted_separation"] is None


def gain_by_hand(first: np.ndarray, second: np.ndarray) -> float:
    """Two Gaussians' BIC gain over one per customer, computed apart from the benchmark with
    scipy's densities: the two are the labels' own fits (their shares and means, and a
    covariance each or the pooled one, whichever gives the lower BIC)."""
    both = np.vstack([first, second])
    rows, features = both.shape
    one = -2 * multivariate_normal(both.mean(axis=0), np.cov(both.T, bias=True)).logpdf(both).sum()
    one += (features + features * (features + 1) / 2) * np.log(rows)
    weights = np.array([len(first), len(second)]) / rows
    within = np.vstack([side - side.mean(axis=0) for side in (first, second)])
    shared = np.cov(within.T, bias=True)
    bics = []
    for covariances, parameters in (
        ([np.cov(side.T, bias=True) for side in (first, second)], features * (features + 1)),
        ([shared, shared], features * (features + 1) / 2),
    ):
        density = sum(
            weight * multivariate_normal(side.mean(axis=0), covariance).pdf(both)
            for weight, side, covariance in zip(weights, (first, second), covariances, strict=True)
        )
        bics.append(-2 * np.log(density).sum() + (2 * features + parameters + 1) * np.log(rows))
    return float((one - min(bics)) / rows)


def test_the_planted_pair_gain_is_two_gaussians_by_bic_on_the_closest_pair() -> None:
    rng = np.random.default_rng(9)
    wide = rng.normal(size=(300, 3)) * [3.0, 1.0, 1.0]
    narrow = rng.normal(size=(150, 3)) * 0.5 + [0.0, 30.0, 0.0]
    far = rng.normal(size=(200, 3)) + np.array([0.0, 200.0, 0.0])
    noise = rng.uniform(-50.0, 250.0, size=(30, 3))
    rows = np.vstack([wide, narrow, far, noise])
    labels = np.repeat([0, 1, 2, NOISE_LABEL], [300, 150, 200, 30])
    gain = nearest_planted_pair_gain(rows, labels, SEED)
    # The closest pair's gain, at the labels' own fits, and clearly above 0.
    assert gain == pytest.approx(gain_by_hand(wide, narrow), rel=1e-6)
    assert gain > 1.0
    kept = labels != NOISE_LABEL
    assert nearest_planted_pair_gain(rows[kept], labels[kept], SEED) == gain
    assert nearest_planted_pair_gain(rows, np.where(kept, 0, NOISE_LABEL), SEED) is None


@pytest.mark.parametrize("distance", [2.5, 3.0, 4.0])
def test_the_planted_pair_gain_of_two_touching_segments_of_one_shape(distance: float) -> None:
    # Two round segments of one spread: the pooled covariance is the better model of the two,
    # and the gain is the labels' own, not a mixture refitted away from them.
    rng = np.random.default_rng(int(distance * 10))
    first = rng.normal(size=(500, 4))
    second = rng.normal(size=(200, 4)) + np.array([distance, 0.0, 0.0, 0.0])
    rows, labels = np.vstack([first, second]), np.repeat([0, 1], [500, 200])
    assert nearest_planted_pair_gain(rows, labels, SEED) == pytest.approx(
        gain_by_hand(first, second), rel=1e-6
    )


def test_the_planted_pair_gain_measures_a_large_pair_on_the_split_tests_sample() -> None:
    rng = np.random.default_rng(13)
    first = rng.normal(size=(6000, 3))
    second = rng.normal(size=(1500, 3)) + np.array([3.0, 0.0, 0.0])
    rows, labels = np.vstack([first, second]), np.repeat([0, 1], [6000, 1500])
    assert nearest_planted_pair_gain(rows, labels, SEED) == pytest.approx(
        gain_by_hand(*pair_sample(first, second, SEED)), rel=1e-6
    )


def test_a_planted_segment_of_fewer_customers_than_features_has_a_gain() -> None:
    rng = np.random.default_rng(14)
    rows = np.vstack([rng.normal(size=(200, 6)), rng.normal(size=(3, 6)) + 8.0])
    gain = nearest_planted_pair_gain(rows, np.repeat([0, 1], [200, 3]), SEED)
    assert gain is not None
    assert np.isfinite(gain)


def test_one_gaussian_cut_in_two_or_two_that_nearly_coincide_are_not_two_by_bic() -> None:
    rng = np.random.default_rng(10)
    cloud = rng.normal(size=(800, 3))
    # A cloud cut through its centre, as K-Means at one k too many cuts a segment.
    assert nearest_planted_pair_gain(cloud, (cloud[:, 0] > 0).astype(int), SEED) < 0.0
    # Two segments one spread apart: their mixture is one Gaussian to BIC.
    close = np.vstack([cloud[:400], cloud[400:] + np.array([1.0, 0.0, 0.0])])
    assert nearest_planted_pair_gain(close, np.repeat([0, 1], 400), SEED) < 0.0
    # Four spreads apart they are two.
    apart = np.vstack([cloud[:400], cloud[400:] + np.array([4.0, 0.0, 0.0])])
    assert nearest_planted_pair_gain(apart, np.repeat([0, 1], 400), SEED) > 0.0


def test_every_record_keeps_its_planted_pair_gain() -> None:
    record = evaluated("uneven", 16, UNEVEN_SEED)
    scaled, labels = _evaluation_sample(planted_set("uneven", 16, UNEVEN_SEED), UNEVEN_SEED)
    assert record["planted_pair_gain"] == nearest_planted_pair_gain(scaled, labels, UNEVEN_SEED)
    assert evaluated("none", 2, SEED)["planted_pair_gain"] is None


@pytest.mark.parametrize(
    ("split", "values", "columns"),
    [
        (
            RECOVERABLE_SPLITS[0],
            (4.0, SEPARATED_SPREADS, 2.0),
            "| uneven at least 3 spreads (2) | uneven under 3 spreads (1) |",
        ),
        (
            RECOVERABLE_SPLITS[1],
            (0.3, 0.001, 0.0),
            "| uneven two by BIC (2) | uneven one as good (1) |",
        ),
    ],
)
def test_the_split_tables_split_the_recoverable_uneven_sets_in_two(
    split: RecoverableSplit, values: tuple[float, float, float], columns: str
) -> None:
    def row(family: str, method: str, value: float | None, exact: bool) -> dict[str, Any]:
        return {
            "family": family,
            "method": method,
            split.key: value,
            "recoverable": True,
            "exact": exact,
        }

    methods = METHODS[:2]
    first, second = (method.name for method in methods)
    holds, edge, fails = values
    rows = [
        row("uneven", first, holds, True),
        row("uneven", first, edge, True),
        row("uneven", first, fails, False),
        row("uneven", second, holds, False),
        row("uneven", second, edge, True),
        row("uneven", second, fails, True),
        row("separated", first, 9.0, False),
        row("separated", second, 9.0, False),
    ]
    table = split_table(rows, methods, split)
    assert columns in table
    assert f"| {first} | 100.0 | 0.0 |" in table
    assert f"| {second} | 50.0 | 100.0 |" in table
    assert "uneven_mixed" not in table
    # Rows from a results file without the value, or not recoverable, give no table.
    older = [r | {split.key: None} for r in rows]
    assert split_table(older, methods, split) == ""
    assert split_table([r | {"recoverable": False} for r in rows], methods, split) == ""
