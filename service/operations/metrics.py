"""Prometheus metrics: what is recorded, and how /metrics renders it with one or many workers.

With one worker the values live in this process. With several, each worker writes its values to
files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and /metrics, which
any worker may answer, sums the files of all of them, so a scrape sees the whole server. The
directory must be set before any worker imports prometheus-client; ``python -m service`` does it.
A worker that dies without stopping (killed, crashed) cannot drop its live gauges itself, so a
scrape drops those of workers no longer running: ``segment_model_info`` shows the workers there
are, not the ones there were.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from segmentation.nearest_centroid import IntArray

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# In the multiprocess folder, beside the metrics: the version the workers of this run serve
# (service.model.registry.ServedRecord), so it is emptied with them at each start.
SERVED_VERSION_FILE = "served-version.json"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

logger = logging.getLogger(__name__)

CounterValues = dict[tuple[str, ...], float]

# Counter names (without _total) and labels that the drift monitor reads back.
ASSIGNMENTS = "segment_assignments"
ASSIGNMENT_LABELS = ("model_version", "segment_id")
FEATURE_BINS = "segment_drift_feature_bin_observations"
FEATURE_BIN_LABELS = ("model_version", "feature", "bin")
DRIFT_SEGMENTS = "segment_drift_segment_observations"


_MAX_CACHED_CHILDREN = 1_000


class Metrics:
    """Every metric the service records; one instance per app, in the app's own registry."""

    def __init__(self) -> None:
        # The *_created series exist only in single-process mode; drop them so one worker and
        # several expose the same series.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        # prometheus-client chose where values go when it was imported; follow that choice.
        directory = os.environ.get(MULTIPROCESS_ENV)
        to_files = prometheus_values.ValueClass is not prometheus_values.MutexValue
        self.multiprocess_dir = Path(directory) if directory and to_files else None
        self.registry = CollectorRegistry()
        # Labelled children looked up once (per request, ``labels()`` was 4% of one customer);
        # bounded, so odd methods or statuses cannot grow the caches without end.
        self._request_children = lru_cache(_MAX_CACHED_CHILDREN)(self._request_labels)
        self._version_children = lru_cache(_MAX_CACHED_CHILDREN)(self._version_labels)
        self._assigned = lru_cache(_MAX_CACHED_CHILDREN)(self._assignment_label)
        registry = self.registry
        http_labels = ("method", "route", "status")
        self.requests = Counter(
            "segment_http_requests", "HTTP requests answered.", http_labels, registry=registry
        )
        self.latency = Histogram(
            "segment_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            http_labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.customers_scored = Counter(
            "segment_customers_scored",
            "Customers assigned to a segment, by the protocol they came in "
            "(segment: POST /segment; mlflow: /invocations; v2: the Open Inference Protocol).",
            ("model_version", "protocol"),
            registry=registry,
        )
        self.assignments = Counter(
            ASSIGNMENTS, "Customers assigned, per segment.", ASSIGNMENT_LABELS, registry=registry
        )
        self.atypical = Counter(
            "segment_atypical_customers",
            "Customers farther from their centroid than 99% of its training customers.",
            ("model_version",),
            registry=registry,
        )
        self.feature_bins = Counter(
            FEATURE_BINS,
            "Customers seen per feature and training-time histogram bin (drift input).",
            FEATURE_BIN_LABELS,
            registry=registry,
        )
        self.drift_segments = Counter(
            DRIFT_SEGMENTS,
            "Customers seen per segment (drift input): the assignments without the web page's "
            "own requests (X-Segment-Source: ui).",
            ASSIGNMENT_LABELS,
            registry=registry,
        )
        self.drift_segment = lru_cache(_MAX_CACHED_CHILDREN)(self._drift_segment_label)
        self.model_info = Gauge(
            "segment_model_info",
            "1 for the model version being served (per worker with several workers).",
            ("model_version",),
            multiprocess_mode="liveall",
            registry=registry,
        )
        self.reloads = Counter(
            "segment_model_reloads",
            "Model reloads by trigger (api, signal) and outcome (success, failure).",
            ("trigger", "outcome"),
            registry=registry,
        )
        for trigger in ("api", "signal"):
            for outcome in ("success", "failure"):
                self.reloads.labels(trigger, outcome)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        requests, latency = self._request_children(method, route, status)
        requests.inc()
        latency.observe(seconds)

    def record_assignments(
        self,
        model_version: str,
        segment_ids: IntArray,
        atypical: int = 0,
        *,
        protocol: str = "segment",
    ) -> None:
        scored, flagged = self._version_children(model_version, protocol)
        scored.inc(len(segment_ids))
        if atypical:
            flagged.inc(atypical)
        if len(segment_ids) == 1:  # one customer: no numpy calls, whose overhead is the cost
            self._assigned(model_version, int(segment_ids[0])).inc()
            return
        counts = np.bincount(segment_ids)
        for segment_id in np.flatnonzero(counts).tolist():
            self._assigned(model_version, segment_id).inc(int(counts[segment_id]))

    def _request_labels(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        labels = (method if method in _KNOWN_METHODS else "OTHER", route, str(status))
        return self.requests.labels(*labels), self.latency.labels(*labels)

    def _version_labels(self, model_version: str, protocol: str) -> tuple[Counter, Counter]:
        """Customers scored (by one protocol) and flagged atypical, for one model version."""
        return (
            self.customers_scored.labels(model_version, protocol),
            self.atypical.labels(model_version),
        )

    def _assignment_label(self, model_version: str, segment_id: int) -> Counter:
        return self.assignments.labels(model_version, str(segment_id))

    def _drift_segment_label(self, model_version: str, segment_id: int) -> Counter:
        return self.drift_segments.labels(model_version, str(segment_id))

    def record_reload(self, trigger: str, ok: bool) -> None:
        self.reloads.labels(trigger, "success" if ok else "failure").inc()

    def serving(self, version: str | None, previous: str | None = None) -> None:
        """Point the info metric at the version now served."""
        if previous is not None and previous != version:
            self.model_info.labels(previous).set(0)
        if version is not None:
            self.model_info.labels(version).set(1)
            self.atypical.labels(version)  # present from the start, at 0

    def families(self) -> list[Metric]:
        """Current values: this process's, or the sum over every worker's files."""
        if self.multiprocess_dir is not None:
            _drop_dead_workers(self.multiprocess_dir)
            # prometheus-client's multiprocess module has no annotations.
            collector = MultiProcessCollector(None, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
            return list(collector.collect())  # type: ignore[no-untyped-call]
        return list(self.registry.collect())

    @staticmethod
    def counter_values(
        families: Iterable[Metric], name: str, label_names: Sequence[str]
    ) -> CounterValues:
        """A counter's value per label-value tuple, from ``families``; ``name`` without _total."""
        values: CounterValues = {}
        for family in families:
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name == f"{name}_total":
                    key = tuple(sample.labels[label] for label in label_names)
                    values[key] = values.get(key, 0.0) + sample.value
        return values

    def exposition(self, extra: Iterable[Metric] = ()) -> bytes:
        """The text format for a scrape: the recorded metrics plus ``extra`` computed now."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed([*self.families(), *extra]))
        return generate_latest(registry)

    def close(self) -> None:
        """Drop this process's live gauges from the shared files when the worker stops."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), str(self.multiprocess_dir))  # type: ignore[no-untyped-call]


def _drop_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers no longer running, as a worker stopping does its own."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            # Another worker answering a scrape may have dropped them a moment ago.
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user holds that pid now
    return True


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families

    def describe(self) -> Iterable[Metric]:
        return []


def prepare_multiprocess_dir(configured: Path | None) -> tuple[Path, bool]:
    """Choose, create and empty the multiprocess folder and export it to the workers.

    Returns the folder and whether it is a temporary one this process should remove. Old files
    are deleted because prometheus-client would otherwise add a previous run's counts, and a
    worker would take a previous run's served version for its siblings'.
    """
    inherited = os.environ.get(MULTIPROCESS_ENV)
    if configured is not None:
        directory, temporary = configured, False
    elif inherited:
        directory, temporary = Path(inherited), False
    else:
        directory, temporary = Path(tempfile.mkdtemp(prefix="segment-metrics-")), True
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    # A previous run's workers served it: this run's first worker must not fall back to it.
    (directory / SERVED_VERSION_FILE).unlink(missing_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    logger.info("multiprocess metrics in %s", directory)
    return directory, temporary
