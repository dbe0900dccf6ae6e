"""Part of step 2 of training: does a segment at k split into two distinct ones at k + 1?

The global criteria the vote combines (silhouette, Calinski-Harabasz, Davies-Bouldin, the gap
statistic) average over every segment, so when one pair of segments is much closer together
than the rest, they all prefer to merge that pair, though both are clean segments. This test
looks at one pair at a time instead. Between adjacent k it finds the segment at k that K-Means
at k + 1 divides in two (each of the two comes mostly from it, and together they take most of
it) and projects the two onto the line between their centres. Two segments that each hold
together leave one of two marks there: a **valley** in the density at their boundary (its depth
is the density at the floor over the lower of the two peaks beside it; 1 when there is none),
or, when they touch too closely for a valley, a shape that **two Gaussians** at different places
fit clearly better than one (the gain in BIC per customer of a two-component mixture with a
common variance, and strong evidence in all, as X-means tests a split, Pelleg and Moore 2000)
without heavy tails (a segment with a trail of outliers is fitted better by two Gaussians too,
but its tails show in its kurtosis). A cloud cut in two has its peak at the cut and is one
Gaussian along the line. A valley counts only where two Gaussians fit the pair better than
one (issue 24's fifth round): on a few dozen customers a kernel estimate can dip where there
is no second segment.

It follows Hamerly and Elkan's G-means (2003), which tests each cluster's projection on the axis
of its 2-means split and splits while the test rejects, with these measures in place of their
normality test (which rejects clipped or skewed segments at any size), and it reads the splits
from the same K-Means fits the criteria scored, so the k it adds is one K-Means serves.

That walk stops where K-Means between two k redraws a region instead of dividing one segment.
So a second step looks past it: among the k whose Calinski-Harabasz index is within
``CH_PLATEAU`` of its best (where the global criterion barely minds more segments), it takes
the largest at which every segment and its nearest one are two Gaussians by the same measure
(Hartigan's clusters as separate high-density regions, 1975, asked one pair at a time), and
walks on from there. There the kurtosis is read against that of the fitted mixture (issue 24's
sixth round): a large segment and a small one far apart are heavy-tailed on their line by their
weights alone, and an absolute limit took them for a segment with a halo. Since the seventh
round the plateau step measures each pair on Fisher's discriminant (1936) rather than the line
between the centres (the direction that separates the two best for their shared spread,
cross-fitted on halves of the pair and with a Ledoit-Wolf within-segment covariance, 2004, so
that it does not overfit the customers it measures), also counts a pair each of whose two sides
is shaped like a Gaussian on its own (two segments of unequal spreads are heavy-tailed together;
a segment with a halo, cut in two, keeps the halo in both halves' tails), and takes a k only
when every segment has customers enough to judge. With that test the plateau widens to within
``CH_PLATEAU`` of the best index. Since the ninth round a pair that shows no clear evidence of
two Gaussians as K-Means cut it is measured again with its customers regrouped by a two-Gaussian
mixture with a shared covariance (``pair_test_of``): K-Means' boundary between two touching
segments of unequal sizes or a shared stretch is not theirs. Since the tenth round a pair with
clear evidence also passes when its tails are no heavier than two Gaussians of the groups' own
spreads give and each side with customers enough to judge is shaped like a Gaussian: a small,
wide segment beside a large, narrow one is heavy-tailed against a common variance, and too small
for its own shape to be read. Since the eleventh round the count starts one below the vote's k
when at that k some segment and its nearest one are fitted better by one Gaussian than by two on
their discriminant (a BIC gain below 0, as cut and regrouped), the mark of one segment cut in two,
which the global criteria can prefer when the segments differ in spread; unless K-Means at the
next k divides a segment into two distinct ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.covariance import ledoit_wolf
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

# A child at k + 1 belongs to a parent at k when this share of its customers came from it, and
# the two children together must hold this share of the parent's customers: a split "up to a
# small share", since K-Means at k + 1 also moves a few customers between the other segments.
# 0.7 since the second round of issue 24 (0.8 before; 0.6 made a segment of noise on seed 2026).
PARENT_SHARE = 0.7
# The valley must be this deep (density at its floor over the lower peak beside it) to count;
# chosen on the development seed's sets (docs/k-selection-rounds.md): 0.45 and above cost a set of
# the existing families, 0.35 and below found fewer of the uneven ones.
VALLEY_RATIO = 0.4
# The plateau step (``split_count``): a k whose Calinski-Harabasz index is at least this share of
# the best (and, since the fourth round, whose nearest pairs are all two Gaussians). 0.985 from the
# second round to the sixth, chosen on the development seeds 2026 and 3819
# (docs/k-selection-rounds.md), where below 0.976 a segment of noise passed the pair test. With the
# seventh round's pair test (on the discriminant, every segment of at least ``MIN_CHILD_ROWS``) the
# seven development seeds gave the same answers from 0.935 to 0.94; 0.945 found fewer uneven sets,
# 0.93 cost a mixed and a noise set.
CH_PLATEAU = 0.94
# Two Gaussians (issue 24's fourth round): the two-component mixture must lower the BIC by more
# than this per customer, an effect size rather than a significance level, since at thousands of
# customers BIC prefers two components for any slight departure from one Gaussian; and the pair
# must not be heavy-tailed (excess kurtosis of the pair on its line below this), as a segment with
# a halo of noise is. Chosen on the development seeds 2026, 3819, 52953 and 7056
# (docs/k-selection-rounds.md): gains of 0.04 and 0.05 gave the same answers, 0.03 cost an
# overlapping set of the existing families and a gain above 0 seven (separated and overlapping sets
# of thousands of rows), 0.06 and above found fewer uneven ones; kurtosis limits of 0.75 and above
# cost an overlapping set, and with no limit the noise of the noise and mixed families made
# segments. The plateau step's pair test (sixth round) asks the same limit of the kurtosis above
# the fitted mixture's own; on the six development seeds 0.3 found fewer uneven_mixed sets and 0.75
# cost anisotropic and overlapping ones, gains from 0.03 to 0.05 gave the same answers, and the
# split walk with the relative limit made segments of noise (noise and mixed sets).
MIXTURE_GAIN = 0.04
TAIL_KURTOSIS = 0.5
# The seventh round's second way for a pair to pass the plateau step: each side's own excess
# kurtosis within this of a Gaussian's. On the seven development seeds limits from 0.6 to 1.1
# gave the same answers, 0.5 found fewer uneven_mixed sets and 1.25 cost a noise set; a trail of
# outliers cut off a segment (flat, about -1.2) is outside it when it has the customers to be
# judged (below). The tenth round's third way reuses this limit, ``TAIL_KURTOSIS`` and
# ``SIDE_MIN_ROWS`` as they are, with no sweep of its own beyond the kurtosis limit (0.3 to 1.0
# gave 4 to 6 more recoverable uneven_mixed sets on the ten seeds, no other answer changed).
SIDE_KURTOSIS = 0.75
# And only where each side has this many customers measured: a sample's excess kurtosis has a
# standard error of about (24 / n) ** 0.5, near the limit itself on 50 customers (on 10, a
# Gaussian side fails it about half the time and a uniform one passes a fifth of the time). On
# the development seeds 30, 50 and 100 gave the same answers.
SIDE_MIN_ROWS = 100
# And the evidence in all must be strong: a BIC difference above 6 (Kass and Raftery 1995), so
# that a few dozen customers do not make a segment on a per-customer gain alone. It changed no
# answer on the development seeds; on the classic study with age (200 customers) it is what
# keeps k = 6, the silhouette's peak: K-Means at 7 divides a segment of 54 into 34 and 20 with
# a gain of 0.097 per customer, 5.2 in all.
MIXTURE_EVIDENCE = 6.0
MIN_CHILD_ROWS = 10
# Added to a covariance before it is inverted to start a mixture, as scikit-learn's own
# ``reg_covar`` is: a group of a few customers, or a feature with no spread, is singular.
COVARIANCE_RIDGE = 1e-6
# The customers of a pair measured, drawn from each side in proportion to its size (since the
# sixth round; a cap of half of it per side before).
SPLIT_MAX_ROWS = 4_000
GRID_POINTS = 128


@dataclass(frozen=True, kw_only=True)
class Shape:
    """How two groups of customers are spread along a line: the one through their centres (the
    split walk's) or their discriminant (the plateau step's)."""

    gain: float  # BIC of one Gaussian minus BIC of two, per customer: above 0, two fit better
    rows: int  # customers the gain was measured on
    kurtosis: float  # excess kurtosis of both groups together: 0 for one Gaussian
    # The excess kurtosis of the fitted two-Gaussian mixture itself: what two Gaussians with
    # these weights and this distance have without any tails of their own (high for a large
    # and a small one far apart, below 0 for two of a size).
    mixture_kurtosis: float
    # The larger departure of either group's own excess kurtosis on the line (each about its own
    # mean) from a Gaussian's 0: heavy tails above, a flat spread (a uniform's is -1.2) below;
    # infinite when a side has fewer than ``SIDE_MIN_ROWS`` customers measured (at most
    # ``SPLIT_MAX_ROWS`` of a pair are, each side in its share) or nothing was measured.
    side_kurtosis: float
    # Issue 24's tenth round. The excess kurtosis of two Gaussians with each group's own share,
    # mean and variance on the line (their moments, not fitted): what a narrow segment and a wide
    # one have together without tails of their own, which a common variance cannot give.
    spreads_mixture_kurtosis: float = 0.0
    # The larger departure from a Gaussian's 0 of the sides that have ``SIDE_MIN_ROWS`` customers
    # measured; infinite when neither has (``side_kurtosis`` asks it of both sides).
    judged_side_kurtosis: float = np.inf

    @property
    def mixture_fits(self) -> bool:
        """Two Gaussians fit clearly better than one, per customer and in all."""
        return self.gain > MIXTURE_GAIN and self.gain * self.rows > MIXTURE_EVIDENCE

    @property
    def two_gaussians(self) -> bool:
        """The split walk's measure: the mixture fits, and the pair is not heavy-tailed."""
        return self.mixture_fits and self.kurtosis < TAIL_KURTOSIS

    @property
    def two_gaussians_of_any_weights(self) -> bool:
        """The sixth round's plateau measure: the mixture fits, and the pair has no heavier
        tails than that mixture. A large segment and a small one far apart are heavy-tailed on
        their line by their weights alone; a segment and its halo of noise have tails beyond
        what any two Gaussians give."""
        return self.mixture_fits and self.kurtosis - self.mixture_kurtosis < TAIL_KURTOSIS

    @property
    def two_gaussians_of_any_spreads(self) -> bool:
        """The plateau step's measure since the seventh round: as ``two_gaussians_of_any_weights``,
        or the mixture fits and each side is shaped like a Gaussian on its own. Two segments of
        unequal spreads are heavier-tailed together than a mixture with a common variance, though
        each is a clean segment; a segment with a halo, cut in two, keeps the halo in the halves'
        tails, and a trail of outliers cut off a segment is flat, not a Gaussian."""
        return self.two_gaussians_of_any_weights or (
            self.mixture_fits and self.side_kurtosis < SIDE_KURTOSIS
        )

    @property
    def two_gaussians_of_own_spreads(self) -> bool:
        """The plateau step's third way since the tenth round: the mixture fits, the pair has no
        heavier tails than two Gaussians of the groups' own spreads, and each side with customers
        enough to judge (one at least) is shaped like a Gaussian. It decides only where one side
        is too small to judge: with both judged, ``two_gaussians_of_any_spreads`` already has.
        A small wide segment beside a large narrow one is heavy-tailed against a common variance
        and too small for its own shape to be read; a segment whose own tails are heavy keeps
        them on the large side.

        It does not read the small side's shape, so a piece of a halo or a trail of outliers
        under ``SIDE_MIN_ROWS`` customers passes it as a small wide segment does (the kurtosis
        above the groups' own spreads is a weighted sum of each side's own, and a flat side
        lowers it). What keeps such pieces from counting is the rest of the plateau step: a k is
        taken only when every nearest pair is apart and its Calinski-Harabasz index is on the
        plateau (``tests/training/test_split_test.py`` has a segment with a halo)."""
        return (
            self.mixture_fits
            and self.kurtosis - self.spreads_mixture_kurtosis < TAIL_KURTOSIS
            and self.judged_side_kurtosis < SIDE_KURTOSIS
        )


