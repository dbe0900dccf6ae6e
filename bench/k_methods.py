"""The published ways of choosing k, implemented on numpy and scikit-learn for the benchmark.

Each method sees the same standard-scaled rows and the same K-Means fits for k = 1..10 (the
fits training itself makes), and answers one k. k = 1 means "no clear segments"; only the
methods that can say so (gap statistic, BIC, prediction strength) ever answer it. Time is CPU
time on one thread (steady on a shared machine), and a method that reads the shared K-Means
fits pays for them.

References (full citations in docs/k-selection.md): Rousseeuw 1987 (silhouette); Calinski and
Harabasz 1974; Davies and Bouldin 1979; Satopaa et al. 2011 (kneedle); Tibshirani, Walther and
Hastie 2001 (gap statistic, 1-SE rule); Schwarz 1978 (BIC); Tibshirani and Walther 2005
(prediction strength).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from sklearn.utils import check_random_state

from segmentation.metadata import KScore, StructureTest
from training import choose_k, split_test, structure
from training.fit import N_INIT, SILHOUETTE_MAX_ROWS, single_threaded

KNEEDLE_SENSITIVITY = 1.0


@dataclass
class Curves:
    """K-Means fits for every k from 1 to ``high`` on one matrix, and the criteria on them."""

    scaled: np.ndarray
    seed: int
    ks: list[int]
    inertia: dict[int, float] = field(default_factory=dict)
    labels: dict[int, np.ndarray] = field(default_factory=dict)
    silhouette: dict[int, float] = field(default_factory=dict)
    calinski_harabasz: dict[int, float] = field(default_factory=dict)
    davies_bouldin: dict[int, float] = field(default_factory=dict)
    gap: dict[int, float] = field(default_factory=dict)
    gap_error: dict[int, float] = field(default_factory=dict)
    bic: dict[int, float] = field(default_factory=dict)
    prediction_strength: dict[int, float] = field(default_factory=dict)
    structure_test: StructureTest | None = None  # training's own test, as --k auto runs it
    # The deepest density valley of a segment at k that K-Means at k + 1 splits in two.
    split_valley: dict[int, float] = field(default_factory=dict)
    # Whether K-Means at k + 1 divides a segment at k into two distinct ones (the split test).
    split_distinct: dict[int, bool] = field(default_factory=dict)
    # The shallowest valley between a segment at k and its nearest one, over all segments (the
    # second round's plateau step).
    pair_valley: dict[int, float] = field(default_factory=dict)
    # Whether every segment at k and its nearest one are two Gaussians with light tails, by an
    # absolute limit (the fourth and fifth rounds' plateau step; the key keeps its name so that
    # their results files still score that rule; the current test is
    # ``split_test.PairTestsByK.apart``).
    pairs_distinct: dict[int, bool] = field(default_factory=dict)
    # Whether they are two Gaussians of any weights on the line through their centres: tails no
    # heavier than the fitted mixture's own (the sixth round's plateau step).
    pairs_distinct_any_weights: dict[int, bool] = field(default_factory=dict)
    # Whether every segment at k has customers enough to judge and it and its nearest one are
    # two Gaussians of any weights and spreads on their discriminant as K-Means cut them (the
    # seventh round's plateau step: ``split_test.PairTest.apart_as_cut``).
    pairs_apart: dict[int, bool] = field(default_factory=dict)
    # The same, a pair without clear evidence measured again on its customers regrouped by a
    # two-Gaussian mixture (the ninth round's plateau step:
    # ``split_test.PairTest.apart_regrouped``).
    pairs_apart_regrouped: dict[int, bool] = field(default_factory=dict)
    # The same, a pair with clear evidence also apart when its tails are no heavier than two
    # Gaussians of the groups' own spreads give (the plateau step since the tenth round, as
    # training runs it: ``split_test.PairTestsByK.apart``).
    pairs_apart_own_spreads: dict[int, bool] = field(default_factory=dict)
    # Whether some segment at k and its nearest one are one Gaussian cut in two: no gain for two
    # Gaussians, as cut or regrouped (the eleventh round's step back from the vote's k:
    # ``split_test.PairTestsByK.one_too_many``).
    pairs_one_gaussian: dict[int, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # The gap statistic's scan, shared by the gap method and training's structure test.
    gap_scan: structure.GapStatistic | None = None


def kmeans_curves(scaled: np.ndarray, seed: int, high: int) -> Curves:
    curves = Curves(scaled, seed, list(range(1, high + 1)))
    clock = _Clock(curves.seconds)
    with clock("silhouette"):
        seen, distances = silhouette_distances(scaled, seed)
    for k in curves.ks:
        with clock("fit"), single_threaded():
            model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(scaled)
        labels = np.asarray(model.labels_)
        curves.labels[k], curves.inertia[k] = labels, float(model.inertia_)
        if k == 1:
            continue
        with clock("silhouette"):
            curves.silhouette[k] = float(
                silhouette_score(distances, labels[seen], metric="precomputed")
            )
        with clock("calinski_harabasz"):
            curves.calinski_harabasz[k] = float(calinski_harabasz_score(scaled, labels))
        with clock("davies_bouldin"):
            curves.davies_bouldin[k] = float(davies_bouldin_score(scaled, labels))
    return curves


def silhouette_distances(scaled: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows training's silhouette scores and their pairwise distances, computed once for
    every k: the rows ``silhouette_score(..., sample_size, random_state=seed)`` draws (all of
    them up to ``SILHOUETTE_MAX_ROWS``), so each k's score is the one training computes, to the
    last bit, at about a third of the cost of recomputing the distances for each k."""
    rows = len(scaled)
    seen = (
        check_random_state(seed).permutation(rows)[:SILHOUETTE_MAX_ROWS]
        if rows > SILHOUETTE_MAX_ROWS
        else np.arange(rows)
    )
    return seen, pairwise_distances(scaled[seen])


