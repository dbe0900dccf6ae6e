"""One sentence per segment that a marketer reads without statistics: who these customers are.

Made from where the segment's customers sit on each feature against the whole population, with
the words the bundle's feature schema gives (a feature's ``words``, its unit, its levels):

- a number is called high only when the segment's lower quartile is above the population's
  median, and low only when its upper quartile is below it: three quarters of the segment
  are on that side of the typical customer, so the words never contradict the numbers (a
  segment whose middle half spends 70 to 90 is never "low spending"); in between, it is
  mentioned (as average) only when nothing else stands out;
- a customer's age (a number in years named age) is told by the decades its middle half spans
  ("in their 20s and 30s");
- a categorical feature by its dominant level, when one holds two thirds of the segment;
- at most the four numbers on which the segment stands out most (its median farthest from the
  population's, in interquartile ranges) and two levels, so a wide model still reads as one
  sentence;
- RFM features (``segment-train --transactions``) in the words their names use: recent or
  lapsed, frequent or occasional, big or small spenders, with the segment's medians.

Computed when a bundle is loaded, so bundles written before have it too.
"""

from __future__ import annotations

import math
import re
from typing import Final

from segmentation.metadata import FeatureStats, SegmentProfile, TrainingSummary
from segmentation.rfm import rfm_feature_names
from segmentation.schema import CategoricalFeature, NumericFeature

DOMINANT_SHARE: Final = 2 / 3
YEARS: Final = "years"
# A sentence a person reads: the numbers on which the segment stands out most, and levels.
MAX_NUMBERS: Final = 4
MAX_LEVELS: Final = 2


def profile_texts(summary: TrainingSummary) -> dict[int, str]:
    """Each segment's sentence, by segment id."""
    return {profile.id: profile_text(profile, summary) for profile in summary.segments}


def profile_text(profile: SegmentProfile, summary: TrainingSummary) -> str:
    if rfm_feature_names(summary.feature_schema.names):
        return _rfm_text(profile, summary)
    ages: list[str] = []
    numbers: list[tuple[float, int, str]] = []  # (how far out, schema order, words)
    levels: list[tuple[float, int, str]] = []
    middling: list[str] = []  # what is said when nothing stands out
    for order, feature in enumerate(summary.feature_schema.features):
        if isinstance(feature, CategoricalFeature):
            level = dominant_level(profile, feature.name)
            if level is not None:
                share = profile.levels[feature.name][level].share
                levels.append((share, order, f"mostly {level} ({_label(feature.name)})"))
            continue
        segment = profile.features.get(feature.name)
        population = summary.feature_stats.get(feature.name)
        if segment is None or population is None:
            continue
        if _is_age(feature):
            ages.append(_years(segment))
            continue
        side = position(segment, population)
        if side is not None:
            spread = (population.q75 - population.q25) or 1.0
            distance = abs(segment.median - population.median) / spread
            numbers.append((distance, order, _side_words(feature, side)))
        else:
            middling.append(_side_words(feature, "average"))
    chosen = sorted(numbers, reverse=True)[:MAX_NUMBERS] + sorted(levels, reverse=True)[:MAX_LEVELS]
    traits = [words for _, _, words in sorted(chosen, key=lambda item: item[1])]
    lead = "Customers" + (f" {ages[0]}" if ages else "")
    if traits:
        return f"{lead} with {_join(traits)}"
    if middling:
        return f"{lead} with {_join(middling)}"
    return f"{lead} close to the typical customer"


def position(segment: FeatureStats, population: FeatureStats) -> str | None:
    """ "high" when three quarters of the segment are above the population's median, "low"
    when three quarters are below it, else None."""
    if segment.q25 > population.median:
        return "high"
    if segment.q75 < population.median:
        return "low"
    return None


def dominant_level(profile: SegmentProfile, name: str) -> str | None:
    shares = profile.levels.get(name, {})
    best = max(shares.items(), key=lambda item: item[1].share, default=None)
    if best is None or best[1].share < DOMINANT_SHARE:
        return None
    return best[0]


def _side_words(feature: NumericFeature, side: str) -> str:
    """The schema's words for low, average or high values, else "high <feature>"."""
    if feature.words is not None:
        return feature.words[("low", "average", "high").index(side)]
    return f"{side} {_label(feature.name)}"


def _is_age(feature: NumericFeature) -> bool:
    """A customer's age: in years, and named so (``age``, ``member_age``). Years since joining
    (``membership_years``) were told as the customers' age ("aged 10 to 12")."""
    words = {
        word
        for name in (feature.name, *feature.aliases)
        for word in re.split(r"[^a-z]+", name.casefold())
    }
    return feature.unit == YEARS and "age" in words


def _years(stats: FeatureStats) -> str:
    """The decades the middle half spans: "in their 30s", "in their 20s and 30s"."""
    low, high = int(stats.q25 // 10) * 10, int(stats.q75 // 10) * 10
    if low >= 20 and low == high:
        return f"in their {low}s"
    if low >= 20 and high - low == 10:
        return f"in their {low}s and {high}s"
    return f"aged {math.floor(stats.q25)} to {math.ceil(stats.q75)}"


def _rfm_text(profile: SegmentProfile, summary: TrainingSummary) -> str:
    words = []
    for feature, low, high in (
        ("recency_days", "recent", "lapsed"),  # few days since the last order is recent
        ("frequency", "occasional", "frequent"),
        ("monetary", "small", "big"),
    ):
        side = position(profile.features[feature], summary.feature_stats[feature])
        if side is not None:
            words.append(low if side == "low" else high)
    spender = " spenders" if words and words[-1] in ("small", "big") else " customers"
    lead = ", ".join(words).capitalize() + spender if words else "Typical customers"
    recency = profile.features["recency_days"].median
    orders = profile.features["frequency"].median
    spent = profile.features["monetary"].median
    return (
        f"{lead}: typically {_count(orders, 'order')}, the last {_count(recency, 'day')} ago, "
        f"{spent:,.0f} in all"
    )


def _count(value: float, noun: str) -> str:
    number = round(value)
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _label(name: str) -> str:
    return name.replace("_", " ")


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
