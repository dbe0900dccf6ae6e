"""Drift monitoring: the customers and segment shares seen, against the training distribution.

Each scored customer adds one to its bin of each numeric feature's training-time histogram, and
to its level of each categorical feature (the training shares of both are stored in the bundle),
and one to its segment. The counts are Prometheus counters, so with several workers they
are summed across processes like every other metric, and memory stays fixed (bins x features x
segments per model version) however many requests arrive. ``GET /drift`` turns them into a
population stability index (PSI) per feature and a share shift per segment.

Counters only go up, as Prometheus expects; a reset stores the counts at that moment as a
baseline (in the multiprocess folder with several workers, so every worker sees it) and the
report subtracts it. The baseline also says since when the report counts: the last reset, else
the start of counting (this process's, or with several workers the moment the supervisor
emptied the shared folder, written there as an empty baseline).

Below ``min_observations`` customers a report gives no verdict numbers at all (no PSI, no share
shift, nothing marked drifted): after a handful of customers a PSI of 7 means nothing, and
shown in red it reads as an alarm.
"""

from __future__ import annotations

import json
import math
import os
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.metrics import Counter

from segmentation.fresh_paths import fresh_file
from segmentation.nearest_centroid import IntArray
from segmentation.schema import NumericFeature
from service.http.schemas import (
    BinDrift,
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    SegmentDrift,
)
from service.model.segment_model import SegmentModel
from service.operations.metrics import (
    ASSIGNMENT_LABELS,
    DRIFT_SEGMENTS,
    FEATURE_BIN_LABELS,
    FEATURE_BINS,
    CounterValues,
    Metrics,
)

BASELINE_FILE = "drift-baseline.json"
# Shares below this are treated as this in the PSI, so an empty bin gives a large, finite term.
_SHARE_FLOOR = 1e-4


def psi(expected: Sequence[float], observed: Sequence[float]) -> float:
    """Population stability index: sum of (observed - expected) * ln(observed / expected)."""
    total = 0.0
    for e, o in zip(expected, observed, strict=True):
        e, o = max(e, _SHARE_FLOOR), max(o, _SHARE_FLOOR)
        total += (o - e) * math.log(o / e)
    return total


@dataclass(frozen=True)
class _FeatureBins:
    name: str
    column: int  # the feature's first column in the model's input
    # A number's bin edges in input units (log1p applied where the model reads log1p); None for
    # a one-hot categorical feature, whose bin is the level: the one indicator column set of
    # ``width`` columns.
    edges: np.ndarray | None
    edge_list: list[float]  # the same edges, for bisect (searchsorted side="left" == bisect_left)
    width: int
    children: tuple[Any, ...]  # one counter child per bin, looked up once per model


@dataclass(frozen=True)
class _Expected:
    """A feature's training distribution: shares per bin, and what each bin is."""

    shares: list[float]
    lowers: list[float | None]
    uppers: list[float | None]
    levels: list[str | None]


def _expected(model: SegmentModel, name: str) -> _Expected | None:
    histogram = model.metadata.feature_histograms.get(name)
    if histogram is not None:
        nothing: list[str | None] = [None] * len(histogram.shares)
        return _Expected(
            histogram.shares, [None, *histogram.edges], [*histogram.edges, None], nothing
        )
    levels = model.metadata.feature_levels.get(name)
    if levels is not None:
        nowhere: list[float | None] = [None] * len(levels)
        return _Expected(list(levels.values()), nowhere, nowhere, list(levels))
    return None


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """How many ``values`` fall in each bin of the ascending ``edges`` (right edges inclusive,
    NaN in the last bin): what ``bincount(searchsorted(edges, values))`` gives, four times
    faster for a histogram's ten bins, as one comparison pass per edge beats a binary search
    per value. It was a sixth of a 10,000-row CSV answer's time."""
    column = np.ascontiguousarray(values)
    at_most = [np.count_nonzero(column <= edge) for edge in edges]
    return np.diff(np.array([0, *at_most, len(column)], dtype=np.int64))


