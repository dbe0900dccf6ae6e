"""Step 5 of training: describe each segment and give it a name a marketer can read.

A name comes from where the segment's centre sits relative to the whole population, measured in
standard deviations (the scaler's units): below -0.5 is "low", above +0.5 is "high", in between
"average"; a categorical feature adds the level that holds two thirds of the centre, if one
does. Two segments that would share a name are told apart by the feature on which their centres
differ most.

A model on RFM features (``segment-train --transactions``) gets the names CRM teams use, from
the centre's recency r (recent is high: minus the recency z), frequency f, monetary m and
tenure t, in standard deviations, the first rule that holds:

- "New": r > 0.5 and t < -0.5 (a first order not long ago);
- "Champions": r > 0.5, f > 0.5 and m > 0.5;
- "Loyal": r >= -0.5 and (f > 0.5 or m > 0.5);
- "At risk": r < -0.5 and (f > 0 or m > 0) (they bought much, and have stopped);
- "Hibernating": r < -0.5;
- "Promising": r > 0.5;
- "Needs attention": anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from segmentation.metadata import (
    DistanceStats,
    FeatureStats,
    Histogram,
    LevelShare,
    SegmentProfile,
)
from segmentation.names import MAX_NAME_CHARACTERS
from segmentation.rfm import rfm_feature_names
from segmentation.schema import LEVEL_SEPARATOR, CategoricalFeature, FeatureSchema, NumericFeature

LEVEL_THRESHOLD: Final = 0.5
# A categorical feature enters a segment's name when one level holds at least this share of the
# segment's centre ("mostly online"); otherwise the segment is mixed on it and it is left out.
DOMINANT_SHARE: Final = 2 / 3


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


def segment_names(
    scaled_centroids: np.ndarray, input_centroids: np.ndarray, schema: FeatureSchema
) -> list[str]:
    """One distinct, readable name per centroid: where it sits on each number (in standard
    deviations), and the level that dominates each categorical feature, if one does."""
    rfm = rfm_feature_names(schema.names)
    names = [
        _rfm_name(scaled, schema) if rfm else _base_name(scaled, raw, schema)
        for scaled, raw in zip(scaled_centroids, input_centroids, strict=True)
    ]
    for name in set(names):
        members = [i for i, n in enumerate(names) if n == name]
        if len(members) > 1:
            for index, qualifier in _qualifiers(scaled_centroids, members, schema).items():
                names[index] = f"{name} ({qualifier})"
    # A last resort that cannot collide: centres identical on every feature.
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[index] = f"{name} #{seen[name]}"
    return [_within_limit(name, index) for index, name in enumerate(names)]


def _within_limit(name: str, index: int) -> str:
    """A name short enough to be sent back to segment-names and PUT /admin/names as it is:
    many long feature names make long names, cut at a word with the segment's place, which
    keeps it unique."""
    if len(name) <= MAX_NAME_CHARACTERS:
        return name
    tail = f"... (#{index + 1})"
    cut = name[: MAX_NAME_CHARACTERS - len(tail)]
    return cut[: cut.rfind(" ")].rstrip(",") + tail if " " in cut else cut + tail


def build_profiles(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    labels: np.ndarray,
    distances: np.ndarray,
    input_centroids: np.ndarray,
    scaled_centroids: np.ndarray,
    segment_ids: Sequence[int] | None = None,
) -> list[SegmentProfile]:
    """Profiles in segment-id order; ``frame`` holds the validated customers in original units,
    ``labels`` their centroid rows, ``distances`` each customer's distance to its centroid in
    scaled units, and the centroids are in the model's input columns
    (``schema.encoded_columns()``); ``segment_ids`` are the rows' ids (default: the rows)."""
    names = segment_names(scaled_centroids, input_centroids, schema)
    total = len(frame)
    columns = schema.encoded_columns()
    numeric = [f for f in schema.features if isinstance(f, NumericFeature)]
    categorical = [
        f for f in schema.columns if isinstance(f, CategoricalFeature) and f.name in frame.columns
    ]
    profiles = []
    for row, name in enumerate(names):
        members = frame[labels == row]
        profiles.append(
            SegmentProfile(
                id=row if segment_ids is None else segment_ids[row],
                name=name,
                auto_name=name,
                size=len(members),
                share=len(members) / total,
                centroid=original_units(input_centroids[row], columns, schema),
                features={f.name: describe_distribution(members[f.name]) for f in numeric},
                levels={f.name: level_shares(members[f.name], f) for f in categorical},
                distances=_distance_stats(distances[labels == row]),
            )
        )
    return profiles