@dataclass(frozen=True, kw_only=True)
class Separation(Shape):
    """Their shape on the line, and the density valley between them."""

    valley: float  # density at the valley floor over the lower peak; 1.0 with no valley

    @property
    def distinct(self) -> bool:
        # A valley counts unless one Gaussian fits the pair better than two: a kernel estimate
        # on a few dozen customers can dip where there is no second segment.
        return (self.valley < VALLEY_RATIO and self.gain > 0.0) or self.two_gaussians


UNTESTED = Separation(
    gain=0.0, rows=0, kurtosis=0.0, mixture_kurtosis=0.0, side_kurtosis=np.inf, valley=1.0
)


@dataclass(frozen=True)
class Split:
    """The segment ``parent`` at k divided into ``children`` at k + 1, and how they lie."""

    parent: int
    children: tuple[int, int]
    sizes: tuple[int, int]  # customers of the two children among those compared
    separation: Separation

    @property
    def valley(self) -> float:
        return self.separation.valley


def clean_splits(
    rows: np.ndarray, labels: np.ndarray, next_labels: np.ndarray, seed: int
) -> list[Split]:
    """Every segment of ``labels`` (at k) that ``next_labels`` (at k + 1) divides in two."""
    k, following = int(labels.max()) + 1, int(next_labels.max()) + 1
    counts = np.zeros((k, following), dtype=np.int64)
    np.add.at(counts, (labels, next_labels), 1)
    parent_sizes, child_sizes = counts.sum(axis=1), counts.sum(axis=0)
    splits = []
    for parent in range(k):
        children = [
            int(c)
            for c in np.flatnonzero(counts[parent] >= PARENT_SHARE * np.maximum(child_sizes, 1))
            if child_sizes[c] > 0
        ]
        if len(children) < 2:
            continue
        children = sorted(children, key=lambda c: -counts[parent, c])[:2]
        if counts[parent, children].sum() < PARENT_SHARE * parent_sizes[parent]:
            continue
        a, b = children
        sizes = (int(child_sizes[a]), int(child_sizes[b]))
        separation = (
            separation_of(rows[next_labels == a], rows[next_labels == b], seed)
            if min(sizes) >= MIN_CHILD_ROWS
            else UNTESTED
        )
        splits.append(Split(parent, (a, b), sizes, separation))
    return splits


