"""Step 2 of training: choose the number of segments, with the evidence stored in the bundle.

The rule (``--k auto``): fit every k in the range and score it on two criteria, the silhouette
(how well separated the segments are) and the knee of the inertia curve (the point of
diminishing returns a person looks for in an elbow plot, measured as the distance of the
normalised inertia curve from the straight line joining its ends). Each k is ranked on both;
the k with the smallest sum of ranks wins, ties going to the higher silhouette, then to the
smaller k. Calinski-Harabasz and Davies-Bouldin are recorded for every k too, for the reader.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from segmentation.metadata import KScore, KSelection
from training.fit import Clustering, FitError, cluster

DEFAULT_K_RANGE = (2, 10)
SELECTION_MAX_ROWS = 50_000
AUTO_RULE = (
    "smallest sum of ranks by silhouette (higher is better) and by knee distance of the "
    "inertia curve (higher is better); ties to the higher silhouette, then the smaller k"
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
) -> tuple[KSelection, Clustering]:
    """Score every k in range and pick one by the documented rule; fit it on every row.

    Above ``SELECTION_MAX_ROWS`` rows the candidates are scored on a seeded sample of that
    size: the criteria settle long before millions of rows, and only the chosen k then pays
    for a fit on all of them.
    """
    rows = len(scaled)
    candidates = [k for k in range(k_range[0], k_range[1] + 1) if k < rows]
    if not candidates:
        raise FitError(f"{rows} rows are too few for any k in {k_range[0]}-{k_range[1]}")
    sampled = rows > SELECTION_MAX_ROWS
    evaluated = (
        scaled[np.random.default_rng(seed).choice(rows, SELECTION_MAX_ROWS, replace=False)]
        if sampled
        else scaled
    )
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
    chosen = _by_rank_sum(table)
    knee_k = candidates[int(np.argmax(knees))] if len(candidates) >= 3 else None
    selection = KSelection(
        mode="auto",
        k_range=k_range,
        sample_rows=SELECTION_MAX_ROWS if sampled else None,
        rule=AUTO_RULE,
        knee_k=knee_k,
        chosen_k=chosen,
        table=table,
    )
    return selection, cluster(scaled, chosen, seed, minibatch_threshold) if sampled else fits[
        chosen
    ]


def fixed_k(
    scaled: np.ndarray, k: int, seed: int, minibatch_threshold: int
) -> tuple[KSelection, Clustering]:
    fit = cluster(scaled, k, seed, minibatch_threshold)
    selection = KSelection(
        mode="fixed", k_range=None, rule=FIXED_RULE, knee_k=None, chosen_k=k, table=[fit.score]
    )
    return selection, fit


def _by_rank_sum(table: list[KScore]) -> int:
    scored = [row for row in table if row.silhouette is not None]
    if not scored:
        raise FitError("no k in the range gives a defined silhouette: the data is too small")

    def ranks(values: list[float]) -> list[int]:
        order = sorted(range(len(values)), key=lambda i: -values[i])
        result = [0] * len(values)
        for rank, index in enumerate(order, start=1):
            result[index] = rank
        return result

    silhouette_rank = ranks([row.silhouette or 0.0 for row in scored])
    knee_rank = ranks([row.knee_distance or 0.0 for row in scored])
    best = min(
        range(len(scored)),
        key=lambda i: (
            silhouette_rank[i] + knee_rank[i],
            -(scored[i].silhouette or 0.0),
            scored[i].k,
        ),
    )
    return scored[best].k
