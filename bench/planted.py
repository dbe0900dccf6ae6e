"""Seeded planted data sets for the k-selection benchmark: customers whose true segments we know.

Every set is drawn from its own seed, so a set is the same on every machine and can be rebuilt
alone (``planted_set(family, index, seed)``). Segments are Gaussian clouds (stretched in some
families) whose centres are placed by rejection so that every pair is at least ``separation``
spreads apart; the families vary one property of the data at a time, as the issue asks, plus a
"mixed" family that combines them the way real retail data does, and a family with no segments.

The "uneven" families (issue 24) are drawn differently, as a new user's data would be: three
features shaped like age (18-70), income (15-140) and a 1-100 score, clipped to those ranges as
real values are, segment centres uniform in the box with no minimum distance between them,
sizes from a Dirichlet draw with at least 25 customers a segment, 6 to 10 segments, 200 to
5,000 rows. Some pairs of segments land close together and some overlap beyond recovery, which
is why the benchmark also scores the recoverable sets alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.split_test import COVARIANCE_RIDGE, nearest_pairs, pair_sample, within_deviations

MIN_ROWS = 200
MAX_ROWS = 20_000
MIN_K = 2
MAX_K = 10
MIN_FEATURES = 2
MAX_FEATURES = 6
MIN_SEGMENT_ROWS = 10
NOISE_SHARE = 0.05
NOISE_LABEL = -1

# The uneven families: features shaped like age, income and a spending score, each clipped to
# its range; a segment's standard deviation per feature is drawn between these shares of it.
UNEVEN_RANGES = ((18.0, 70.0), (15.0, 140.0), (1.0, 100.0))
UNEVEN_MIN_K = 6
UNEVEN_MAX_K = 10
UNEVEN_MAX_ROWS = 5_000
UNEVEN_MIN_SEGMENT_ROWS = 25
UNEVEN_DIRICHLET = 2.0  # concentration of the size draw: some segments several times others


@dataclass(frozen=True)
class PlantedSet:
    """One benchmark data set: features, planted labels (``NOISE_LABEL`` for noise rows), k."""

    family: str
    index: int
    seed: int
    k: int  # planted number of segments; 1 for the no-structure family
    data: np.ndarray
    labels: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.family}-{self.index:02d}"


@dataclass(frozen=True)
class _Shape:
    separation: tuple[float, float]  # centre distance in units of the spreads, drawn uniformly
    size_ratio: tuple[float, float] = (1.0, 1.0)  # largest / smallest segment
    spread_ratio: tuple[float, float] = (1.0, 1.0)  # widest / narrowest segment
    stretch: tuple[float, float] = (1.0, 1.0)  # longest / shortest axis within a segment
    noise: bool = False
    rescale: bool = False


FAMILIES: dict[str, _Shape] = {
    # Balanced, equal round segments far apart: every method should manage.
    "separated": _Shape(separation=(5.0, 8.0)),
    # Largest segment 10 to 20 times the smallest.
    "unbalanced": _Shape(separation=(5.0, 8.0), size_ratio=(10.0, 20.0)),
    # Widest segment 3 to 5 times the narrowest (in standard deviation).
    "unequal_spread": _Shape(separation=(5.0, 8.0), spread_ratio=(3.0, 5.0)),
    # Neighbouring segments touch: centres 3 to 4 spreads apart.
    "overlapping": _Shape(separation=(3.0, 4.0)),
    # Cigar-shaped segments, randomly rotated, 3 to 6 times longer than wide.
    "anisotropic": _Shape(separation=(5.0, 8.0), stretch=(3.0, 6.0)),
    # 5% of the rows uniform over the bounding box, belonging to no segment.
    "noise": _Shape(separation=(5.0, 8.0), noise=True),
    # Each feature in its own unit: multiplied by 10^u, u in [-2, 4], and shifted.
    "scales": _Shape(separation=(5.0, 8.0), rescale=True),
    # All at once, milder: what customer data tends to look like.
    "mixed": _Shape(
        separation=(4.0, 6.0),
        size_ratio=(3.0, 10.0),
        spread_ratio=(1.5, 3.0),
        stretch=(1.5, 3.0),
        noise=True,
        rescale=True,
    ),
}


@dataclass(frozen=True)
class _Uneven:
    spread: tuple[float, float]  # a segment's standard deviation as a share of each range
    stretch: tuple[float, float] = (1.0, 1.0)  # ratio of a segment's widest to narrowest feature


UNEVEN_FAMILIES: dict[str, _Uneven] = {
    # Round segments (in each range's own units), centres anywhere in the box.
    "uneven": _Uneven(spread=(0.03, 0.06)),
    # The same with segments of different widths, each wider along some features than others.
    "uneven_mixed": _Uneven(spread=(0.025, 0.07), stretch=(1.0, 2.0)),
}
NO_STRUCTURE = "none"
# One blob, four ways: round, stretched and correlated, skewed like incomes, and a flat box.
BLOB_KINDS = ("round", "stretched", "skewed", "uniform")


def planted_set(family: str, index: int, seed: int, rows: int | None = None) -> PlantedSet:
    """The ``index``-th set of a family; planted k cycles through 2..10 with the index.

    ``rows`` overrides the drawn size (the rest of the set is drawn as usual), for timing.
    """
    if family in UNEVEN_FAMILIES:
        return _uneven_set(family, index, seed, rows)
    rng = np.random.default_rng([seed, _family_number(family), index])
    drawn = round(np.exp(rng.uniform(np.log(MIN_ROWS), np.log(MAX_ROWS))))
    rows = rows or drawn
    features = int(rng.integers(MIN_FEATURES, MAX_FEATURES + 1))
    if family == NO_STRUCTURE:
        data = _blob(rng, BLOB_KINDS[index % len(BLOB_KINDS)], rows, features)
        return PlantedSet(family, index, seed, 1, data, np.zeros(rows, dtype=int))
    k = MIN_K + index % (MAX_K - MIN_K + 1)
    data, labels = _segments(rng, FAMILIES[family], k, rows, features)
    return PlantedSet(family, index, seed, k, data, labels)


def nearest_planted_separation(rows: np.ndarray, labels: np.ndarray) -> float | None:
    """How close the closest planted segments are, in within-segment spreads: over every planted
    segment and its nearest one by centre, the smallest Mahalanobis distance between the two
    centres for the pair's pooled within-segment covariance. Noise rows are no segment; None
    with fewer than two segments.

    It tells apart the sets a rule misses because two planted segments nearly coincide (two
    Gaussians of equal weight make a bimodal mixture only beyond 2 spreads) from those where
    they stand apart and the rule is at fault.
    """
    pairs = _planted_pairs(rows, labels)
    return None if pairs is None else min(_mahalanobis(first, second) for first, second in pairs)


def nearest_planted_pair_gain(rows: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    """How clearly the planted segments hardest to tell apart are two: over every planted
    segment and its nearest one by centre, the smallest per-customer gain in BIC (Schwarz 1978)
    of two Gaussians over one on the pair's customers, the two being the planted labels' own
    (each label's share, mean and covariance, or its mean and the pooled covariance, whichever
    has the lower BIC; not refitted, so the labels are what is judged). Noise rows are no
    segment; None with fewer than two segments. A pair is measured on the customers the split
    test would draw (``pair_sample``); the rows are standardised, as the benchmark's are.

    Above 0, every such pair is two Gaussians by BIC on its planted labels, in all features, so
    a pair test could count it; at or below 0 one Gaussian explains some pair as well, and the
    evidence a pair test asks for is not there (a rule can still get such a set, by its other
    steps or by chance). Many customers at a few repeated values (a
    clipped feature) make a label's covariance nearly singular and its gain large.
    """
    pairs = _planted_pairs(rows, labels)
    if pairs is None:
        return None
    return min(_two_gaussian_gain(*pair_sample(first, second, seed)) for first, second in pairs)


def _planted_pairs(
    rows: np.ndarray, labels: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Every planted segment's customers and its nearest segment's (by centre), noise rows left
    out; None with fewer than two segments."""
    kept = labels != NOISE_LABEL
    rows, labels = rows[kept], labels[kept]
    if len(np.unique(labels)) < 2:
        return None
    return [(rows[labels == a], rows[labels == b]) for a, b in nearest_pairs(rows, labels)]


