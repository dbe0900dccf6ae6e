"""The explanation arithmetic: runner-up, margin, confidence and contributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.assigner import Assigner
from segmentation.bundle import load_bundle

ROWS = st.lists(
    st.tuples(st.floats(0, 120), st.floats(0, 1_000_000), st.floats(1, 100)),
    min_size=1,
    max_size=30,
)


@pytest.fixture(scope="module")
def assigner(trained_models: Path) -> Assigner:
    return Assigner.from_bundle(load_bundle(trained_models))


@settings(max_examples=200, deadline=None)
@given(rows=ROWS)
def test_explanations_follow_their_formulas(
    assigner: Assigner, rows: list[tuple[float, float, float]]
) -> None:
    matrix = np.array(rows, dtype=float)
    scored = assigner.score(matrix)
    explained = assigner.explain(scored)
    scaled = assigner.scorer.scale_rows(matrix)
    centres = assigner.scorer.centroids
    all_distances = np.linalg.norm(scaled[:, None, :] - centres[None], axis=2)
    ids = scored.assignments.segment_ids
    d1 = scored.assignments.distances
    assert (explained.runner_up_ids != ids).all()
    d2 = all_distances[np.arange(len(rows)), explained.runner_up_ids]
    np.testing.assert_allclose(explained.runner_up_distances, d2, rtol=1e-12)
    others = all_distances.copy()
    others[np.arange(len(rows)), ids] = np.inf
    np.testing.assert_allclose(d2, others.min(axis=1), rtol=1e-12)
    assert (explained.margins >= 0).all()
    np.testing.assert_allclose(explained.margins, np.maximum(d2 - d1, 0), atol=1e-12)
    assert ((explained.confidences >= 0) & (explained.confidences <= 1)).all()
    np.testing.assert_allclose(explained.confidences, np.clip(1 - d1 / d2, 0, 1), atol=1e-12)
    shares = explained.contributions
    assert (shares >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-9)
    squared = (scaled - centres[ids]) ** 2
    np.testing.assert_allclose(shares * (d1**2)[:, None], squared, rtol=1e-9, atol=1e-12)


def test_on_a_centroid_confidence_is_one_and_nothing_contributes(assigner: Assigner) -> None:
    scorer = assigner.scorer
    centres = scorer.centroids * scorer.scale + scorer.mean
    explained = assigner.explain(assigner.score(centres))
    np.testing.assert_allclose(explained.confidences, 1.0, atol=1e-9)
    np.testing.assert_allclose(explained.contributions, 0.0, atol=1e-9)


def test_halfway_between_two_centroids_confidence_is_zero(assigner: Assigner) -> None:
    scorer = assigner.scorer
    a, b = scorer.centroids[0], scorer.centroids[1]
    midpoint = ((a + b) / 2) * scorer.scale + scorer.mean
    scored = assigner.score(midpoint[None, :])
    explained = assigner.explain(scored)
    if explained.runner_up_ids[0] in (0, 1) and scored.assignments.segment_ids[0] in (0, 1):
        assert explained.confidences[0] == pytest.approx(0.0, abs=1e-9)
        assert explained.margins[0] == pytest.approx(0.0, abs=1e-9)


def test_atypical_means_beyond_the_segments_p99(assigner: Assigner, trained_models: Path) -> None:
    profiles = load_bundle(trained_models).metadata.segments
    assert [p.distances.p99 for p in profiles] == assigner.atypical_limits.tolist()
    for profile in profiles:
        assert 0 < profile.distances.p50 <= profile.distances.p90 <= profile.distances.p99
        assert profile.distances.p99 <= profile.distances.max
    far = np.array([[120.0, 1_000_000.0, 1.0]])
    assert assigner.score(far).atypical.tolist() == [True]
    scorer = assigner.scorer
    centres = scorer.centroids * scorer.scale + scorer.mean
    assert not assigner.score(centres).atypical.any()
