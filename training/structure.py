"""Is there any segment structure at all? Three published tests that can answer "one cloud".

Silhouette, Calinski-Harabasz and Davies-Bouldin compare k >= 2 with each other and always
name a winner, even on a single cloud of customers. These tests can say k = 1:

- the gap statistic (Tibshirani, Walther and Hastie 2001): how much tighter the segments are
  than on reference data with no structure, with its 1-standard-error rule;
- the BIC of a Gaussian mixture (Schwarz 1978): whether one Gaussian explains the data as well
  as several, once their extra parameters are paid for;
- prediction strength (Tibshirani and Walther 2005): whether the segments found on one half of
  the customers predict which customers go together in the other half.

They run on a seeded sample of at most ``STRUCTURE_MAX_ROWS`` rows: they refit many times, and
the question "one cloud or several" is settled long before that many rows. The k-selection
benchmark (bench/k_selection.py) uses the same functions for every k to compare them as rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from training.fit import N_INIT, single_threaded

STRUCTURE_MAX_ROWS = 5_000
GAP_REFERENCES = 10
# Refits on reference data and on halves: three starts settle them, as in the papers' code.
REFIT_N_INIT = 3
PREDICTION_STRENGTH_SPLITS = 5
PREDICTION_STRENGTH_THRESHOLD = 0.8


def structure_sample(scaled: np.ndarray, seed: int) -> np.ndarray:
    """The rows the structure tests see: all of them, or a seeded sample of the maximum."""
    rows = len(scaled)
    if rows <= STRUCTURE_MAX_ROWS:
        return scaled
    return scaled[np.random.default_rng(seed).choice(rows, STRUCTURE_MAX_ROWS, replace=False)]


def gap_statistic(
    sample: np.ndarray, ks: Sequence[int], seed: int, references: int = GAP_REFERENCES
) -> tuple[dict[int, float], dict[int, float]]:
    """Gap(k) and its standard error s(k) for every k in ``ks``.

    Reference data is uniform over the box aligned with the principal components of the sample
    (the paper's option b, which follows stretched data); Gap(k) = E*[log W*_k] - log W_k, with
    W_k the K-Means inertia, and s(k) = sd(log W*_k) * sqrt(1 + 1/B).
    """
    rng = np.random.default_rng(seed)
    centred = sample - sample.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    log_w = np.empty((references, len(ks)))
    with single_threaded():
        observed = np.log(
            [
                KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(sample).inertia_
                for k in ks
            ]
        )
        for b in range(references):
            reference = rng.uniform(low, high, size=rotated.shape) @ vt
            for j, k in enumerate(ks):
                model = KMeans(n_clusters=k, n_init=REFIT_N_INIT, random_state=seed + b + 1)
                log_w[b, j] = np.log(model.fit(reference).inertia_)
    gap = log_w.mean(axis=0) - observed
    error = log_w.std(axis=0) * np.sqrt(1.0 + 1.0 / references)
    return dict(zip(ks, gap.tolist(), strict=True)), dict(zip(ks, error.tolist(), strict=True))


def gap_choice(gap: dict[int, float], error: dict[int, float]) -> int:
    """The 1-SE rule: the smallest k with Gap(k) >= Gap(k+1) - s(k+1); else the largest k."""
    ks = sorted(gap)
    for k, after in itertools.pairwise(ks):
        if gap[k] >= gap[after] - error[after]:
            return k
    return ks[-1]


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
