"""Step 5 of training: describe each segment and give it a name a marketer can read.

A name comes from where the segment's centre sits relative to the whole population, measured in
standard deviations (the scaler's units): below -0.5 is "low", above +0.5 is "high", in between
"average". Two segments that would share a name are told apart by the feature on which their
centres differ most.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from segmentation.features import GENDER
from segmentation.metadata import (
    DistanceStats,
    FeatureStats,
    GenderShare,
    Histogram,
    SegmentProfile,
)
from segmentation.validation import UNKNOWN_GENDER

LEVEL_THRESHOLD: Final = 0.5

# feature -> (low, average, high) words, and the (lower, higher) words to tell two segments apart.
_LEVEL_WORDS: Final[dict[str, tuple[str, str, str]]] = {
    "age": ("young", "middle-aged", "older"),
    "annual_income": ("low income", "average income", "high income"),
    "spending_score": ("low spending", "average spending", "high spending"),
    GENDER: ("mostly male", "mixed gender", "mostly female"),
}
_CONTRAST_WORDS: Final[dict[str, tuple[str, str]]] = {
    "age": ("younger", "older"),
    "annual_income": ("lower income", "higher income"),
    "spending_score": ("lower spending", "higher spending"),
    GENDER: ("more male", "more female"),
}


def describe_distribution(values: pd.Series) -> FeatureStats:
    q25, median, q75 = (float(v) for v in values.quantile([0.25, 0.5, 0.75]))
    return FeatureStats(
        mean=float(values.mean()),
        std=float(values.std(ddof=0)),
        min=float(values.min()),
        q25=q25,
        median=median,
        q75=q75,
        max=float(values.max()),
    )


def histogram(values: pd.Series, bins: int = 10) -> Histogram:
    """Shares of ``values`` on (at most) ``bins`` quantile bins; ties merge bins."""
    quantiles = np.quantile(values.to_numpy(), np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(quantiles)
    counts = np.bincount(
        np.searchsorted(edges, values.to_numpy(), side="left"), minlength=len(edges) + 1
    )
    return Histogram(edges=edges.tolist(), shares=(counts / counts.sum()).tolist())


def segment_names(scaled_centroids: np.ndarray, features: Sequence[str]) -> list[str]:
    """One distinct, readable name per centroid (centroids in standard-scaled units)."""
    names = [_base_name(centre, features) for centre in scaled_centroids]
    for name in set(names):
        members = [i for i, n in enumerate(names) if n == name]
        if len(members) > 1:
            for index, qualifier in _qualifiers(scaled_centroids, members, features).items():
                names[index] = f"{name} ({qualifier})"
    # A last resort that cannot collide: centres identical on every feature.
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[index] = f"{name} #{seen[name]}"
    return names


def build_profiles(
    frame: pd.DataFrame,
    features: Sequence[str],
    labels: np.ndarray,
    distances: np.ndarray,
    centroids: np.ndarray,
    scaled_centroids: np.ndarray,
) -> list[SegmentProfile]:
    """Profiles in segment-id order; ``frame`` holds the validated customers in original units,
    ``distances`` each customer's distance to its centroid in scaled units."""
    names = segment_names(scaled_centroids, features)
    total = len(frame)
    profiles = []
    for segment_id, name in enumerate(names):
        members = frame[labels == segment_id]
        profiles.append(
            SegmentProfile(
                id=segment_id,
                name=name,
                auto_name=name,
                size=len(members),
                share=len(members) / total,
                centroid={
                    f: float(v) for f, v in zip(features, centroids[segment_id], strict=True)
                },
                features={f: describe_distribution(members[f]) for f in features if f != GENDER},
                gender_mix=_gender_mix(members) if GENDER in frame.columns else None,
                distances=_distance_stats(distances[labels == segment_id]),
            )
        )
    return profiles


def _base_name(centre: np.ndarray, features: Sequence[str]) -> str:
    words = []
    for feature, z in zip(features, centre, strict=True):
        low, average, high = _LEVEL_WORDS[feature]
        words.append(low if z < -LEVEL_THRESHOLD else high if z > LEVEL_THRESHOLD else average)
    text = ", ".join(words)
    return text[0].upper() + text[1:]


def _qualifiers(
    scaled_centroids: np.ndarray, members: list[int], features: Sequence[str]
) -> dict[int, str]:
    centres = scaled_centroids[members]
    axis = int(np.argmax(centres.max(axis=0) - centres.min(axis=0)))
    feature = features[axis]
    order = [members[i] for i in np.argsort(centres[:, axis], kind="stable")]
    lower, higher = _CONTRAST_WORDS[feature]
    if len(order) == 2:
        return {order[0]: lower, order[1]: higher}
    return {
        index: f"{rank} of {len(order)} by {feature.replace('_', ' ')}"
        for rank, index in enumerate(order, start=1)
    }


def _distance_stats(distances: np.ndarray) -> DistanceStats:
    p50, p90, p99 = (float(v) for v in np.quantile(distances, [0.5, 0.9, 0.99]))
    return DistanceStats(p50=p50, p90=p90, p99=p99, max=float(distances.max()))


def _gender_mix(members: pd.DataFrame) -> dict[str, GenderShare]:
    counts = members[GENDER].value_counts()
    total = int(counts.sum())
    order = [g for g in ("Female", "Male", UNKNOWN_GENDER) if g in counts.index]
    return {g: GenderShare(count=int(counts[g]), share=int(counts[g]) / total) for g in order}