def _two_gaussian_gain(first: np.ndarray, second: np.ndarray) -> float:
    both = np.concatenate([first, second])
    count, features = both.shape
    ridge = COVARIANCE_RIDGE * np.eye(features)
    weights = np.array([len(first), len(second)]) / count
    means = [first.mean(axis=0), second.mean(axis=0)]
    pooled = _pooled_within(first, second, bias=True) + ridge
    own = [np.atleast_2d(np.cov(side, rowvar=False, bias=True)) + ridge for side in (first, second)]
    one = _bic(
        _log_density(
            both, both.mean(axis=0), np.atleast_2d(np.cov(both, rowvar=False, bias=True)) + ridge
        ),
        features + features * (features + 1) / 2,
        count,
    )
    two = min(
        _bic(
            np.logaddexp(
                *(
                    np.log(w) + _log_density(both, m, c)
                    for w, m, c in zip(weights, means, covariances, strict=True)
                )
            ),
            parameters,
            count,
        )
        for covariances, parameters in (
            ((pooled, pooled), 2 * features + features * (features + 1) / 2 + 1),
            (own, 2 * features + features * (features + 1) + 1),
        )
    )
    return float((one - two) / count)


def _log_density(rows: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """A Gaussian's log density at each row, through the covariance's Cholesky factor."""
    factor = np.linalg.cholesky(covariance)
    standard = np.linalg.solve(factor, (rows - mean).T)
    log_det = 2.0 * np.log(np.diag(factor)).sum()
    return np.asarray(-0.5 * ((standard**2).sum(axis=0) + log_det + len(mean) * np.log(2 * np.pi)))


def _bic(log_density: np.ndarray, parameters: float, count: int) -> float:
    return float(-2.0 * log_density.sum() + parameters * np.log(count))


def _pooled_within(first: np.ndarray, second: np.ndarray, bias: bool = False) -> np.ndarray:
    return np.atleast_2d(np.cov(within_deviations(first, second), rowvar=False, bias=bias))


def _mahalanobis(first: np.ndarray, second: np.ndarray) -> float:
    offset = second.mean(axis=0) - first.mean(axis=0)
    return float(np.sqrt(offset @ np.linalg.pinv(_pooled_within(first, second)) @ offset))


def all_families() -> list[str]:
    return [*FAMILIES, NO_STRUCTURE, *UNEVEN_FAMILIES]


def _family_number(family: str) -> int:
    return all_families().index(family)


def _segments(
    rng: np.random.Generator, shape: _Shape, k: int, rows: int, features: int
) -> tuple[np.ndarray, np.ndarray]:
    noise_rows = round(NOISE_SHARE * rows) if shape.noise else 0
    sizes = _sizes(rng, k, rows - noise_rows, _draw(rng, shape.size_ratio))
    spreads = np.exp(rng.uniform(0.0, np.log(_draw(rng, shape.spread_ratio)), size=k))
    spreads /= spreads.mean()
    axes = [_axes(rng, features, _draw(rng, shape.stretch)) for _ in range(k)]
    # How far a segment reaches: its spread times its longest axis.
    reach = spreads * np.array([a.max() for a in axes])
    centres = _centres(rng, reach, _draw(rng, shape.separation), features)
    parts, labels = [], []
    for segment in range(k):
        rotation = _rotation(rng, features)
        cloud = rng.normal(size=(sizes[segment], features)) * axes[segment] * spreads[segment]
        parts.append(centres[segment] + cloud @ rotation.T)
        labels.append(np.full(sizes[segment], segment))
    data = np.vstack(parts)
    if noise_rows:
        low, high = data.min(axis=0), data.max(axis=0)
        margin = 0.1 * (high - low)
        parts.append(rng.uniform(low - margin, high + margin, size=(noise_rows, features)))
        labels.append(np.full(noise_rows, NOISE_LABEL))
        data = np.vstack(parts)
    if shape.rescale:
        data = data * 10.0 ** rng.uniform(-2.0, 4.0, size=features) + rng.normal(
            scale=100.0, size=features
        )
    order = rng.permutation(len(data))
    return data[order], np.concatenate(labels)[order]


def _uneven_set(family: str, index: int, seed: int, rows: int | None) -> PlantedSet:
    """An uneven set: planted k cycles through 6..10 with the index; see the module docstring."""
    shape = UNEVEN_FAMILIES[family]
    rng = np.random.default_rng([seed, _family_number(family), index])
    k = UNEVEN_MIN_K + index % (UNEVEN_MAX_K - UNEVEN_MIN_K + 1)
    fewest = max(MIN_ROWS, 2 * UNEVEN_MIN_SEGMENT_ROWS * k)
    drawn = round(np.exp(rng.uniform(np.log(fewest), np.log(UNEVEN_MAX_ROWS))))
    rows = rows or drawn
    spare = rows - UNEVEN_MIN_SEGMENT_ROWS * k
    sizes = UNEVEN_MIN_SEGMENT_ROWS + rng.multinomial(spare, rng.dirichlet([UNEVEN_DIRICHLET] * k))
    low = np.array([r[0] for r in UNEVEN_RANGES])
    width = np.array([r[1] - r[0] for r in UNEVEN_RANGES])
    features = len(UNEVEN_RANGES)
    parts, labels = [], []
    for segment in range(k):
        centre = low + width * rng.uniform(0.05, 0.95, size=features)
        spread = _draw(rng, shape.spread) * _axes(rng, features, _draw(rng, shape.stretch))
        cloud = centre + rng.normal(size=(sizes[segment], features)) * spread * width
        parts.append(cloud)
        labels.append(np.full(sizes[segment], segment))
    data = np.clip(np.vstack(parts), low, low + width)
    data[:, 0] = np.round(data[:, 0])  # whole years of age, as customer tables hold them
    data[:, 2] = np.round(data[:, 2])  # and a whole-number score
    order = rng.permutation(len(data))
    return PlantedSet(family, index, seed, k, data[order], np.concatenate(labels)[order])


def _draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _sizes(rng: np.random.Generator, k: int, rows: int, ratio: float) -> np.ndarray:
    """Segment sizes whose largest / smallest is about ``ratio``, at least 10 rows each."""
    weights = ratio ** rng.permutation(np.linspace(0.0, 1.0, k))
    sizes: np.ndarray = np.maximum(
        MIN_SEGMENT_ROWS, np.floor(rows * weights / weights.sum())
    ).astype(int)
    sizes[np.argmax(sizes)] += rows - sizes.sum()
    return sizes


def _axes(rng: np.random.Generator, features: int, stretch: float) -> np.ndarray:
    """Standard deviations along a segment's axes: geometric mean 1, longest/shortest = stretch."""
    if stretch <= 1.0:
        return np.ones(features)
    logs = rng.uniform(0.0, np.log(stretch), size=features)
    logs[0], logs[1] = 0.0, np.log(stretch)
    axes = np.exp(logs - logs.mean())
    return np.asarray(axes)


def _rotation(rng: np.random.Generator, features: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(features, features)))
    return np.asarray(q * np.sign(np.diag(r)))