class DriftMonitor:
    def __init__(
        self, metrics: Metrics, thresholds: DriftThresholds, baseline_dir: Path | None
    ) -> None:
        self.metrics = metrics
        self.thresholds = thresholds
        self.baseline = _FileBaseline(baseline_dir / BASELINE_FILE) if baseline_dir else None
        self.started = datetime.now(UTC)
        self._memory_baseline: dict[str, Any] = {}
        self._bins_version: str | None = None
        self._bins: tuple[_FeatureBins, ...] = ()

    def observe(self, model: SegmentModel, rows: np.ndarray, segment_ids: IntArray) -> None:
        """Count each row in its segment, and in its training-histogram bin per feature."""
        if len(rows) == 1:  # one customer: bisect on lists, as numpy's per-call cost dominates
            self.metrics.drift_segment(model.version, int(segment_ids[0])).inc()
            values = rows[0].tolist()
            for feature in self._feature_bins(model):
                if feature.edges is None:
                    position = values.index(1.0, feature.column, feature.column + feature.width)
                    feature.children[position - feature.column].inc()
                else:
                    feature.children[bisect_left(feature.edge_list, values[feature.column])].inc()
            return
        counts = np.bincount(segment_ids)
        for segment_id in np.flatnonzero(counts).tolist():
            self.metrics.drift_segment(model.version, segment_id).inc(int(counts[segment_id]))
        for feature in self._feature_bins(model):
            if feature.edges is None:
                block = rows[:, feature.column : feature.column + feature.width]
                counts = np.bincount(np.argmax(block, axis=1), minlength=len(feature.children))
            else:
                counts = bin_counts(rows[:, feature.column], feature.edge_list)
            for position in np.flatnonzero(counts).tolist():
                feature.children[position].inc(int(counts[position]))

    def segments_seen_here(self) -> dict[tuple[str, int], int]:
        """Customers this process has counted per (model version, segment id) since it started,
        whatever the resets: the segment history's daily counts are what these grow by."""
        values = Metrics.counter_values(
            self.metrics.drift_segments.collect(), DRIFT_SEGMENTS, ASSIGNMENT_LABELS
        )
        return {(version, int(segment)): int(value) for (version, segment), value in values.items()}

    def _feature_bins(self, model: SegmentModel) -> tuple[_FeatureBins, ...]:
        # Only the model being served is cached: a reload replaces it, so this stays small.
        if self._bins_version != model.version:
            self._bins = tuple(self._bins_of(model))
            self._bins_version = model.version
        return self._bins

    def _bins_of(self, model: SegmentModel) -> list[_FeatureBins]:
        counter: Counter = self.metrics.feature_bins
        schema = model.schema
        owners = schema.owner_of_columns()
        bins = []
        for feature in schema.features:
            expected = _expected(model, feature.name)
            if expected is None:
                continue
            column = owners.index(feature.name)
            width = owners.count(feature.name)
            edges: np.ndarray | None = None
            if expected.levels[0] is None:
                edges = np.asarray(expected.uppers[:-1], dtype=np.float64)
                if isinstance(feature, NumericFeature) and feature.transform == "log1p":
                    edges = np.log1p(edges)
            bins.append(
                _FeatureBins(
                    name=feature.name,
                    column=column,
                    edges=edges,
                    edge_list=[] if edges is None else edges.tolist(),
                    width=width,
                    children=tuple(
                        counter.labels(model.version, feature.name, str(position))
                        for position in range(len(expected.shares))
                    ),
                )
            )
        return bins

    def reset(self) -> None:
        """Forget everything seen so far, for every worker and model version."""
        families = self.metrics.families()
        baseline = {
            "reset_at": datetime.now(UTC).isoformat(),
            "bins": _encode(Metrics.counter_values(families, FEATURE_BINS, FEATURE_BIN_LABELS)),
            "segments": _encode(
                Metrics.counter_values(families, DRIFT_SEGMENTS, ASSIGNMENT_LABELS)
            ),
        }
        if self.baseline is not None:
            self.baseline.save(baseline)
        else:
            self._memory_baseline = baseline

    def report(self, model: SegmentModel) -> DriftReport:
        families = self.metrics.families()
        baseline = self.baseline.load() if self.baseline is not None else self._memory_baseline
        bins = _since(
            Metrics.counter_values(families, FEATURE_BINS, FEATURE_BIN_LABELS),
            baseline.get("bins", {}),
        )
        assigned = _since(
            Metrics.counter_values(families, DRIFT_SEGMENTS, ASSIGNMENT_LABELS),
            baseline.get("segments", {}),
        )
        version = model.version
        segment_counts = [int(assigned.get((version, str(p.id)), 0)) for p in model.profiles]
        observations = sum(segment_counts)
        enough = observations >= self.thresholds.min_observations
        features = [
            self._feature_drift(model, name, bins, observations, enough)
            for name in model.metadata.features
        ]
        segments = [
            self._segment_drift(profile.id, profile.name, profile.share, count, observations)
            for profile, count in zip(model.profiles, segment_counts, strict=True)
        ]
        expected = [p.share for p in model.profiles]
        segment_psi = (
            psi(expected, [c / observations for c in segment_counts]) if observations else None
        )
        if not enough:  # no verdict numbers on too few customers
            features = [f.model_copy(update={"psi": None, "drifted": False}) for f in features]
            segments = [s.model_copy(update={"shift": None, "drifted": False}) for s in segments]
            segment_psi = None
        drifted = any(f.drifted for f in features) or any(s.drifted for s in segments)
        since = baseline.get("reset_at")
        return DriftReport(
            model_version=version,
            status="insufficient_data" if not enough else "drift" if drifted else "ok",
            drift_detected=drifted,
            observations=observations,
            since=datetime.fromisoformat(since) if since else self.started,
            thresholds=self.thresholds,
            segment_psi=segment_psi,
            features=features,
            segments=segments,
        )

    def _feature_drift(
        self,
        model: SegmentModel,
        name: str,
        bins: CounterValues,
        observations: int,
        enough: bool,
    ) -> FeatureDrift:
        expected_bins = _expected(model, name)
        if expected_bins is None:
            return FeatureDrift(feature=name, psi=None, drifted=False, bins=[])
        shares = expected_bins.shares
        counts = [
            int(bins.get((model.version, name, str(position)), 0))
            for position in range(len(shares))
        ]
        # Every customer falls in exactly one bin per feature, so the counts add up the same.
        seen = sum(counts)
        observed = [count / seen for count in counts] if seen else None
        value = psi(shares, observed) if observed else None
        return FeatureDrift(
            feature=name,
            psi=value,
            drifted=enough and value is not None and value > self.thresholds.psi,
            bins=[
                BinDrift(
                    lower=lower,
                    upper=upper,
                    level=level,
                    expected_share=expected,
                    observed_share=observed[position] if observed else None,
                    count=counts[position],
                )
                for position, (lower, upper, level, expected) in enumerate(
                    zip(
                        expected_bins.lowers,
                        expected_bins.uppers,
                        expected_bins.levels,
                        shares,
                        strict=True,
                    )
                )
            ],
        )

    def _segment_drift(
        self, segment_id: int, name: str, expected: float, count: int, observations: int
    ) -> SegmentDrift:
        observed = count / observations if observations else None
        shift = observed - expected if observed is not None else None
        return SegmentDrift(
            segment_id=segment_id,
            name=name,
            expected_share=expected,
            observed_share=observed,
            shift=shift,
            count=count,
            drifted=shift is not None and abs(shift) > self.thresholds.share_shift,
        )

    def metric_families(self, model: SegmentModel | None) -> list[Metric]:
        """The report as gauges, computed at scrape time for the model being served."""
        if model is None:
            return []
        report = self.report(model)
        labels = ["model_version"]
        version = [report.model_version]
        observations = GaugeMetricFamily(
            "segment_drift_observations",
            "Customers seen by the served model since the last drift reset.",
            labels=labels,
        )
        observations.add_metric(version, report.observations)
        detected = GaugeMetricFamily(
            "segment_drift_detected",
            "1 when GET /drift reports drift (status 'drift'), else 0.",
            labels=labels,
        )
        detected.add_metric(version, float(report.drift_detected))
        feature_psi = GaugeMetricFamily(
            "segment_drift_feature_psi",
            "Population stability index of a feature against its training histogram.",
            labels=[*labels, "feature"],
        )
        for feature in report.features:
            if feature.psi is not None:
                feature_psi.add_metric([*version, feature.feature], feature.psi)
        segment_psi = GaugeMetricFamily(
            "segment_drift_segment_psi",
            "Population stability index of the segment shares.",
            labels=labels,
        )
        if report.segment_psi is not None:
            segment_psi.add_metric(version, report.segment_psi)
        share = GaugeMetricFamily(
            "segment_drift_segment_share",
            "Share of the customers seen that went to each segment.",
            labels=[*labels, "segment_id"],
        )
        shift = GaugeMetricFamily(
            "segment_drift_segment_share_shift",
            "Observed minus training share of each segment.",
            labels=[*labels, "segment_id"],
        )
        for segment in report.segments:
            if segment.observed_share is not None and segment.shift is not None:
                share.add_metric([*version, str(segment.segment_id)], segment.observed_share)
                shift.add_metric([*version, str(segment.segment_id)], segment.shift)
        return [observations, detected, feature_psi, segment_psi, share, shift]


def clear_shared_baseline(directory: Path) -> None:
    """Replace a previous run's baseline (the counters it refers to are gone too) by an empty
    one, which says when the workers of this run start counting."""
    _FileBaseline(directory / BASELINE_FILE).save(
        {"reset_at": datetime.now(UTC).isoformat(), "bins": {}, "segments": {}}
    )


class _FileBaseline:
    """The baseline in the multiprocess folder, so a reset on one worker holds for all."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded

    def save(self, baseline: dict[str, Any]) -> None:
        handle, temp_name = fresh_file(self.path.parent, ".drift-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(baseline, file)
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise


def _encode(values: CounterValues) -> dict[str, float]:
    return {"\t".join(key): value for key, value in values.items()}


def _since(current: CounterValues, baseline: dict[str, float]) -> CounterValues:
    return {
        key: max(0.0, value - baseline.get("\t".join(key), 0.0)) for key, value in current.items()
    }
