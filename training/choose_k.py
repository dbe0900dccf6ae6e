"""Step 2 of training: choose the number of segments, with the evidence stored in the bundle.

The rule (``--k auto``), chosen on the k-selection benchmark (docs/k-selection.md): fit every k
in the range; take the k with the best silhouette, the best Calinski-Harabasz index and the best
Davies-Bouldin index, and the gap statistic's k (its 1-SE rule) when that is in the range; choose
the k most of them name, or, when no k is named most, the lower median of their choices. Each
criterion fails on some shapes of data (the silhouette on noise, Calinski-Harabasz on unequal
sizes, Davies-Bouldin on touching segments, the gap statistic on stretched ones); a plurality
needs two of them to fail the same way.

Those criteria always name some k >= 2, even for one cloud of customers, so the rule then asks
whether there are segments at all (``training.structure``): when the gap statistic's 1-SE rule
stops at one cloud, and either one Gaussian has the lowest BIC, or the best silhouette is not
clearly above that of structureless reference data (by a fifth, or above it with a k that
reproduces across halves of the data), the answer is "no clear segments". Training still fits
the lowest k in the range, so there is a model to look at, but flags ``structure: none`` in the
metadata, warns, and the report says the k is an arbitrary cut, not a finding.

When there are segments, the global criteria still merge a pair of clean segments that lie much
closer together than the rest; a local split test then adds a segment while one at k splits
into two distinct ones at k + 1, and looks past where that stops for the largest k, among those
the Calinski-Harabasz index scores nearly as well as its best, whose segments each stand apart
from their nearest one (``training.split_test``). Where some pair at the vote's k is fitted
better by one Gaussian than by two, the mark of a segment cut in two, and K-Means at the next k
divides none of its segments into two distinct ones, that walk starts one below the vote's k.
Every k's segments are also mapped to the next k's (``training.split_tree``), so the report can
show what choosing another k would change.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from segmentation.k_choice import named_most
from segmentation.metadata import KScore, KSelection, StructureTest
from training import split_test, structure
from training.fit import Clustering, FitError, cluster, distinct_rows
from training.split_tree import build_split_tree, runner_up_k

logger = logging.getLogger(__name__)

DEFAULT_K_RANGE = (2, 10)
# --k auto tries a k only where its segments would average this many customers: 11 customers
# made 10 segments of one, which describe no one, and the split test measures no smaller side.
MIN_AVERAGE_SEGMENT = 10
SELECTION_MAX_ROWS = 50_000
# Below this many rows the structure tests have too little to go on; the rule then says nothing.
STRUCTURE_MIN_ROWS = 50
# "Clearly above" the references: by this factor, or above them with a reproducible k.
SILHOUETTE_MARGIN = 1.2
STABLE_STRENGTH = 0.85
AUTO_RULE = (
    f"among the k of the range whose segments would average at least {MIN_AVERAGE_SEGMENT} "
    "customers, "
    "the k named most often by the best silhouette, the best Calinski-Harabasz index, the best "
    "Davies-Bouldin index and the gap statistic's 1-SE rule (the lower median of their choices "
    "when no k is named most); 'no clear segments' (and the lowest k, flagged) when the gap "
    "statistic stops at k = 1 and either one Gaussian has the lowest BIC or the best silhouette "
    "is not clearly above that of structureless reference data (by a fifth, or above it with a "
    f"prediction strength of {STABLE_STRENGTH}); then one k less than the vote's, within the "
    "range, when at the vote's k some segment and its nearest one (each of at least "
    f"{split_test.MIN_CHILD_ROWS} customers) show a BIC gain below 0 for two Gaussians over one "
    "on their discriminant (measured as below, as K-Means cut them and, where regrouped, once "
    "regrouped) and K-Means at the vote's k + 1 divides none of its segments into two distinct "
    "ones (as below); then, while K-Means at k + 1 divides one "
    "segment at k into two distinct ones (a density valley between them with its floor below "
    f"{split_test.VALLEY_RATIO:.0%} of the lower peak, where two Gaussians fit them better than "
    "one; or, on the line through their centres, two Gaussians fitting better than one by more "
    f"than {split_test.MIXTURE_GAIN} of BIC per customer and more than "
    f"{split_test.MIXTURE_EVIDENCE:g} in all, with an excess kurtosis below "
    f"{split_test.TAIL_KURTOSIS}), k + 1; then the largest k whose Calinski-Harabasz index is "
    f"within {1 - split_test.CH_PLATEAU:.1%} of its best and at which every segment has at "
    f"least {split_test.MIN_CHILD_ROWS} customers and it and its nearest one are two Gaussians "
    "by that measure on their discriminant (Fisher's, cross-fitted on halves of the pair, with "
    "a Ledoit-Wolf within-segment covariance), with an excess kurtosis less than "
    f"{split_test.TAIL_KURTOSIS} above the fitted mixture's own or, for sides of at least "
    f"{split_test.SIDE_MIN_ROWS} customers among the at most {split_test.SPLIT_MAX_ROWS:,} "
    "measured (each side in its share), each side's own within "
    f"{split_test.SIDE_KURTOSIS} of a Gaussian's (a pair without that evidence of two Gaussians "
    "measured again, these two ways, with its customers regrouped by a two-Gaussian mixture "
    "with a shared covariance started from the pair, where each regrouped side keeps "
    f"{split_test.PARENT_SHARE:.0%} of its customers from a different one of the two); or, as "
    f"K-Means cut it, with an excess kurtosis less than {split_test.TAIL_KURTOSIS} above that of "
    "two Gaussians with the sides' own shares, means and variances, where every side of at "
    f"least {split_test.SIDE_MIN_ROWS} measured customers (one at least) is within "
    f"{split_test.SIDE_KURTOSIS} of a Gaussian's; and the same walk from it"
)
FIXED_RULE = "k given by the user"


def parse_k_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        bounds = (int(low), int(high))
    except ValueError:
        raise ValueError(f"k range must look like 2-10, got {text!r}") from None
    if not sep or bounds[0] < 2 or bounds[1] < bounds[0]:
        raise ValueError(f"k range must be LOW-HIGH with 2 <= LOW <= HIGH, got {text!r}")
    return bounds


def knee_distances(ks: list[int], inertias: list[float]) -> list[float]:
    """Distance of each point of the normalised (decreasing) inertia curve below its chord."""
    if len(ks) < 3:
        return [0.0] * len(ks)
    x = (np.array(ks, dtype=float) - ks[0]) / (ks[-1] - ks[0])
    y = np.array(inertias, dtype=float)
    span = y.max() - y.min()
    y = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    return [float(d) for d in (1.0 - x) - y]


def select_k(
    scaled: np.ndarray,
    k_range: tuple[int, int],
    seed: int,
    minibatch_threshold: int,
    on_k: Callable[[KScore], None] | None = None,
    on_testing: Callable[[], None] | None = None,
) -> tuple[KSelection, Clustering]:
    """Score every k in range and pick one by the documented rule; fit it on every row.

    Above ``SELECTION_MAX_ROWS`` rows the candidates are scored on a seeded sample of that
    size: the criteria settle long before millions of rows, and only the chosen k then pays
    for a fit on all of them. ``on_testing`` is called when the fits are done and the structure
    test starts, which can take as long again.
    """
    rows = len(scaled)
    candidates = candidate_ks(scaled, k_range)
    sampled = rows > SELECTION_MAX_ROWS
    chosen_rows = (
        np.random.default_rng(seed).choice(rows, SELECTION_MAX_ROWS, replace=False)
        if sampled
        else None
    )
    evaluated = scaled if chosen_rows is None else scaled[chosen_rows]
    fits: dict[int, Clustering] = {}
    for k in candidates:
        fits[k] = cluster(evaluated, k, seed, minibatch_threshold)
        if on_k:
            on_k(fits[k].score)
    knees = knee_distances(candidates, [fits[k].score.inertia for k in candidates])
    table = [
        fits[k].score.model_copy(update={"knee_distance": knee})
        for k, knee in zip(candidates, knees, strict=True)
    ]
    if on_testing:
        on_testing()
    full = {k: fits[k].score.inertia for k in candidates if fits[k].algorithm == "kmeans"}
    test = examine_structure(evaluated, candidates, seed, inertia=full)
    votes, found, consensus_k = decide(table, test)
    labels = {k: fits[k].labels for k in candidates}
    steps = split_steps(evaluated, labels, seed)
    pairs = split_test.PairTestsByK(evaluated, labels, seed)
    chosen = (
        candidates[0]
        if consensus_k is None
        else split_test.split_count(
            consensus_k,
            candidates[-1],
            {k: split_test.any_distinct(splits) for k, splits in steps.items()},
            pairs.apart,
            {row.k: row.calinski_harabasz or 0.0 for row in table},
            one_too_many=pairs.one_too_many,
        )
    )
    final = cluster(scaled, chosen, seed, minibatch_threshold) if sampled else fits[chosen]
    if chosen_rows is not None:
        # The tree's chosen level is the served model's segments, so names can be put on it.
        labels[chosen] = final.labels[chosen_rows]
    runner_up = runner_up_k(votes, chosen, consensus_k, table)
    selection = KSelection(
        mode="auto",
        k_range=(candidates[0], candidates[-1]),
        sample_rows=SELECTION_MAX_ROWS if sampled else None,
        rule=AUTO_RULE,
        knee_k=candidates[int(np.argmax(knees))] if len(candidates) >= 3 else None,
        chosen_k=chosen,
        table=table,
        votes=votes,
        structure=None if found is None else "segments" if found else "none",
        structure_test=test,
        warning=None if found is not False else no_structure_warning(test, chosen),
        voted_k=consensus_k,
        split_tree=build_split_tree(labels, steps, runner_up, chosen),
    )
    return selection, final


def candidate_ks(scaled: np.ndarray, k_range: tuple[int, int]) -> list[int]:
    """The k of the range that ``--k auto`` scores: those whose segments would average at least
    ``MIN_AVERAGE_SEGMENT`` customers, and no more segments than there are distinct customers
    (K-Means would leave the others empty)."""
    low, high = k_range
    rows = len(scaled)
    by_rows = rows // MIN_AVERAGE_SEGMENT
    if by_rows < low:
        raise FitError(
            f"{rows} customers are too few to choose k in {low}-{high}: --k auto tries a k only "
            f"where segments would average at least {MIN_AVERAGE_SEGMENT} customers "
            f"({low * MIN_AVERAGE_SEGMENT} for k = {low}); give --k, or train on more customers"
        )
    distinct = distinct_rows(scaled, min(high, by_rows))
    if distinct < low:
        raise FitError(
            f"only {distinct} distinct customers in {rows} rows, fewer than k={low} segments"
        )
    top = min(high, by_rows, distinct)
    if top < high:
        reason = (
            f"{rows} customers would average fewer than {MIN_AVERAGE_SEGMENT} a segment"
            if top == by_rows
            else f"there are only {distinct} distinct customers"
        )
        logger.info("k above %d not tried: %s", top, reason)
    return list(range(low, top + 1))


def split_steps(
    rows: np.ndarray, labels: Mapping[int, np.ndarray], seed: int
) -> dict[int, list[split_test.Split]]:
    """The split test between every pair of adjacent k: the clean splits from k to k + 1."""
    return {
        k: split_test.clean_splits(rows, labels[k], labels[k + 1], seed)
        for k in labels
        if k + 1 in labels
    }


def criterion_votes(table: list[KScore]) -> dict[str, int]:
    """The best k by each criterion; ties go to the smaller k."""
    scored = [row for row in table if row.silhouette is not None]
    if not scored:
        raise FitError("no k in the range gives a defined silhouette: the data is too small")

    def best(value: Callable[[KScore], float]) -> int:
        return min(scored, key=lambda row: (-value(row), row.k)).k

    return {
        "silhouette": best(lambda row: row.silhouette or 0.0),
        "calinski_harabasz": best(lambda row: row.calinski_harabasz or 0.0),
        "davies_bouldin": best(lambda row: -(row.davies_bouldin or 0.0)),
    }


def decide(
    table: list[KScore], test: StructureTest | None
) -> tuple[dict[str, int], bool | None, int | None]:
    """The rule on evaluated k: the votes, whether segments were found (None: not tested), and
    the k the votes give, or None when there are no clear segments."""
    votes = rule_votes(table, test)
    found = None if test is None else structure_found(test)
    return votes, found, None if found is False else consensus(votes)


def rule_votes(table: list[KScore], test: StructureTest | None) -> dict[str, int]:
    """The three criteria's best k, and the gap statistic's when it names a k in the range."""
    votes = criterion_votes(table)
    if test is not None and test.gap_k in {row.k for row in table}:
        votes["gap_statistic"] = test.gap_k
    return votes


def consensus(votes: dict[str, int]) -> int:
    """The k named most often; when no single k is, the lower median of the choices.

    Of three votes that is their median. The lower median on a tie because an extra segment is
    the commoner mistake: noise made into a segment, one segment split in two.
    """
    most = named_most(votes)
    return most if most is not None else sorted(votes.values())[(len(votes) - 1) // 2]


def examine_structure(
    evaluated: np.ndarray,
    candidates: list[int],
    seed: int,
    inertia: Mapping[int, float] | None = None,
    gap: structure.GapStatistic | None = None,
) -> StructureTest | None:
    """The gap statistic first (its 1-SE rule computes only the k it needs); BIC, prediction
    strength and the silhouette against references only when the gap sees one cloud.

    ``inertia``: the K-Means inertia already fitted on ``evaluated`` for some k (full K-Means,
    ``N_INIT`` starts, this seed); when the test runs on all of ``evaluated``, the gap statistic
    takes them instead of fitting the same models again. ``gap``: a gap statistic already begun
    on this structure sample with this seed (the k-selection benchmark shares one between its
    own gap method and this test); its values are the ones this test would compute. None when
    there are too few rows.
    """
    sample = structure.structure_sample(evaluated, seed)
    rows = len(sample)
    if rows < STRUCTURE_MIN_ROWS:
        return None
    with warnings.catch_warnings():
        # A mixture or a refit that stops at its iteration limit still gives a usable score.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if gap is None:
            fitted = inertia if inertia is not None and sample is evaluated else {}
            gap = structure.GapStatistic(sample, seed, observed=fitted)
        gap_k = gap.choice(max(candidates))
        bic_says_one = None
        best_strength = best_strength_k = None
        silhouette = reference = None
        if gap_k == 1:
            bic = structure.mixture_bic(sample, [1, *candidates], seed)
            bic_says_one = min(bic, key=lambda k: bic[k]) == 1
            if not bic_says_one:
                halves = [k for k in candidates if k <= rows // 2]
                strength = structure.prediction_strength(sample, halves, seed)
                if strength:
                    best_strength_k = max(strength, key=lambda k: (strength[k], -k))
                    best_strength = strength[best_strength_k]
                against = structure.silhouette_against_references(sample, candidates, seed)
                if against is not None:
                    silhouette, reference = against
    return StructureTest(
        sample_rows=rows,
        gap_one=gap.at(1),
        gap_two=gap.at(2),
        gap_two_error=gap.error[2],
        gap_says_one=gap_k == 1,
        gap_k=gap_k,
        bic_says_one=bic_says_one,
        best_prediction_strength=best_strength,
        best_prediction_strength_k=best_strength_k,
        silhouette=silhouette,
        reference_silhouette=reference,
    )


def silhouette_margin(test: StructureTest) -> float | None:
    """The best silhouette as a multiple of the best on structureless references, if tested."""
    if test.silhouette is None or not test.reference_silhouette:
        return None
    return test.silhouette / test.reference_silhouette


def structure_found(test: StructureTest) -> bool:
    """Segments, unless the gap statistic sees one cloud and BIC or the silhouette agrees.

    The silhouette agrees unless it is clearly above the references': by ``SILHOUETTE_MARGIN``,
    or above them at all with a k whose prediction strength reaches ``STABLE_STRENGTH``.
    """
    if not test.gap_says_one:
        return True
    if test.bic_says_one:
        return False
    margin = silhouette_margin(test)
    if margin is None:
        return False
    strength = test.best_prediction_strength or 0.0
    return margin >= SILHOUETTE_MARGIN or (margin >= 1.0 and strength >= STABLE_STRENGTH)


def structure_evidence(test: StructureTest, found: bool) -> str:
    """The evidence for the verdict ``found`` (as stored: bundles from before the silhouette
    evidence were judged on prediction strength alone), in words for the report and warning."""
    if not test.gap_says_one:
        return "two segments fit clearly better than one cloud (gap statistic)"
    gap = "the gap statistic finds no gain from two segments over none"
    if test.bic_says_one:
        return f"{gap}, and one Gaussian fits better than any mixture (lowest BIC)"
    strength = (
        "no k fits in half the sample"
        if test.best_prediction_strength_k is None
        else f"best prediction strength {test.best_prediction_strength or 0.0:.2f} at k = "
        f"{test.best_prediction_strength_k}"
    )
    if test.silhouette is None or test.reference_silhouette is None:
        return f"{gap}, {'but' if found else 'and'} {strength}"
    figures = (
        f"best silhouette {test.silhouette:.3f} against {test.reference_silhouette:.3f} on "
        f"uniform data of the same extent, {silhouette_margin(test) or 0.0:.2f}x; {strength}"
    )
    if found:
        return f"{gap}, but the segments stand out from structureless data ({figures})"
    return f"{gap}, and the segments do not stand out from structureless data ({figures})"


def no_structure_warning(test: StructureTest | None, chosen: int) -> str:
    if test is None or test.bic_says_one is None:
        raise ValueError("no structure needs the gap and one more test as evidence")
    return (
        f"no clear segments: the customers look like one cloud "
        f"({structure_evidence(test, found=False)}); "
        f"k = {chosen} is an arbitrary cut of that cloud, not a finding: do not act on these "
        f"segments as if they were real groups of customers"
    )


def fixed_k(
    scaled: np.ndarray, k: int, seed: int, minibatch_threshold: int
) -> tuple[KSelection, Clustering]:
    fit = cluster(scaled, k, seed, minibatch_threshold)
    selection = KSelection(
        mode="fixed", k_range=None, rule=FIXED_RULE, knee_k=None, chosen_k=k, table=[fit.score]
    )
    return selection, fit