def _centres(
    rng: np.random.Generator, reach: np.ndarray, separation: float, features: int
) -> np.ndarray:
    """Centres at least ``separation * (reach_i + reach_j) / 2`` apart, packed in a small box."""
    k = len(reach)
    side = separation * reach.mean() * max(1.0, k ** (1.0 / features))
    while True:
        for _ in range(200):
            centres = np.empty((k, features))
            placed = 0
            for _ in range(50 * k):
                candidate = rng.uniform(0.0, side, size=features)
                gaps = np.linalg.norm(centres[:placed] - candidate, axis=1)
                needed = separation * (reach[:placed] + reach[placed]) / 2.0
                if np.all(gaps >= needed):
                    centres[placed] = candidate
                    placed += 1
                    if placed == k:
                        return centres
        side *= 1.1


def blob_kind(index: int) -> str:
    return BLOB_KINDS[index % len(BLOB_KINDS)]


_BLOBS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "round": lambda rng, rows, features: rng.normal(size=(rows, features)),
    "stretched": lambda rng, rows, features: (
        (rng.normal(size=(rows, features)) * _axes(rng, features, 5.0)) @ _rotation(rng, features).T
    ),
    "skewed": lambda rng, rows, features: rng.gamma(2.0, 1.0, size=(rows, features)),
    "uniform": lambda rng, rows, features: rng.uniform(size=(rows, features)),
}


def _blob(rng: np.random.Generator, kind: str, rows: int, features: int) -> np.ndarray:
    return _BLOBS[kind](rng, rows, features)
