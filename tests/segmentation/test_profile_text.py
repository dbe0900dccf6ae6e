"""The sentence each segment gets (segmentation.profile_text) never contradicts its numbers:
checked on the classic mall study, the shipped wide retail sample and an RFM bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import wide_data
from segmentation.bundle import Bundle
from segmentation.metadata import SegmentProfile, TrainingSummary
from segmentation.profile_text import DOMINANT_SHARE, profile_text, profile_texts
from segmentation.schema import CategoricalFeature, NumericFeature
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV, REPO_ROOT
from training.train import TrainingOptions, train

RETAIL_CSV = REPO_ROOT / "data" / "sample_retail_customers.csv"
SAMPLE_ORDERS = REPO_ROOT / "data" / "sample_orders.csv"


def trained(tmp_path: Path, source: Path, **options: object) -> Bundle:
    settings: dict[str, object] = {"k": 5, "stability_samples": 0, **options}
    return train(
        TrainingOptions(
            source=DataSource(str(source)),
            models_dir=tmp_path / "models",
            **settings,  # type: ignore[arg-type]
        )
    )


def assert_never_contradicts(summary: TrainingSummary, profile: SegmentProfile) -> str:
    text = profile_text(profile, summary)
    for feature in summary.feature_schema.features:
        if isinstance(feature, CategoricalFeature):
            for level, share in profile.levels.get(feature.name, {}).items():
                if f"mostly {level} (" in text:
                    assert share.share >= DOMINANT_SHARE, (text, feature.name, level)
            continue
        assert isinstance(feature, NumericFeature)
        segment = profile.features[feature.name]
        population = summary.feature_stats[feature.name]
        low, _, high = feature.words or (
            f"low {feature.name.replace('_', ' ')}",
            "",
            f"high {feature.name.replace('_', ' ')}",
        )
        if feature.unit != "years":
            if low in text:
                assert segment.q75 < population.median, (text, feature.name, segment)
            if high in text:
                assert segment.q25 > population.median, (text, feature.name, segment)
            # A segment whose middle half is above the typical customer is never called low.
            if segment.q25 >= population.median:
                assert low not in text, (text, feature.name)
            if segment.q75 <= population.median:
                assert high not in text, (text, feature.name)
    return text


@pytest.mark.skipif(not CLASSIC_CSV.is_file(), reason="the classic study's file is not here")
def test_the_mall_model_reads_in_plain_words(tmp_path: Path) -> None:
    bundle = trained(tmp_path, CLASSIC_CSV)
    summary = bundle.metadata
    texts = [assert_never_contradicts(summary, p) for p in summary.segments]
    assert all(t.startswith("Customers ") for t in texts)
    # The young big spenders of the study: high income and spending, ages by decade.
    spenders = [
        p
        for p in summary.segments
        if p.features["spending_score"].q25 > summary.feature_stats["spending_score"].median
        and p.features["annual_income"].q25 > summary.feature_stats["annual_income"].median
    ]
    assert spenders
    text = profile_text(spenders[0], summary)
    assert "high income" in text
    assert "high spending" in text
    age = spenders[0].features["age"]
    assert f"in their {int(age.q25 // 10) * 10}s" in text


def test_the_generated_classic_sample_never_contradicts(tmp_path: Path) -> None:
    bundle = trained(tmp_path, REPO_ROOT / "data" / "sample_customers.csv", k=6)
    for profile in bundle.metadata.segments:
        text = assert_never_contradicts(bundle.metadata, profile)
        age = profile.features["age"]
        if "in their" in text:
            decades = [int(word[:-1]) for word in text.split() if word.endswith("0s")]
            assert min(decades) <= age.q25
            assert age.q75 < max(decades) + 10
        else:
            assert f"aged {int(age.q25)}" in text


def test_the_wide_retail_sample_says_dominant_levels_only(tmp_path: Path) -> None:
    features = ["tenure_months", "orders_per_year", "average_basket", "channel", "loyalty_tier"]
    bundle = trained(tmp_path, RETAIL_CSV, k=4, features=features)
    summary = bundle.metadata
    categorical = [f for f in summary.feature_schema.features if isinstance(f, CategoricalFeature)]
    assert categorical  # the sample has channel, tier and region
    seen_level = False
    for profile in summary.segments:
        text = assert_never_contradicts(summary, profile)
        for feature in categorical:
            shares = profile.levels[feature.name]
            best = max(shares, key=lambda level: shares[level].share)
            said = f"mostly {best} ({feature.name.replace('_', ' ')})" in text
            assert said == (shares[best].share >= DOMINANT_SHARE), (text, feature.name)
            seen_level |= said
    assert seen_level


def test_the_wide_benchmark_bundle_never_contradicts(tmp_path: Path) -> None:
    """bench.wide_data's retailer table (12 numbers, 3 categories, its own schema file)."""
    data = tmp_path / "wide.csv"
    wide_data.write_table(3_000, wide_data.TRAINING_SEED, data)
    schema = wide_data.write_schema(tmp_path / "wide.toml")
    bundle = trained(tmp_path, data, schema_file=schema)
    texts = [assert_never_contradicts(bundle.metadata, p) for p in bundle.metadata.segments]
    assert len(set(texts)) == len(texts)  # five planted groups read differently
    # Fifteen columns, one sentence: the four numbers that stand out most, and two levels.
    assert all(text.count(",") + text.count(" and ") <= 5 for text in texts), texts


def test_an_rfm_bundle_uses_the_rfm_words_and_its_medians(tmp_path: Path) -> None:
    bundle = trained(tmp_path, SAMPLE_ORDERS, orders=True)
    summary = bundle.metadata
    texts = profile_texts(summary)
    for profile in summary.segments:
        text = texts[profile.id]
        stats, population = profile.features, summary.feature_stats
        recency = stats["recency_days"]
        if text.lower().startswith("recent"):
            assert recency.q75 < population["recency_days"].median
        if "lapsed" in text.lower():
            assert recency.q25 > population["recency_days"].median
        if "frequent" in text.lower().replace("infrequent", ""):
            assert stats["frequency"].q25 > population["frequency"].median
        if "occasional" in text.lower():
            assert stats["frequency"].q75 < population["frequency"].median
        assert f"the last {round(recency.median):,} day" in text
        assert f"{stats['monetary'].median:,.0f} in all" in text
    assert any(
        word in " ".join(texts.values()).lower() for word in ("recent", "lapsed", "frequent")
    )


def test_only_an_age_is_told_as_the_customers_age(tmp_path: Path) -> None:
    """Years since joining were told as the customers' age ("Customers aged 10 to 12")."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    young, old = rng.normal(28, 3, 150), rng.normal(61, 3, 150)
    frame = pd.DataFrame(
        {
            "member_age": np.concatenate([young, old]).round(),
            "membership_years": np.concatenate([rng.normal(2, 0.5, 150), rng.normal(11, 1, 150)]),
        }
    )
    data = tmp_path / "members.csv"
    frame.to_csv(data, index=False)
    schema = tmp_path / "members.toml"
    schema.write_text(
        '[[feature]]\nname = "member_age"\nunit = "years"\n\n'
        '[[feature]]\nname = "membership_years"\nunit = "years"\n',
        encoding="utf-8",
    )
    bundle = trained(tmp_path, data, k=2, schema_file=schema)
    texts = sorted(profile_texts(bundle.metadata).values())
    assert texts == [
        "Customers in their 20s with low membership years",
        "Customers in their 50s and 60s with high membership years",
    ], texts
