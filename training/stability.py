"""Step 4 of training: how much the segments move when the customers are resampled.

The model is refitted on seeded bootstrap samples. Each refit labels a fixed evaluation set,
which is compared with the final model's labels by the adjusted Rand index (1 = the same
partition, 0 = no better than chance). Per segment, the refit's segment whose centroid matches
best (Hungarian matching on centroid distance) is compared membership for membership. Above
``MAX_ROWS`` customers, samples and evaluation set are ``MAX_ROWS`` rows drawn with the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.metrics import adjusted_rand_score

from segmentation.metadata import SegmentStability, Stability
from training.fit import Clusterer, choose_algorithm, make_clusterer, single_threaded

DEFAULT_SAMPLES = 10
MAX_ROWS = 20_000
LOW_ARI = 0.8
LOW_SEGMENT_ARI = 0.6


def measure_stability(
    scaled: np.ndarray,
    final: Clusterer,
    seed: int,
    samples: int,
    minibatch_threshold: int,
    on_sample: Callable[[int], None] | None = None,
    segment_ids: Sequence[int] | None = None,
) -> Stability:
    """``segment_ids``: the segment id of each of ``final``'s centroid rows (default: the row)."""
    rng = np.random.default_rng(seed)
    rows = len(scaled)
    size = min(rows, MAX_ROWS)
    evaluation = scaled if rows <= MAX_ROWS else scaled[rng.choice(rows, size, replace=False)]
    reference = final.predict(evaluation)
    centres = final.cluster_centers_
    k = len(centres)
    algorithm = choose_algorithm(size, minibatch_threshold)
    overall: list[float] = []
    per_segment: list[list[float]] = [[] for _ in range(k)]
    for sample in range(samples):
        drawn = scaled[rng.choice(rows, size, replace=True)]
        with single_threaded():
            refit = make_clusterer(k, seed + sample + 1, algorithm).fit(drawn)
        labels = refit.predict(evaluation)
        overall.append(adjusted_rand_score(reference, labels))
        final_ids, refit_ids = linear_sum_assignment(cdist(centres, refit.cluster_centers_))
        for segment, matched in zip(final_ids, refit_ids, strict=True):
            per_segment[segment].append(
                adjusted_rand_score(reference == segment, labels == matched)
            )
        if on_sample:
            on_sample(sample + 1)
    mean_ari = float(np.mean(overall))
    segments = [
        SegmentStability(
            id=segment if segment_ids is None else segment_ids[segment],
            mean_ari=float(np.mean(scores)),
        )
        for segment, scores in enumerate(per_segment)
    ]
    return Stability(
        samples=samples,
        sample_rows=size,
        mean_ari=mean_ari,
        segments=segments,
        threshold=LOW_ARI,
        segment_threshold=LOW_SEGMENT_ARI,
        warning=_warning(mean_ari, segments),
    )


def _warning(mean_ari: float, segments: list[SegmentStability]) -> str | None:
    problems = []
    if mean_ari < LOW_ARI:
        problems.append(
            f"the segmentation is unstable: mean adjusted Rand index {mean_ari:.2f} under "
            f"bootstrap resampling is below {LOW_ARI}"
        )
    shaky = [s for s in segments if s.mean_ari < LOW_SEGMENT_ARI]
    if shaky:
        listed = ", ".join(f"{s.id} ({s.mean_ari:.2f})" for s in shaky)
        problems.append(f"segments {listed} are below {LOW_SEGMENT_ARI}")
    if not problems:
        return None
    return "; ".join(problems) + ": consider another k or more data before acting on them"