# -- methods that read the shared curves ------------------------------------------------------


def by_silhouette(curves: Curves) -> int:
    return max(curves.silhouette, key=lambda k: curves.silhouette[k])


def by_calinski_harabasz(curves: Curves) -> int:
    return max(curves.calinski_harabasz, key=lambda k: curves.calinski_harabasz[k])


def by_davies_bouldin(curves: Curves) -> int:
    return min(curves.davies_bouldin, key=lambda k: curves.davies_bouldin[k])


def by_kneedle(curves: Curves, sensitivity: float = KNEEDLE_SENSITIVITY) -> int:
    """Satopaa et al.'s kneedle on the inertia curve from k = 1, offline, first knee found.

    Normalised to the unit square, the decreasing convex curve's difference from the chord
    ``1 - x`` peaks at the knee; a local maximum counts once the difference then drops by
    ``sensitivity`` times the mean step in x. With no confirmed knee, the largest difference.
    """
    ks = np.array(curves.ks, dtype=float)
    y = np.array([curves.inertia[k] for k in curves.ks])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    span = y.max() - y.min()
    y = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    difference = (1.0 - x) - y
    threshold_step = sensitivity * float(np.mean(np.diff(x)))
    peak: int | None = None
    threshold = 0.0
    for i in range(1, len(difference) - 1):
        if difference[i] >= difference[i - 1] and difference[i] >= difference[i + 1]:
            peak, threshold = i, float(difference[i]) - threshold_step
        elif peak is not None and difference[i] < threshold:
            return int(ks[peak])
    if peak is not None and difference[-1] < threshold:
        return int(ks[peak])
    return int(ks[int(np.argmax(difference))])


def by_previous_rule(curves: Curves) -> int:
    """The rule ``--k auto`` used before issue 11: rank sum of silhouette and knee distance."""
    ks = [k for k in curves.ks if k >= 2]
    y = np.array([curves.inertia[k] for k in ks])
    x = (np.array(ks, dtype=float) - ks[0]) / (ks[-1] - ks[0])
    span = y.max() - y.min()
    y = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    knee = dict(zip(ks, (1.0 - x) - y, strict=True))

    def ranks(values: dict[int, float]) -> dict[int, int]:
        order = sorted(values, key=lambda k: -values[k])
        return {k: rank for rank, k in enumerate(order, start=1)}

    silhouette_rank, knee_rank = ranks(curves.silhouette), ranks(knee)
    return min(ks, key=lambda k: (silhouette_rank[k] + knee_rank[k], -curves.silhouette[k], k))


# -- methods with fits of their own, on the structure sample (training.structure) -----------


