"""The numpy fast path must return exactly Pipeline.predict's labels, ties and extremes included."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.bundle import Bundle, load_bundle
from segmentation.features import NUMERIC_FEATURES
from segmentation.nearest_centroid import CentroidScorer
from tests.conftest import TrainFn

FEATURE_SETS = [
    ("age", "annual_income", "spending_score"),
    ("annual_income", "spending_score"),
    ("gender", "age", "spending_score"),
]


def bounds(feature: str) -> tuple[float, float]:
    if feature == "gender":
        return 0.0, 1.0
    spec = NUMERIC_FEATURES[feature]
    return float(spec.minimum), float(spec.maximum)


def random_rows(features: tuple[str, ...], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    columns = []
    for feature in features:
        low, high = bounds(feature)
        if feature == "gender":
            columns.append(rng.integers(0, 2, count).astype(float))
        elif feature == "annual_income":
            # Mostly realistic incomes, some anywhere in the accepted range.
            realistic = rng.uniform(0, 200, count)
            columns.append(
                np.where(rng.random(count) < 0.9, realistic, rng.uniform(low, high, count))
            )
        else:
            columns.append(rng.uniform(low, high, count))
    return np.column_stack(columns)


def boundary_rows(bundle: Bundle, features: tuple[str, ...]) -> np.ndarray:
    """Range corners, the centroids themselves, and points on and near every bisector."""
    scaler = bundle.scaler
    centres = bundle.kmeans.cluster_centers_
    rows = [np.array(corner) for corner in itertools.product(*(bounds(f) for f in features))]
    rows += list(scaler.inverse_transform(centres))
    for i, j in itertools.combinations(range(len(centres)), 2):
        midpoint = (centres[i] + centres[j]) / 2
        direction = centres[j] - centres[i]
        for step in (0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-6, -1e-6):
            rows.append(scaler.inverse_transform([midpoint + step * direction])[0])
    return np.array(rows)


@pytest.fixture(params=FEATURE_SETS, ids=lambda f: "+".join(f))
def bundle(request: pytest.FixtureRequest, train_into: TrainFn) -> Bundle:
    features: tuple[str, ...] = request.param
    return train_into(features=features, k=6)


def test_fast_path_equals_pipeline_predict(bundle: Bundle) -> None:
    features = tuple(bundle.metadata.features)
    rows = np.vstack([random_rows(features, 12_000, seed=5), boundary_rows(bundle, features)])
    assert len(rows) > 12_000
    expected = bundle.pipeline.predict(pd.DataFrame(rows, columns=list(features)))
    result = CentroidScorer.from_numbers(bundle.numbers).assign(rows)
    mismatches = np.flatnonzero(result.segment_ids != expected)
    assert mismatches.size == 0, (
        f"{mismatches.size} labels differ, first rows: {rows[mismatches[:3]]}"
    )


def test_distance_is_euclidean_in_scaled_units(bundle: Bundle) -> None:
    features = tuple(bundle.metadata.features)
    rows = random_rows(features, 500, seed=8)
    result = CentroidScorer.from_numbers(bundle.numbers).assign(rows)
    scaled = bundle.scaler.transform(pd.DataFrame(rows, columns=list(features)))
    all_distances = np.linalg.norm(scaled[:, None, :] - bundle.kmeans.cluster_centers_, axis=2)
    np.testing.assert_allclose(result.distances, all_distances.min(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        result.distances, all_distances[np.arange(len(rows)), result.segment_ids], rtol=1e-12
    )


def test_a_centroid_is_at_distance_zero(bundle: Bundle) -> None:
    centres = bundle.scaler.inverse_transform(bundle.kmeans.cluster_centers_)
    result = CentroidScorer.from_numbers(bundle.numbers).assign(centres)
    assert result.segment_ids.tolist() == list(range(len(centres)))
    np.testing.assert_allclose(result.distances, 0, atol=1e-9)


def test_wrong_shape_is_refused(train_into: TrainFn) -> None:
    scorer = CentroidScorer.from_numbers(train_into(k=3).numbers)
    with pytest.raises(ValueError, match=r"expected an \(n, 3\) array"):
        scorer.assign(np.zeros((2, 2)))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.floats(0, 120), st.floats(0, 1_000_000), st.floats(1, 100)),
        min_size=1,
        max_size=20,
    )
)
def test_any_valid_customer_gets_predicts_label(
    trained_models: Path, rows: list[tuple[float, float, float]]
) -> None:
    bundle = load_bundle(trained_models)
    frame = pd.DataFrame(rows, columns=list(bundle.metadata.features))
    expected = bundle.pipeline.predict(frame)
    assert CentroidScorer.from_numbers(bundle.numbers).assign(
        frame.to_numpy()
    ).segment_ids.tolist() == (expected.tolist())
