"""Is there any segment structure at all? Tests that can answer "one cloud".

Silhouette, Calinski-Harabasz and Davies-Bouldin compare k >= 2 with each other and always
name a winner, even on a single cloud of customers. These tests can say k = 1:

- the gap statistic (Tibshirani, Walther and Hastie 2001): how much tighter the segments are
  than on reference data with no structure, with its 1-standard-error rule;
- the BIC of a Gaussian mixture (Schwarz 1978): whether one Gaussian explains the data as well
  as several, once their extra parameters are paid for;
- prediction strength (Tibshirani and Walther 2005): whether the segments found on one half of
  the customers predict which customers go together in the other half;
- the silhouette against structureless references drawn the gap statistic's way: whether the
  best silhouette is higher than that of uniform data with the same extent (the gap statistic's
  calibration applied to the silhouette, since prediction strength alone calls large clouds
  reproducible and small overlapping segments not).

They run on a seeded sample of at most ``STRUCTURE_MAX_ROWS`` rows: they refit many times, and
the question "one cloud or several" is settled long before that many rows. The k-selection
benchmark (bench/k_selection.py) uses the same functions for every k to compare them as rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture

from training.fit import N_INIT, single_threaded

STRUCTURE_MAX_ROWS = 5_000
GAP_REFERENCES = 10
# Refits on reference data and on halves: three starts settle them, as in the papers' code.
REFIT_N_INIT = 3
PREDICTION_STRENGTH_SPLITS = 5
PREDICTION_STRENGTH_THRESHOLD = 0.8  # the paper's threshold, for prediction strength alone
SILHOUETTE_REFERENCE_ROWS = 1_000


def structure_sample(scaled: np.ndarray, seed: int) -> np.ndarray:
    """The rows the structure tests see: all of them, or a seeded sample of the maximum."""
    rows = len(scaled)
    if rows <= STRUCTURE_MAX_ROWS:
        return scaled
    return scaled[np.random.default_rng(seed).choice(rows, STRUCTURE_MAX_ROWS, replace=False)]


def uniform_references(
    sample: np.ndarray, rng: np.random.Generator, count: int
) -> list[np.ndarray]:
    """Structureless data with the sample's extent: uniform over the box aligned with its
    principal components (the gap statistic paper's option b, which follows stretched data)."""
    centred = sample - sample.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    return [rng.uniform(low, high, size=rotated.shape) @ vt for _ in range(count)]


class GapStatistic:
    """Gap(k) and its standard error s(k), computed one k at a time on fixed references.

    Gap(k) = E*[log W*_k] - log W_k, with W_k the K-Means inertia and the expectation over
    ``references`` uniform reference sets; s(k) = sd(log W*_k) * sqrt(1 + 1/B). Every k's value
    is the same whichever other k are computed, so the 1-SE choice can stop early. ``observed``:
    inertias of the sample already fitted as ``at`` would fit them, not fitted again.
    """

    def __init__(
        self,
        sample: np.ndarray,
        seed: int,
        references: int = GAP_REFERENCES,
        observed: Mapping[int, float] | None = None,
    ) -> None:
        self.sample = sample
        self.seed = seed
        self.references = uniform_references(sample, np.random.default_rng(seed), references)
        self.observed = dict(observed or {})
        self.gap: dict[int, float] = {}
        self.error: dict[int, float] = {}

    def at(self, k: int) -> float:
        if k not in self.gap:
            with single_threaded():
                if k not in self.observed:
                    model = KMeans(n_clusters=k, n_init=N_INIT, random_state=self.seed)
                    self.observed[k] = float(model.fit(self.sample).inertia_)
                log_w = np.log(self.observed[k])
                log_w_star = np.log(
                    [
                        KMeans(n_clusters=k, n_init=REFIT_N_INIT, random_state=self.seed + b + 1)
                        .fit(reference)
                        .inertia_
                        for b, reference in enumerate(self.references)
                    ]
                )
            self.gap[k] = float(log_w_star.mean() - log_w)
            self.error[k] = float(log_w_star.std() * np.sqrt(1.0 + 1.0 / len(self.references)))
        return self.gap[k]

    def choice(self, high: int) -> int:
        """``gap_choice`` over k = 1..high, computing only the k it needs."""
        for k in range(1, high):
            if one_se_stops(self.at(k), self.at(k + 1), self.error[k + 1]):
                return k
        return high


def gap_statistic(
    sample: np.ndarray, ks: Sequence[int], seed: int, references: int = GAP_REFERENCES
) -> tuple[dict[int, float], dict[int, float]]:
    """Gap(k) and its standard error s(k) for every k in ``ks`` (see ``GapStatistic``)."""
    gap = GapStatistic(sample, seed, references)
    for k in ks:
        gap.at(k)
    return {k: gap.gap[k] for k in ks}, {k: gap.error[k] for k in ks}


def gap_choice(gap: dict[int, float], error: dict[int, float]) -> int:
    """The 1-SE rule: the smallest k with Gap(k) >= Gap(k+1) - s(k+1); else the largest k (the
    paper's answer when the gap keeps growing: at least that many)."""
    ks = sorted(gap)
    for k, after in itertools.pairwise(ks):
        if one_se_stops(gap[k], gap[after], error[after]):
            return k
    return ks[-1]


def one_se_stops(gap: float, gap_next: float, error_next: float) -> bool:
    return gap >= gap_next - error_next


def silhouette_against_references(
    sample: np.ndarray, ks: Sequence[int], seed: int, references: int = GAP_REFERENCES
) -> tuple[float, float] | None:
    """The best silhouette over ``ks`` on the sample, and the best on any structureless reference.

    Both on a seeded subsample of at most ``SILHOUETTE_REFERENCE_ROWS`` rows, with the same
    K-Means settings, so that the two are comparable: the size of the data and its number of
    features move both alike. The references are drawn as the gap statistic draws its own
    (``uniform_references``), from the subsample. A cloud cut into pieces scores about as well
    as uniform data of its extent does; segments score clearly better. None when no k in
    ``ks`` fits the subsample.
    """
    rng = np.random.default_rng(seed)
    if len(sample) > SILHOUETTE_REFERENCE_ROWS:
        sample = sample[rng.choice(len(sample), SILHOUETTE_REFERENCE_ROWS, replace=False)]
    usable = [k for k in ks if 2 <= k < len(sample)]
    if not usable:
        return None

    def best(data: np.ndarray, fit_seed: int) -> float:
        return max(
            float(
                silhouette_score(
                    data,
                    KMeans(n_clusters=k, n_init=REFIT_N_INIT, random_state=fit_seed).fit_predict(
                        data
                    ),
                )
            )
            for k in usable
        )

    with single_threaded():
        observed = best(sample, seed)
        reference = max(
            best(data, seed + b + 1)
            for b, data in enumerate(uniform_references(sample, rng, references))
        )
    return observed, reference


def mixture_bic(sample: np.ndarray, ks: Sequence[int], seed: int) -> dict[int, float]:
    """BIC of a full-covariance Gaussian mixture with k components, for every k in ``ks``."""
    with single_threaded():
        return {
            k: float(
                GaussianMixture(n_components=k, covariance_type="full", random_state=seed)
                .fit(sample)
                .bic(sample)
            )
            for k in ks
        }


def prediction_strength(
    sample: np.ndarray, ks: Sequence[int], seed: int, splits: int = PREDICTION_STRENGTH_SPLITS
) -> dict[int, float]:
    """Prediction strength of every k in ``ks`` (each >= 2), averaged over random halvings.

    Each half is clustered; for each of the test half's clusters, the share of its pairs of
    customers that the training half's centroids also put together; a k's strength is its
    worst cluster's share.
    """
    rng = np.random.default_rng(seed)
    strength = dict.fromkeys(ks, 0.0)
    with single_threaded():
        for split in range(splits):
            order = rng.permutation(len(sample))
            train, test = sample[order[::2]], sample[order[1::2]]
            for k in ks:
                fitted = KMeans(n_clusters=k, n_init=REFIT_N_INIT, random_state=seed + split)
                predicted = fitted.fit(train).predict(test)
                own = KMeans(n_clusters=k, n_init=REFIT_N_INIT, random_state=seed + split)
                strength[k] += _pairs_kept(np.asarray(own.fit(test).labels_), predicted, k) / splits
    return strength


def _pairs_kept(own: np.ndarray, predicted: np.ndarray, k: int) -> float:
    table = np.zeros((k, k))
    np.add.at(table, (own, predicted), 1)
    sizes = table.sum(axis=1)
    usable = sizes >= 2
    if not usable.any():
        return 0.0
    together = (table * (table - 1)).sum(axis=1)[usable]
    return float(np.min(together / (sizes[usable] * (sizes[usable] - 1))))