def original_units(
    centre: np.ndarray, columns: Sequence[str], schema: FeatureSchema
) -> dict[str, float]:
    """A centre in the model's input columns, in the units people read: a log1p feature back
    through expm1, indicator columns as they are."""
    values = {}
    for column, value in zip(columns, centre, strict=True):
        feature = schema.feature(column.split(LEVEL_SEPARATOR, 1)[0])
        logged = isinstance(feature, NumericFeature) and feature.transform == "log1p"
        values[column] = float(np.expm1(value)) if logged else float(value)
    return values


def level_shares(column: pd.Series, feature: CategoricalFeature) -> dict[str, LevelShare]:
    """Count and share of each level (blank attribute values are counted in no level)."""
    counts = column.value_counts(dropna=True)
    total = len(column)
    return {
        level: LevelShare(count=int(counts.get(level, 0)), share=int(counts.get(level, 0)) / total)
        for level in feature.levels
        if total
    }


def _words(feature: NumericFeature) -> tuple[str, str, str]:
    if feature.words is not None:
        return feature.words
    label = feature.name.replace("_", " ")
    # "average average basket" reads as a stammer: such a column's middle is "typical".
    middle = "typical" if label.split(" ", 1)[0].lower() in {"average", "mean"} else "average"
    return f"low {label}", f"{middle} {label}", f"high {label}"


def _contrast(feature: NumericFeature | CategoricalFeature) -> tuple[str, str]:
    if isinstance(feature, NumericFeature) and feature.contrast is not None:
        return feature.contrast
    label = feature.name.replace("_", " ")
    return f"lower {label}", f"higher {label}"


def _rfm_name(scaled: np.ndarray, schema: FeatureSchema) -> str:
    z = dict(zip(schema.encoded_columns(), scaled.tolist(), strict=True))
    r, f, m, t = -z["recency_days"], z["frequency"], z["monetary"], z["tenure_days"]
    high, low = LEVEL_THRESHOLD, -LEVEL_THRESHOLD
    rules = (
        ("New", r > high and t < low),
        ("Champions", r > high and f > high and m > high),
        ("Loyal", r >= low and (f > high or m > high)),
        ("At risk", r < low and (f > 0 or m > 0)),
        ("Hibernating", r < low),
        ("Promising", r > high),
    )
    return next((name for name, holds in rules if holds), "Needs attention")


def _base_name(scaled: np.ndarray, raw: np.ndarray, schema: FeatureSchema) -> str:
    words = []
    position = 0
    for feature in schema.features:
        if isinstance(feature, NumericFeature):
            z = scaled[position]
            low, average, high = _words(feature)
            words.append(low if z < -LEVEL_THRESHOLD else high if z > LEVEL_THRESHOLD else average)
            position += 1
            continue
        width = len(feature.encoded_columns())
        shares = raw[position : position + width]
        if feature.encoding == "first_level":
            shares = np.array([shares[0], 1 - shares[0]])
        best = int(np.argmax(shares))
        if shares[best] >= DOMINANT_SHARE:
            words.append(f"mostly {feature.levels[best]}")
        position += width
    text = ", ".join(words) or "Mixed"
    return text[0].upper() + text[1:]


def _qualifiers(
    scaled_centroids: np.ndarray, members: list[int], schema: FeatureSchema
) -> dict[int, str]:
    centres = scaled_centroids[members]
    axis = int(np.argmax(centres.max(axis=0) - centres.min(axis=0)))
    owner = schema.owner_of_columns()[axis]
    column = schema.encoded_columns()[axis]
    order = [members[i] for i in np.argsort(centres[:, axis], kind="stable")]
    feature = schema.feature(owner)
    if isinstance(feature, CategoricalFeature) and column != owner:
        level = column.split(LEVEL_SEPARATOR, 1)[1]
        label, lower, higher = f"share of {level}", f"fewer {level}", f"more {level}"
    else:
        label = owner.replace("_", " ")
        lower, higher = _contrast(feature)
    if len(order) == 2:
        return {order[0]: lower, order[1]: higher}
    return {
        index: f"{rank} of {len(order)} by {label}" for rank, index in enumerate(order, start=1)
    }


def _distance_stats(distances: np.ndarray) -> DistanceStats:
    p50, p90, p99 = (float(v) for v in np.quantile(distances, [0.5, 0.9, 0.99]))
    return DistanceStats(p50=p50, p90=p90, p99=p99, max=float(distances.max()))