def structure_curves(curves: Curves, own_fits: bool = True) -> None:
    """Gap statistic, mixture BIC and prediction strength, as training computes them; without
    ``own_fits``, the gap statistic alone (BIC and prediction strength as methods refit models
    that nothing else reads: about a third of the benchmark's time).

    The gap statistic runs as training's structure test runs it, up to the k its 1-SE rule
    needs (one past where it stops), reusing the K-Means fits of the curves when it sees every
    row; ``project_structure_test`` then reads the same scan instead of refitting the same
    reference sets. Its 1-SE choice is the same as from every k's gap (``gap_choice`` stops at
    the first k where the rule does), so the stored curve ends there.
    """
    sample = structure.structure_sample(curves.scaled, curves.seed)
    clock = _Clock(curves.seconds)
    with clock("gap"):
        observed = curves.inertia if sample is curves.scaled else {}
        curves.gap_scan = structure.GapStatistic(sample, curves.seed, observed=observed)
        curves.gap_scan.choice(max(curves.ks))
        curves.gap, curves.gap_error = dict(curves.gap_scan.gap), dict(curves.gap_scan.error)
    if not own_fits:
        return
    with clock("bic"):
        curves.bic = structure.mixture_bic(sample, curves.ks, curves.seed)
    with clock("prediction_strength"):
        curves.prediction_strength = structure.prediction_strength(
            sample, [k for k in curves.ks if k >= 2], curves.seed
        )


def project_structure_test(curves: Curves) -> None:
    """Training's structure test exactly as ``--k auto`` runs it, timed on its own."""
    with _Clock(curves.seconds)("structure_test"):
        # As select_k does: the K-Means fits of the curves (full K-Means, this seed) are reused,
        # and so is the gap statistic's scan of ``structure_curves`` (timed there as "gap").
        curves.structure_test = choose_k.examine_structure(
            curves.scaled,
            [k for k in curves.ks if k >= 2],
            curves.seed,
            inertia=curves.inertia,
            gap=curves.gap_scan,
        )


def split_curves(curves: Curves) -> None:
    """The split test's evidence between every pair of adjacent k, from the shared fits."""
    with _Clock(curves.seconds)("split_test"):
        by_k = split_test.PairTestsByK(curves.scaled, curves.labels, curves.seed)
        for k in curves.ks:
            if k >= 2 and k + 1 in curves.labels:
                splits = split_test.clean_splits(
                    curves.scaled, curves.labels[k], curves.labels[k + 1], curves.seed
                )
                curves.split_valley[k] = split_test.deepest_valley(splits)
                curves.split_distinct[k] = split_test.any_distinct(splits)
            if k >= 2:
                # Each nearest pair measured once on the line through the centres for the
                # earlier rules' evidence: the second round's shallowest valley, the fifth's
                # absolute tails, the sixth's tails against the mixture's own.
                pairs = [
                    split_test.separation_of(first, second, curves.seed)
                    for first, second in split_test.nearest_pair_groups(
                        curves.scaled, curves.labels[k]
                    )
                ]
                curves.pair_valley[k] = max((pair.valley for pair in pairs), default=0.0)
                curves.pairs_distinct[k] = all(pair.two_gaussians for pair in pairs)
                curves.pairs_distinct_any_weights[k] = all(
                    pair.two_gaussians_of_any_weights for pair in pairs
                )
                # The seventh and ninth rounds' tests and the current one, as training runs it
                # (``split_test.PairTestsByK``), from the same measures.
                judged = split_test.every_segment_judged(curves.labels[k], k)
                tests = by_k.tests(k)
                curves.pairs_apart[k] = judged and all(test.apart_as_cut for test in tests)
                curves.pairs_apart_regrouped[k] = judged and all(
                    test.apart_regrouped for test in tests
                )
                curves.pairs_apart_own_spreads[k] = by_k.apart(k)
                curves.pairs_one_gaussian[k] = by_k.one_too_many(k)


# The second round's plateau step asked every nearest pair for a valley below this share of
# the lower peak; the fourth round asks for two Gaussians instead (``training.split_test``).
SECOND_ROUND_PAIR_VALLEY = 0.8
# The Calinski-Harabasz plateau of the first six rounds; the seventh widened it with its pair
# test (``split_test.CH_PLATEAU``).
EARLIER_PLATEAU = 0.985


def by_vote_rule(curves: Curves) -> int:
    """``--k auto``: the consensus of silhouette, Calinski-Harabasz, Davies-Bouldin and the gap
    statistic; 1 when training's structure test finds no clear segments."""
    table = [
        KScore(
            k=k,
            inertia=curves.inertia[k],
            silhouette=curves.silhouette[k],
            calinski_harabasz=curves.calinski_harabasz[k],
            davies_bouldin=curves.davies_bouldin[k],
            knee_distance=None,
        )
        for k in curves.ks
        if k >= 2
    ]
    _, _, chosen = choose_k.decide(table, curves.structure_test)
    return 1 if chosen is None else chosen