def nearest_pairs(rows: np.ndarray, labels: np.ndarray) -> list[tuple[int, int]]:
    """Each segment at k with its nearest segment (by centre), every pair once."""
    segments = np.unique(labels)
    centres = np.array([rows[labels == s].mean(axis=0) for s in segments])
    gaps = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    np.fill_diagonal(gaps, np.inf)
    return sorted(
        {
            (min(int(segments[i]), int(segments[j])), max(int(segments[i]), int(segments[j])))
            for i, j in enumerate(np.argmin(gaps, axis=1))
        }
    )


def nearest_pair_groups(
    rows: np.ndarray, labels: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The customers of every segment at k and of its nearest one; pairs with a side under
    ``MIN_CHILD_ROWS`` are too small to judge and left out."""
    groups = [(rows[labels == a], rows[labels == b]) for a, b in nearest_pairs(rows, labels)]
    return [pair for pair in groups if min(len(pair[0]), len(pair[1])) >= MIN_CHILD_ROWS]


@dataclass(frozen=True)
class PairTest:
    """The plateau step's measures of a segment and its nearest one: on their discriminant as
    K-Means cut them and, where that shows no clear evidence of two Gaussians, again with their
    customers regrouped by a two-Gaussian mixture (issue 24's ninth round)."""

    as_cut: Shape
    regrouped: Shape | None  # None where not measured, or not regrouped (``regroup``'s reasons)

    @property
    def apart_as_cut(self) -> bool:
        """The seventh round's verdict: two Gaussians of whatever weights and spreads."""
        return self.as_cut.two_gaussians_of_any_spreads

    @property
    def apart_regrouped(self) -> bool:
        """The ninth round's verdict: apart as cut, or two Gaussians of whatever weights and
        spreads once regrouped. A pair whose cut shows evidence but tails beyond it is not
        regrouped: regrouping redraws the boundary of stretched segments cut into pieces until
        their tails pass."""
        return self.apart_as_cut or (
            self.regrouped is not None and self.regrouped.two_gaussians_of_any_spreads
        )

    @property
    def apart(self) -> bool:
        """The plateau step's verdict since the tenth round: the ninth's, or two Gaussians of
        their own spreads as K-Means cut them (``Shape.two_gaussians_of_own_spreads``). Only as
        cut: a pair is regrouped when the cut shows no clear evidence, and on the ten seeds
        measured no regrouped pair passed this way that did not pass before."""
        return self.apart_regrouped or self.as_cut.two_gaussians_of_own_spreads

    @property
    def one_gaussian(self) -> bool:
        """One Gaussian fits the pair better than two (a BIC gain below 0), as K-Means cut it
        and, where it was regrouped, once regrouped: the mark of one segment cut in two (issue
        24's eleventh round), clearer than a mere lack of clear evidence, which two close
        segments also show. A pair with nothing measured (a gain of exactly 0) is not one."""
        gains = [self.as_cut.gain] + ([] if self.regrouped is None else [self.regrouped.gain])
        return max(gains) < 0.0


def nearest_pair_tests(rows: np.ndarray, labels: np.ndarray, seed: int) -> list[PairTest]:
    """The plateau step's measures of every pair ``nearest_pair_groups`` gives."""
    return [
        pair_test_of(first, second, seed) for first, second in nearest_pair_groups(rows, labels)
    ]


def every_segment_judged(labels: np.ndarray, k: int) -> bool:
    """Whether each of the k segments has the ``MIN_CHILD_ROWS`` customers the pair test needs:
    a k with a segment too small to judge is not one whose segments are known to stand apart (on
    the development seeds, such segments of a few noise rows passed the wider plateau untested),
    nor one at which K-Means left a segment empty (fewer distinct customers than k)."""
    return bool(np.bincount(labels, minlength=k).min() >= MIN_CHILD_ROWS)


class PairTestsByK:
    """The plateau step's pair tests of each k, measured once for every question asked of it:
    at the vote's k the step back asks for a pair that is one Gaussian and the plateau step can
    then ask whether every pair is apart (issue 24's eleventh round measured it twice)."""

    def __init__(self, rows: np.ndarray, labels: Mapping[int, np.ndarray], seed: int) -> None:
        self._rows = rows
        self._labels = labels
        self._seed = seed
        self._tests: dict[int, list[PairTest]] = {}

    def tests(self, k: int) -> list[PairTest]:
        """``nearest_pair_tests`` of K-Means' segments at k."""
        if k not in self._tests:
            self._tests[k] = nearest_pair_tests(self._rows, self._labels[k], self._seed)
        return self._tests[k]

    def apart(self, k: int) -> bool:
        """Whether every one of the k segments K-Means was asked for is big enough to judge and
        it and its nearest one are two Gaussians on their discriminant (``PairTest.apart``): of
        whatever weights and spreads (``Shape.two_gaussians_of_any_spreads``) as K-Means cut
        them or, where that shows no clear evidence, once regrouped; or, as cut, of their own
        spreads with a side too small to judge (``Shape.two_gaussians_of_own_spreads``).

        Below the planted number of segments every nearest pair is distinct (a merged pair is
        still apart from the rest); above it, K-Means cuts some segment in two, and that pair is
        one Gaussian. A local criterion, pair by pair, where the global ones average; alone, as
        the largest such k, a per-pair test (the valley test of the first two rounds) made
        segments of noise (docs/k-selection-rounds.md), so ``split_count`` asks it only on the
        Calinski-Harabasz plateau.
        """
        return every_segment_judged(self._labels[k], k) and all(
            pair.apart for pair in self.tests(k)
        )

    def one_too_many(self, k: int) -> bool:
        """Whether some segment at k and its nearest one show the mark of one segment cut in two
        (``PairTest.one_gaussian``): one Gaussian fits them better than two on their
        discriminant. Pairs with a side under ``MIN_CHILD_ROWS`` are not measured, as in the
        plateau step.

        Asked only of the vote's k (``split_count``): the global criteria can prefer a k that
        cuts a segment in two when the data hold many segments of unequal spreads. It is a mark,
        not a proof: two planted segments that one Gaussian fits as well as two show it too (2
        of 358 recoverable sets where the vote was right, on the development seeds).
        """
        return any(pair.one_gaussian for pair in self.tests(k))


def every_pair_distinct(rows: np.ndarray, labels: np.ndarray, seed: int, k: int) -> bool:
    """``PairTestsByK.apart`` of one partition into k segments."""
    return PairTestsByK(rows, {k: labels}, seed).apart(k)


def any_pair_one_gaussian(rows: np.ndarray, labels: np.ndarray, seed: int) -> bool:
    """``PairTestsByK.one_too_many`` of one partition."""
    k = int(labels.max()) + 1
    return PairTestsByK(rows, {k: labels}, seed).one_too_many(k)


def deepest_valley(splits: Sequence[Split]) -> float:
    """The deepest valley of a clean split between k and k + 1 (1.0 when there is none)."""
    return min((split.valley for split in splits), default=1.0)


def any_distinct(splits: Sequence[Split]) -> bool:
    """Whether K-Means at k + 1 divides some segment at k into two distinct ones."""
    return any(split.separation.distinct for split in splits)


def separation_of(first: np.ndarray, second: np.ndarray, seed: int) -> Separation:
    """The two-Gaussian gain, the kurtosis and the valley of two groups on their line."""
    first, second = pair_sample(first, second, seed)
    line = _on_line(first, second)
    shape = _shape(line, len(first) + len(second), seed)
    return Separation(
        gain=shape.gain,
        rows=shape.rows,
        kurtosis=shape.kurtosis,
        mixture_kurtosis=shape.mixture_kurtosis,
        side_kurtosis=shape.side_kurtosis,
        spreads_mixture_kurtosis=shape.spreads_mixture_kurtosis,
        judged_side_kurtosis=shape.judged_side_kurtosis,
        valley=1.0 if line is None else _valley(*line),
    )


def discriminant_shape_of(first: np.ndarray, second: np.ndarray, seed: int) -> Shape:
    """The two-Gaussian gain and the kurtosis of two groups on their discriminant: the plateau
    step's pair test since the seventh round."""
    first, second = pair_sample(first, second, seed)
    return _shape(_on_discriminant(first, second, seed), len(first) + len(second), seed)


def pair_test_of(first: np.ndarray, second: np.ndarray, seed: int) -> PairTest:
    """``discriminant_shape_of``, and where it finds no clear evidence of two Gaussians, the same
    on the pair's customers regrouped (``regroup``).

    K-Means gives each customer to the nearer centre, so where two touching segments differ in
    size or are stretched alike, its boundary is not theirs: it hands the edge of one to the
    other, and the two groups can look like one Gaussian cut in two on their discriminant though
    the segments are two (issue 24's ninth round: several of the misses on its uneven_mixed
    sets). A Gaussian mixture with a shared covariance, started from K-Means' groups, draws the
    boundary for the segments' shared shape and their sizes (Fisher's linear discriminant,
    fitted by EM: Dempster, Laird and Rubin 1977); the round and stretched clouds cut in two
    that the tests and the benchmark measured stayed one Gaussian once regrouped.
    """
    first, second = pair_sample(first, second, seed)
    rows = len(first) + len(second)
    as_cut = _shape(_on_discriminant(first, second, seed), rows, seed)
    regrouped = None if as_cut.mixture_fits else regroup(first, second, seed)
    if regrouped is None:
        return PairTest(as_cut, None)
    return PairTest(as_cut, _shape(_on_discriminant(*regrouped, seed), rows, seed))


def regroup(
    first: np.ndarray, second: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The two groups' customers, each given to the component of a two-Gaussian mixture with a
    shared covariance (started from the groups) more likely to have drawn it.

    None, and the pair is not measured again, when the mixture redraws more than the boundary:
    each regrouped side must take at least ``PARENT_SHARE`` of its customers from a different
    one of the two groups, as a child at k + 1 does from its parent at k (with categorical
    features a mixture can part the pair by a level instead, and that split is not K-Means'
    pair); when a side is left with fewer than ``MIN_CHILD_ROWS``; or when no mixture can be
    fitted (scikit-learn refuses a covariance it cannot invert)."""
    both = np.concatenate([first, second])
    try:
        side = started_mixture(first, second, seed).predict(both)
    except (ValueError, np.linalg.LinAlgError):
        return None
    regrouped = both[side == 0], both[side == 1]
    if min(len(group) for group in regrouped) < MIN_CHILD_ROWS:
        return None
    # Each side's share of customers from the first group, of all it holds.
    from_first = np.array([np.sum(side[: len(first)] == group) for group in (0, 1)])
    shares = from_first / np.array([len(group) for group in regrouped])
    keeps_the_pair = shares[0] >= PARENT_SHARE and 1.0 - shares[1] >= PARENT_SHARE
    swapped = 1.0 - shares[0] >= PARENT_SHARE and shares[1] >= PARENT_SHARE
    return regrouped if keeps_the_pair or swapped else None


def started_mixture(first: np.ndarray, second: np.ndarray, seed: int) -> GaussianMixture:
    """A two-Gaussian mixture with a shared covariance, fitted by EM on both groups from where
    they stand (their shares, means and pooled within-group covariance), so that it refines this
    split rather than finding any two components.

    A categorical feature's 0/1 indicators sum to 1, so the pooled covariance has a direction
    without spread whenever there are two or more: the ridge keeps it invertible, and the
    precision is made exactly symmetric, which scikit-learn checks and an inverse of so
    ill-conditioned a matrix is not to the last bit (that is what stopped training on such
    tables). The ridge is scaled to the features' spread for unscaled input; on standardised
    features and indicators it is ``COVARIANCE_RIDGE``.
    """
    covariance = np.atleast_2d(np.cov(within_deviations(first, second), rowvar=False, bias=True))
    features = covariance.shape[0]
    ridge = COVARIANCE_RIDGE * max(1.0, float(np.trace(covariance)) / features)
    precision = np.linalg.inv(covariance + ridge * np.eye(features))
    both = np.concatenate([first, second])
    with warnings.catch_warnings():
        # A mixture that stops at its iteration limit still gives a usable fit.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            2,
            covariance_type="tied",
            reg_covar=ridge,
            # Every starting value is given, so the start needs no K-Means fit of its own.
            init_params="random_from_data",
            weights_init=np.array([len(first), len(second)]) / len(both),
            means_init=np.array([first.mean(axis=0), second.mean(axis=0)]),
            precisions_init=(precision + precision.T) / 2.0,
            random_state=seed,
        ).fit(both)


def within_deviations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Both groups' customers, each group centred on its own mean: the spread within the pair
    that its pooled covariance is read from, without the distance between the two."""
    return np.concatenate([first - first.mean(axis=0), second - second.mean(axis=0)])


def pair_sample(first: np.ndarray, second: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``SPLIT_MAX_ROWS`` customers of the two groups, each side's share as it is:
    a cap per side would measure a pair of 10,000 and 500 as one of 4 to 1, and its shape on the
    line (the kurtosis above all) with it. A side keeps at least ``MIN_CHILD_ROWS`` customers (all
    it has, if fewer), so that a small segment beside a large one is still there to measure."""
    total = len(first) + len(second)
    if total <= SPLIT_MAX_ROWS:
        return first, second
    rng = np.random.default_rng(seed)
    from_first = round(SPLIT_MAX_ROWS * len(first) / total)
    from_first = min(len(first), max(from_first, MIN_CHILD_ROWS))
    from_second = min(len(second), max(SPLIT_MAX_ROWS - from_first, MIN_CHILD_ROWS))
    return _drawn(first, from_first, rng), _drawn(second, from_second, rng)


def _drawn(rows: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return rows if count >= len(rows) else rows[rng.choice(len(rows), count, replace=False)]


def _on_line(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both groups projected on the line through their means; None when the means coincide."""
    axis = second.mean(axis=0) - first.mean(axis=0)
    length = float(np.linalg.norm(axis))
    if length == 0.0:
        return None
    unit = axis / length
    return first @ unit, second @ unit


def _on_discriminant(
    first: np.ndarray, second: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Both groups projected on Fisher's discriminant: the direction along which their centres
    are farthest apart for their pooled within-group spread. Two stretched segments side by side
    overlap on the line through their centres and stand apart on this one.

    The direction is cross-fitted: each side is halved at random, the direction fitted on one
    half of both is applied to the other half and the other way round, and each measured half is
    centred on its own mean. A direction fitted on the very customers it measures finds one in
    which a Gaussian cut in two looks like two when there are few customers for the features
    (at 30 features, 4 to 6 of 10 clouds of 60 to 120 customers cut by K-Means), and one
    Gaussian projected on a direction fitted elsewhere is still one Gaussian. The within-group
    covariance is Ledoit-Wolf shrunk as well. None when the centres coincide.
    """
    if not np.any(second.mean(axis=0) - first.mean(axis=0)):
        return None
    rng = np.random.default_rng(seed)
    firsts, seconds = _halves(first, rng), _halves(second, rng)
    near, far = [], []
    for fitted, measured in ((0, 1), (1, 0)):
        direction = _discriminant(firsts[fitted], seconds[fitted])
        if direction is None:
            return _on_line(first, second)
        projected = firsts[measured] @ direction, seconds[measured] @ direction
        centre = float(np.concatenate(projected).mean())
        near.append(projected[0] - centre)
        far.append(projected[1] - centre)
    return np.concatenate(near), np.concatenate(far)


def _halves(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(rows))
    middle = len(rows) // 2
    return rows[order[:middle]], rows[order[middle:]]


def _discriminant(first: np.ndarray, second: np.ndarray) -> np.ndarray | None:
    """Fisher's direction for two groups, of unit length; None where there is none: the centres
    coincide, or the shrunk within-group covariance is singular (no spread within either group,
    or groups of a few repeated customers that leave Ledoit-Wolf nothing to shrink)."""
    axis = second.mean(axis=0) - first.mean(axis=0)
    covariance = ledoit_wolf(within_deviations(first, second), assume_centered=True)[0]
    try:
        direction = np.linalg.solve(covariance, axis)
    except np.linalg.LinAlgError:
        return None
    length = float(np.linalg.norm(direction))
    return direction / length if np.isfinite(length) and length > 0.0 else None


def _shape(line: tuple[np.ndarray, np.ndarray] | None, rows: int, seed: int) -> Shape:
    if line is None:
        # No line (the centres coincide): nothing measured, so no side is judged a Gaussian.
        return Shape(gain=0.0, rows=rows, kurtosis=0.0, mixture_kurtosis=0.0, side_kurtosis=np.inf)
    near, far = line
    gain, fitted_kurtosis = _mixture(near, far, seed)
    sides = (near, far)
    judged = [abs(_kurtosis(side)) for side in sides if len(side) >= SIDE_MIN_ROWS]
    return Shape(
        gain=gain,
        rows=rows,
        kurtosis=_kurtosis(np.concatenate(sides)),
        mixture_kurtosis=fitted_kurtosis,
        side_kurtosis=max(judged) if len(judged) == len(sides) else np.inf,
        spreads_mixture_kurtosis=mixture_kurtosis(
            np.array([len(side) for side in sides]) / (len(near) + len(far)),
            np.array([side.mean() for side in sides]),
            np.array([side.var() for side in sides]),
        ),
        judged_side_kurtosis=max(judged, default=np.inf),
    )


def _mixture(near: np.ndarray, far: np.ndarray, seed: int) -> tuple[float, float]:
    """BIC of one Gaussian minus BIC of two with a common variance, per customer, on the line;
    and the excess kurtosis of that fitted two-Gaussian mixture.

    The mixture starts from the groups themselves (their means and shares), so EM begins at
    this split rather than at any two components it might find; it is free to move from there.
    """
    values = np.concatenate([near, far])[:, None]
    if float(values.std()) == 0.0:
        return 0.0, 0.0
    share = len(near) / len(values)
    with warnings.catch_warnings():
        # A mixture that stops at its iteration limit still gives a usable likelihood.
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = GaussianMixture(1, random_state=seed).fit(values)
        two = GaussianMixture(
            2,
            covariance_type="tied",
            means_init=[[near.mean()], [far.mean()]],
            weights_init=[share, 1.0 - share],
            random_state=seed,
        ).fit(values)
    gain = float((one.bic(values) - two.bic(values)) / len(values))
    return gain, mixture_kurtosis(two.weights_, two.means_[:, 0], float(two.covariances_.item()))


def mixture_kurtosis(weights: np.ndarray, means: np.ndarray, variance: float | np.ndarray) -> float:
    """Excess kurtosis of a mixture of Gaussians, with a common variance or one each, from its
    moments: the fourth central moment of a component about the mixture's mean is
    d^4 + 6 d^2 v + 3 v^2. 0 where the mixture has no spread at all."""
    offsets = means - float(weights @ means)
    spread = float(weights @ (variance + offsets**2))
    if spread == 0.0:
        return 0.0
    fourth = float(weights @ (offsets**4 + 6.0 * offsets**2 * variance + 3.0 * variance**2))
    return fourth / spread**2 - 3.0


def _kurtosis(values: np.ndarray) -> float:
    spread = float(values.std())
    if spread == 0.0:
        return 0.0
    standard = (values - values.mean()) / spread
    return float(np.mean(standard**4) - 3.0)


def _valley(near: np.ndarray, far: np.ndarray) -> float:
    """Depth of the density valley between two groups projected on the line through their means.

    A kernel density estimate (Gaussian kernel, Silverman's bandwidth) of the projected rows,
    on a grid between the two projected means: the lowest density there over the lower of the
    highest densities on either side of it. 1.0 when the lowest point is a mean itself.
    """
    # Smoothed at the scale of the two groups' own spread along the line (Silverman's rule with
    # the pooled within-group deviation): the spread of both together would include the very
    # distance between them and fill in the valley.
    within = np.sqrt((near.var() * len(near) + far.var() * len(far)) / (len(near) + len(far)))
    values = np.concatenate([near, far])
    grid = np.linspace(float(near.mean()), float(far.mean()), GRID_POINTS)
    density = _density(values, grid, float(within))
    floor = int(np.argmin(density))
    if floor in (0, GRID_POINTS - 1):
        return 1.0
    lower_peak = min(density[: floor + 1].max(), density[floor:].max())
    return float(density[floor] / lower_peak) if lower_peak > 0 else 1.0


def _density(values: np.ndarray, grid: np.ndarray, spread: float) -> np.ndarray:
    bandwidth = 0.9 * (spread or float(values.std()) or 1.0) * len(values) ** -0.2
    offsets = (grid[:, None] - values[None, :]) / bandwidth
    estimate: np.ndarray = np.exp(-0.5 * offsets * offsets).sum(axis=1)
    return estimate


def split_k(start: int, high: int, divides: Mapping[int, bool]) -> int:
    """From the vote's k, add a segment while K-Means at k + 1 divides a segment at k into two
    distinct ones: each step is a segment the global criteria merged though it stands apart."""
    k = start
    while k < high and divides.get(k, False):
        k += 1
    return k


def split_count(
    voted: int,
    high: int,
    divides: Mapping[int, bool],
    apart: Callable[[int], bool],
    calinski_harabasz: Mapping[int, float],
    plateau: float = CH_PLATEAU,
    one_too_many: Callable[[int], bool] | None = None,
) -> int:
    """The number of segments after the vote: a step back, the split walk, then the plateau
    step.

    Since issue 24's eleventh round, when the vote's k shows the mark of a segment cut in two
    (``one_too_many``, training's ``PairTestsByK.one_too_many``), the count starts one below it,
    within the range (the k of ``calinski_harabasz``), unless K-Means at the vote's k + 1
    divides one of its segments into two distinct ones: then the walk's evidence of more
    segments stands, and the count goes on from the vote's k as before.

    The walk adds a segment while one at k splits into two distinct ones at k + 1
    (``split_k``). Past where it stops, the largest k on
    the Calinski-Harabasz plateau (within ``plateau`` of the best) at which every segment and
    its nearest one are two Gaussians (``apart``, training's ``PairTestsByK.apart``) is taken,
    and the walk goes on from it. ``apart`` is asked only of the plateau's k above the walk,
    from the largest down, since each answer costs the pair tests of a whole k. Never fewer
    segments than the walk gives. ``plateau`` and a missing ``one_too_many`` are there for the
    benchmark's earlier rules.
    """
    if (
        one_too_many is not None
        and voted - 1 in calinski_harabasz
        and not divides.get(voted, False)
        and one_too_many(voted)
    ):
        voted -= 1
    walked = split_k(voted, high, divides)
    best = max(calinski_harabasz.values(), default=0.0)
    on_plateau = sorted(
        (
            k
            for k, index in calinski_harabasz.items()
            if walked < k <= high and index >= plateau * best
        ),
        reverse=True,
    )
    widest = next((k for k in on_plateau if apart(k)), None)
    return walked if widest is None else split_k(widest, high, divides)
