"""The numpy fast path must return exactly Pipeline.predict's labels, ties and extremes included."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from segmentation.bundle import Bundle, load_bundle
from segmentation.nearest_centroid import CentroidScorer
from segmentation.schema import NumericFeature
from segmentation.validation import check_columns
from tests.conftest import TrainFn
from tests.schemas import MALL

FEATURE_SETS = [
    ("age", "annual_income", "spending_score"),
    ("annual_income", "spending_score"),
    ("gender", "age", "spending_score"),
]


def bounds(feature: str) -> tuple[float, float]:
    spec = MALL.feature(feature)
    assert isinstance(spec, NumericFeature)
    return float(spec.minimum), float(spec.maximum)


def random_rows(features: tuple[str, ...], count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = []
    for feature in features:
        if feature == "gender":
            columns.append(rng.choice(["Female", "Male"], count))
            continue
        low, high = bounds(feature)
        if feature == "annual_income":
            # Mostly realistic incomes, some anywhere in the accepted range.
            realistic = rng.uniform(0, 200, count)
            columns.append(
                np.where(rng.random(count) < 0.9, realistic, rng.uniform(low, high, count))
            )
        else:
            columns.append(rng.uniform(low, high, count))
    return pd.DataFrame(dict(zip(features, columns, strict=True)))


def model_input(bundle: Bundle, frame: pd.DataFrame) -> np.ndarray:
    """What the service scores: the frame checked and encoded by the bundle's schema."""
    checked = check_columns(frame, bundle.metadata.feature_schema)
    assert checked.valid.all()
    return checked.feature_matrix()


def numeric_scaler(bundle: Bundle) -> StandardScaler:
    scaler = bundle.pipeline.named_steps["scaler"]
    assert isinstance(scaler, StandardScaler)
    return scaler


def boundary_rows(bundle: Bundle, features: tuple[str, ...]) -> pd.DataFrame:
    """Range corners, the centroids themselves, and points on and near every bisector (for
    numeric features: a categorical one has no points between its levels)."""
    if "gender" in features:
        return pd.DataFrame(columns=list(features))
    scaler = numeric_scaler(bundle)
    centres = bundle.kmeans.cluster_centers_
    rows = [np.array(corner) for corner in itertools.product(*(bounds(f) for f in features))]
    rows += list(scaler.inverse_transform(centres))
    for i, j in itertools.combinations(range(len(centres)), 2):
        midpoint = (centres[i] + centres[j]) / 2
        direction = centres[j] - centres[i]
        for step in (0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-6, -1e-6):
            rows.append(scaler.inverse_transform([midpoint + step * direction])[0])
    return pd.DataFrame(np.array(rows), columns=list(features))


@pytest.fixture(params=FEATURE_SETS, ids=lambda f: "+".join(f))
def bundle(request: pytest.FixtureRequest, trained_copy: TrainFn) -> Bundle:
    features: tuple[str, ...] = request.param
    return trained_copy(features=features, k=6)


def test_fast_path_equals_pipeline_predict(bundle: Bundle) -> None:
    features = tuple(bundle.metadata.features)
    frames = [random_rows(features, 12_000, seed=5), boundary_rows(bundle, features)]
    frame = pd.concat([f for f in frames if len(f)], ignore_index=True)
    assert len(frame) >= 12_000
    expected = bundle.pipeline.predict(frame)
    result = CentroidScorer.from_numbers(bundle.numbers).assign(model_input(bundle, frame))
    mismatches = np.flatnonzero(result.segment_ids != expected)
    assert mismatches.size == 0, (
        f"{mismatches.size} labels differ, first rows: {frame.iloc[mismatches[:3]]}"
    )


def test_distance_is_euclidean_in_scaled_units(bundle: Bundle) -> None:
    features = tuple(bundle.metadata.features)
    frame = random_rows(features, 500, seed=8)
    result = CentroidScorer.from_numbers(bundle.numbers).assign(model_input(bundle, frame))
    scaled = bundle.pipeline.named_steps["scaler"].transform(frame)
    all_distances = np.linalg.norm(scaled[:, None, :] - bundle.kmeans.cluster_centers_, axis=2)
    np.testing.assert_allclose(result.distances, all_distances.min(axis=1), rtol=1e-12, atol=1e-12)
    rows = len(frame)
    np.testing.assert_allclose(
        result.distances, all_distances[np.arange(rows), result.segment_ids], rtol=1e-12
    )


def test_a_centroid_is_at_distance_zero(bundle: Bundle) -> None:
    numbers = bundle.numbers
    centres = bundle.kmeans.cluster_centers_ * numbers.scale + numbers.mean
    result = CentroidScorer.from_numbers(bundle.numbers).assign(centres)
    assert result.segment_ids.tolist() == list(range(len(centres)))
    np.testing.assert_allclose(result.distances, 0, atol=1e-9)


def test_wrong_shape_is_refused(trained_copy: TrainFn) -> None:
    scorer = CentroidScorer.from_numbers(trained_copy(k=3).numbers)
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
        model_input(bundle, frame)
    ).segment_ids.tolist() == (expected.tolist())
