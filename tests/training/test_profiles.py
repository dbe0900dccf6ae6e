"""Segment profiles and their names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TrainFn
from tests.schemas import MALL
from training.profiles import histogram, segment_names


def names_of(centres: np.ndarray, features: list[str], raw: np.ndarray | None = None) -> list[str]:
    """Names of numeric centres in standard deviations (``raw``: in the model's input units,
    where a categorical feature's indicator columns hold its level shares)."""
    return segment_names(centres, centres if raw is None else raw, MALL.select(features))


@pytest.mark.parametrize(
    ("centre", "name"),
    [
        ([-1.0, 1.2], "Low income, high spending"),
        ([0.1, -0.2], "Average income, average spending"),
        ([1.0, -1.0], "High income, low spending"),
        ([0.6, 0.6], "High income, high spending"),
    ],
)
def test_names_say_where_the_centre_sits(centre: list[float], name: str) -> None:
    names = names_of(np.array([centre, [-5.0, -5.0]]), ["annual_income", "spending_score"])
    assert names[0] == name


def test_names_include_age_and_the_dominant_level_of_a_categorical_feature() -> None:
    scaled = np.array([[-1.0, 1.0, 0.9, -0.9], [1.0, 0.0, -0.9, 0.9], [0.0, 0.0, 0.0, 0.0]])
    # The indicator columns in input units: the share of each level at the centre.
    raw = np.array([[20, 90, 0.9, 0.1], [60, 60, 0.2, 0.8], [40, 60, 0.5, 0.5]])
    names = names_of(scaled, ["age", "annual_income", "gender"], raw)
    assert names == [
        "Young, high income, mostly Female",
        "Older, average income, mostly Male",
        "Middle-aged, average income",  # mixed: no level holds two thirds
    ]


def test_two_segments_with_the_same_words_are_told_apart() -> None:
    centres = np.array([[0.1, 0.2, 0.0], [0.4, -0.1, 0.0], [2.0, 2.0, 2.0]])
    names = names_of(centres, ["age", "annual_income", "spending_score"])
    assert names[0] == "Middle-aged, average income, average spending (younger)"
    assert names[1] == "Middle-aged, average income, average spending (older)"
    assert len(set(names)) == 3


def test_many_look_alike_segments_get_unique_names() -> None:
    centres = np.array([[0.0, 0.1], [0.0, 0.2], [0.0, 0.3], [0.0, 0.3]])
    names = names_of(centres, ["annual_income", "spending_score"])
    assert len(set(names)) == 4
    assert names[0] == "Average income, average spending (1 of 4 by spending score)"


def test_profiles_describe_each_segment(train_into: TrainFn) -> None:
    bundle = train_into(k=4)
    profiles = bundle.metadata.segments
    assert [p.id for p in profiles] == [0, 1, 2, 3]
    assert sum(p.size for p in profiles) == 300
    assert sum(p.share for p in profiles) == pytest.approx(1.0)
    assert len({p.name for p in profiles}) == 4
    labels = bundle.kmeans.labels_
    centres = bundle.scaler.inverse_transform(bundle.kmeans.cluster_centers_)
    for profile in profiles:
        assert profile.size == int((labels == profile.id).sum())
        assert list(profile.centroid) == ["age", "annual_income", "spending_score"]
        assert list(profile.centroid.values()) == pytest.approx(list(centres[profile.id]))
        for stats in profile.features.values():
            assert stats.min <= stats.q25 <= stats.median <= stats.q75 <= stats.max
            assert stats.min <= stats.mean <= stats.max
        # Gender is an attribute of the sample (not a feature): its levels are described.
        gender = profile.levels["gender"]
        assert sum(g.count for g in gender.values()) == profile.size
        assert sum(g.share for g in gender.values()) == pytest.approx(1.0)


def test_centroid_mean_matches_member_mean(train_into: TrainFn) -> None:
    # K-Means centres are the means of their members (after scaling, which is affine).
    for profile in train_into(k=3).metadata.segments:
        for feature, value in profile.centroid.items():
            assert profile.features[feature].mean == pytest.approx(value, rel=1e-6)


def test_no_gender_column_means_no_gender_mix(train_into: TrainFn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "no_gender.csv"
    data.write_text(
        "age,annual_income,spending_score\n"
        + "\n".join(f"{20 + i % 40},{15 + (i * 7) % 100},{1 + (i * 13) % 100}" for i in range(60))
    )
    bundle = train_into(data=data, k=3)
    assert all(p.levels == {} and p.gender_mix is None for p in bundle.metadata.segments)


def test_histogram_bins_follow_searchsorted_left_convention() -> None:
    values = pd.Series(np.arange(1, 101, dtype=float))
    result = histogram(values)
    assert len(result.edges) == 9
    assert len(result.shares) == 10
    assert sum(result.shares) == pytest.approx(1.0)
    assert result.shares == pytest.approx([0.1] * 10)
    # Every value sits in (edges[i-1], edges[i]]: the same rule the service uses to bin requests.
    bins = np.searchsorted(result.edges, values.to_numpy(), side="left")
    assert np.bincount(bins).tolist() == [10] * 10


def test_histogram_of_a_constant_merges_bins() -> None:
    result = histogram(pd.Series([5.0] * 20))
    assert result.edges == [5.0]
    assert result.shares == [1.0, 0.0]


def test_a_column_named_average_something_is_typical_in_the_middle_not_average_average() -> None:
    from segmentation.schema import FeatureSchema, NumericFeature

    schema = FeatureSchema(
        features=[
            NumericFeature(name="average_basket", minimum=0, maximum=500),
            NumericFeature(name="tenure_months", minimum=0, maximum=600),
        ]
    )
    centres = np.array([[0.1, 0.0], [1.5, -1.5], [-1.5, 0.0]])
    assert segment_names(centres, centres, schema) == [
        "Typical average basket, average tenure months",
        "High average basket, low tenure months",
        "Low average basket, average tenure months",
    ]