def by_project_rule(curves: Curves) -> int:
    """``--k auto``: the vote, one less where it cuts a segment in two, then more segments where
    they stand apart (the split test's walk and its step along the Calinski-Harabasz plateau)."""
    return _vote_then_split(
        curves,
        curves.split_distinct,
        curves.pairs_apart_own_spreads,
        one_gaussian=curves.pairs_one_gaussian,
    )


def by_pairs_of_own_spreads(curves: Curves) -> int:
    """The rule of issue 24's tenth round: the vote's k taken as it is, and a pair with a side
    too small to judge read against two Gaussians of its sides' own spreads."""
    return _vote_then_split(curves, curves.split_distinct, curves.pairs_apart_own_spreads)


def by_pairs_regrouped(curves: Curves) -> int:
    """The rule of issue 24's ninth round: pairs without clear evidence regrouped, and tails
    read against a common variance or each side's own shape only."""
    return _vote_then_split(curves, curves.split_distinct, curves.pairs_apart_regrouped)


def by_pairs_as_cut(curves: Curves) -> int:
    """The rule of issue 24's seventh and eighth rounds: the plateau step's pairs on their
    discriminant as K-Means cut them, never regrouped."""
    return _vote_then_split(curves, curves.split_distinct, curves.pairs_apart)


def by_pairs_on_centre_line(curves: Curves) -> int:
    """The rule of issue 24's sixth round: the plateau step's pairs on the line through their
    centres, tails no heavier than the fitted mixture's, on the narrower plateau."""
    return _vote_then_split(
        curves, curves.split_distinct, curves.pairs_distinct_any_weights, plateau=EARLIER_PLATEAU
    )


def by_light_tailed_pairs(curves: Curves) -> int:
    """The rule of issue 24's fourth and fifth rounds: the plateau step's pairs must be light-
    tailed on their line by an absolute limit, which their weights alone can break."""
    return _vote_then_split(
        curves, curves.split_distinct, curves.pairs_distinct, plateau=EARLIER_PLATEAU
    )


def by_valleys(curves: Curves) -> int:
    """The rule of issue 24's second and third rounds: the vote, the split walk and the plateau
    step, on density valleys alone."""
    apart = {k: v < SECOND_ROUND_PAIR_VALLEY for k, v in curves.pair_valley.items()}
    return _vote_then_split(curves, _valley_splits(curves), apart, plateau=EARLIER_PLATEAU)


def _vote_then_split(
    curves: Curves,
    divides: dict[int, bool],
    pairs_apart: dict[int, bool],
    *,
    one_gaussian: dict[int, bool] | None = None,
    plateau: float = split_test.CH_PLATEAU,
) -> int:
    voted = by_vote_rule(curves)
    if voted == 1:
        return 1
    return split_test.split_count(
        voted,
        max(curves.ks),
        divides,
        lambda k: pairs_apart.get(k, False),
        curves.calinski_harabasz,
        plateau,
        None if one_gaussian is None else lambda k: one_gaussian.get(k, False),
    )


def by_split_walk(curves: Curves) -> int:
    """The rule of issue 24's first round: the vote, then the split walk on valleys alone."""
    voted = by_vote_rule(curves)
    if voted == 1:
        return 1
    return split_test.split_k(voted, max(curves.ks), _valley_splits(curves))


def _valley_splits(curves: Curves) -> dict[int, bool]:
    return {k: v < split_test.VALLEY_RATIO for k, v in curves.split_valley.items()}


def by_gap(curves: Curves) -> int:
    return structure.gap_choice(curves.gap, curves.gap_error)


def by_bic(curves: Curves) -> int:
    return min(curves.bic, key=lambda k: curves.bic[k])


def by_prediction_strength(curves: Curves) -> int:
    """The largest k whose strength reaches 0.8; 1 (no clear segments) when none does."""
    strength = curves.prediction_strength
    threshold = structure.PREDICTION_STRENGTH_THRESHOLD
    return max([1, *[k for k in strength if strength[k] >= threshold]])


class _Clock:
    def __init__(self, totals: dict[str, float]) -> None:
        self.totals = totals

    def __call__(self, name: str) -> _Timer:
        return _Timer(self.totals, name)


class _Timer:
    def __init__(self, totals: dict[str, float], name: str) -> None:
        self.totals, self.name = totals, name

    def __enter__(self) -> None:
        self.started = time.process_time()

    def __exit__(self, *_: object) -> None:
        elapsed = time.process_time() - self.started
        self.totals[self.name] = self.totals.get(self.name, 0.0) + elapsed
