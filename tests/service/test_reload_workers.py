"""Reloads with several workers, against the real server: a worker uvicorn starts in place of
one that died, while CURRENT names a refused bundle, and what a reload counts."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from segmentation.bundle import Bundle, promote_version
from segmentation.metadata import METADATA_FILE
from tests.conftest import TrainFn
from tests.real_server import ServerProcess, start_server
from tests.service.helpers import CUSTOMER
from tests.service.metrics_text import parse_metrics, value

pytestmark = pytest.mark.e2e

REFUSAL = "v-nan/metadata.json: scorer numbers must be finite, and scale positive"


def not_finite_copy(models: Path, bundle: Bundle, name: str) -> str:
    """A copy of ``bundle`` named ``name`` that the service refuses: a NaN among its numbers."""
    copy = models / name
    shutil.copytree(bundle.path, copy)
    metadata = json.loads((copy / METADATA_FILE).read_text())
    metadata["version"] = name
    metadata["scorer"]["mean"][0] = math.nan
    (copy / METADATA_FILE).write_text(json.dumps(metadata))
    return name


@contextmanager
def two_workers(models: Path, log: Path, **env: str) -> Iterator[ServerProcess]:
    """The real server with two workers; a traceback in its output fails the test."""
    server = start_server(models, log, SEGMENT_WORKERS="2", SEGMENT_LOG_FORMAT="json", **env)
    try:
        yield server
    finally:
        output = server.stop()
    assert "Traceback" not in output, output[-3000:]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def metrics(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    # A new connection each time, so either worker may answer.
    return parse_metrics(httpx.get(f"{url}/metrics", timeout=10).text)


def info_lines(url: str) -> dict[str, dict[str, float]]:
    """segment_model_info by worker pid: {pid: {version: value}}."""
    lines: dict[str, dict[str, float]] = {}
    for (name, labels), number in metrics(url).items():
        if name == "segment_model_info":
            label = dict(labels)
            lines.setdefault(label["pid"], {})[label["model_version"]] = number
    return lines


def serving(url: str, version: str) -> set[str]:
    """The pids whose info line says they serve ``version``."""
    return {pid for pid, versions in info_lines(url).items() if versions.get(version) == 1}


def log_messages(server: ServerProcess, logger: str) -> list[str]:
    messages = []
    for line in server.output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") == logger:
            messages.append(record["message"])
    return messages


def test_a_worker_replacing_a_dead_one_serves_what_the_others_serve_when_current_is_refused(
    tmp_path: Path, trained_copy: TrainFn
) -> None:
    models = tmp_path / "models"
    bundle = trained_copy(models, k=3)
    good, bad = bundle.metadata.version, not_finite_copy(models, bundle, "v-nan")
    with two_workers(models, tmp_path / "server.log") as server:
        url = server.url
        server.wait_for()
        wait_for(lambda: len(serving(url, good)) == 2, "both workers to serve")
        promote_version(models, bad)
        refused = httpx.post(f"{url}/admin/reload", timeout=30)
        assert refused.status_code == 409
        # Either worker says it, not only the one that refused the bundle.
        stands = f"CURRENT names 'v-nan', refused: {REFUSAL}; serving {good!r}"
        for _ in range(6):
            ready = httpx.get(f"{url}/health/ready", timeout=10)
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready", "model_version": good, "reason": stands}

        killed = sorted(serving(url, good))[0]
        os.kill(int(killed), signal.SIGKILL)
        wait_for(
            lambda: len(serving(url, good)) == 2 and killed not in info_lines(url),
            "a new worker serving the good version, and no line for the dead one",
        )

        answers = [httpx.post(f"{url}/segment", json=CUSTOMER, timeout=10) for _ in range(40)]
        assert [a.status_code for a in answers] == [200] * 40
        assert {a.json()["model_version"] for a in answers} == {good}
        for _ in range(6):
            ready = httpx.get(f"{url}/health/ready", timeout=10)
            assert ready.json() == {"status": "ready", "model_version": good, "reason": stands}
    fell_back = [m for m in log_messages(server, "service.model.registry") if "other" in m]
    assert fell_back == [f"{stands}, the version the other workers serve"]


def test_a_first_start_with_a_refused_bundle_is_not_ready_whatever_a_previous_run_served(
    tmp_path: Path, trained_copy: TrainFn
) -> None:
    models = tmp_path / "models"
    good = trained_copy(models, k=3)
    metrics_dir = str(tmp_path / "metrics")
    with two_workers(models, tmp_path / "first.log", SEGMENT_METRICS_DIR=metrics_dir) as server:
        server.wait_for()
        wait_for(lambda: len(serving(server.url, good.metadata.version)) == 2, "both workers")
    promote_version(models, not_finite_copy(models, good, "v-nan"))
    with two_workers(models, tmp_path / "second.log", SEGMENT_METRICS_DIR=metrics_dir) as server:
        server.wait_for("/health/live")
        wait_for(
            lambda: (
                sum(
                    m.startswith("model not loaded")
                    for m in log_messages(server, "service.model.registry")
                )
                == 2
            ),
            "both workers to refuse the bundle",
        )
        answers = [httpx.get(f"{server.url}/health/ready", timeout=10) for _ in range(6)]
    assert {a.status_code for a in answers} == {503}
    assert {a.json()["reason"] for a in answers} == {REFUSAL}


def test_a_reload_counts_once_per_worker(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn
) -> None:
    models = tmp_path / "models"
    first = trained_copy(models, k=3).metadata.version
    second = train_into(models, k=4, promote=False).metadata.version
    third = train_into(models, k=5, promote=False).metadata.version
    with two_workers(models, tmp_path / "server.log", SEGMENT_LOG_LEVEL="info") as server:
        url = server.url
        server.wait_for()
        wait_for(lambda: len(serving(url, first)) == 2, "both workers")

        def signals_handled() -> int:
            return sum("(signal)" in m for m in log_messages(server, "service.model.reload"))

        for version, handled in ((second, 2), (third, 4)):
            promote_version(models, version)
            answer = httpx.post(f"{url}/admin/reload", timeout=30).json()
            assert (answer["model_version"], answer["other_workers_signalled"]) == (version, True)
            # Both workers get the supervisor's signal: the other one reloads, the one that
            # answered (and asked for it) already serves the version.
            wait_for(lambda n=handled: signals_handled() == n, "both workers to handle the signal")
            assert len(serving(url, version)) == 2
        server.process.send_signal(signal.SIGHUP)  # an operator's: a reload, as with one worker
        wait_for(lambda: signals_handled() == 6, "both workers to handle the SIGHUP")
        promote_version(models, first)
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: signals_handled() == 8, "both workers to handle the second SIGHUP")
        assert len(serving(url, first)) == 2
        final = metrics(url)
    reloads = "segment_model_reloads_total"
    assert value(final, reloads, trigger="api", outcome="success") == 2
    # The other worker after each API call, and both workers after each SIGHUP.
    assert value(final, reloads, trigger="signal", outcome="success") == 6
    assert value(final, reloads, trigger="signal", outcome="failure") == 0
    skipped = [m for m in log_messages(server, "service.model.reload") if "not needed" in m]
    assert len(skipped) == 2
