"""Operations against the real server process: reload under load, several workers, JSON logs.

Traffic goes to 127.0.0.1 only, from a few threads, bounded in count and in time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from segmentation.bundle import Bundle, promote_version
from segmentation.metadata import METADATA_FILE, MODEL_FILE
from tests.conftest import REPO_ROOT, TrainFn
from tests.e2e.load import BATCH, Load, streaming
from tests.real_server import ServerProcess, free_port, start_server
from tests.service.conftest import API_KEY, AUTH
from tests.service.metrics_text import parse_metrics

pytestmark = pytest.mark.e2e


@contextmanager
def running_server(models: Path, log: Path, **env: str) -> Iterator[ServerProcess]:
    """The real server with API keys required; a traceback in its output fails the test."""
    settings = {"SEGMENT_API_KEYS": API_KEY, "SEGMENT_LOG_LEVEL": "info", **env}
    server = start_server(models, log, **settings)
    try:
        server.wait_for()
        yield server
    finally:
        output = server.stop()
    assert "Traceback" not in output, output[-3000:]


def tampered_copy(models: Path, bundle: Bundle, name: str) -> str:
    copy = models / name
    shutil.copytree(bundle.path, copy)
    metadata = (copy / METADATA_FILE).read_text().replace(bundle.metadata.version, name)
    (copy / METADATA_FILE).write_text(metadata)
    (copy / MODEL_FILE).write_bytes(b"\x80\x04not the model")
    return name


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def metrics(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    # A new connection each time, so with several workers any of them may answer.
    response = httpx.get(f"{url}/metrics", headers=AUTH, timeout=10)
    assert response.status_code == 200
    return parse_metrics(response.text)


def serving_workers(url: str, version: str) -> set[str]:
    """Worker pids whose info metric says they serve ``version``."""
    return {
        dict(labels)["pid"]
        for (name, labels), value in metrics(url).items()
        if name == "segment_model_info" and dict(labels)["model_version"] == version and value == 1
    }


def reload(url: str) -> httpx.Response:
    return httpx.post(f"{url}/admin/reload", headers=AUTH, timeout=30)


def served_version(url: str) -> str:
    version: str = httpx.get(f"{url}/model", headers=AUTH, timeout=10).json()["version"]
    return version


def test_reloads_under_load_drop_no_request(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn
) -> None:
    models = tmp_path / "models"
    first = trained_copy(models, k=3)
    second = train_into(models, k=4, promote=False)
    third = train_into(models, k=5, promote=False)
    bad = tampered_copy(models, third, "v-tampered")
    with running_server(models, tmp_path / "server.log", SEGMENT_LOG_LEVEL="info") as server:
        url = server.url
        with streaming(Load(url)) as load:
            wait_for(lambda: load.total >= 40, "the load to start")
            promote_version(models, second.metadata.version)
            assert reload(url).json()["model_version"] == second.metadata.version

            promote_version(models, bad)
            refused = reload(url)
            assert refused.status_code == 409
            assert "does not match its metadata" in refused.json()["error"]["message"]
            assert served_version(url) == second.metadata.version

            promote_version(models, third.metadata.version)
            server.process.send_signal(signal.SIGHUP)
            wait_for(lambda: served_version(url) == third.metadata.version, "the SIGHUP reload")

            for bundle in (first, second, third):
                promote_version(models, bundle.metadata.version)
                assert reload(url).json()["model_version"] == bundle.metadata.version
                time.sleep(0.2)
            wait_for(lambda: load.total >= 300, "enough requests", timeout=30)
        final = metrics(url)
    assert load.errors == []
    assert load.statuses == Counter({200: load.total}), load.statuses
    assert {first.metadata.version, second.metadata.version, third.metadata.version} <= set(
        load.versions
    ), load.versions

    reloads = {
        dict(labels)["trigger"] + "/" + dict(labels)["outcome"]: value
        for (name, labels), value in final.items()
        if name == "segment_model_reloads_total"
    }
    assert reloads == {"api/success": 4, "api/failure": 1, "signal/success": 1, "signal/failure": 0}

    # The real server's log: JSON lines, one per request, with the refusal's reason.
    lines = [json.loads(line) for line in server.output().splitlines()]
    requests = [line for line in lines if line["logger"] == "service.requests"]
    scored = [line for line in requests if line["route"] == "/segment"]
    assert len(scored) == load.total
    assert all(line["batch_size"] == 5 and line["status"] == 200 for line in scored)
    assert len({line["request_id"] for line in requests}) == len(requests)
    refusal = [
        line
        for line in lines
        if line["logger"] == "service.model.reload" and line["level"] == "error"
    ]
    assert len(refusal) == 1
    assert "does not match its metadata" in refusal[0]["message"]
    assert API_KEY not in server.log.read_text()


def test_several_workers_share_metrics_and_drift_and_reload_together(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn
) -> None:
    models = tmp_path / "models"
    first = trained_copy(models, k=3)
    second = train_into(models, k=4, promote=False)
    third = train_into(models, k=5, promote=False)
    env = {"SEGMENT_WORKERS": "2", "SEGMENT_LOG_LEVEL": "warning"}
    with running_server(models, tmp_path / "server.log", **env) as server:
        url = server.url
        wait_for(lambda: len(serving_workers(url, first.metadata.version)) == 2, "both workers")
        for _ in range(30):  # a new connection each: both workers get some
            assert (
                httpx.post(f"{url}/segment", json=BATCH, headers=AUTH, timeout=10).status_code
                == 200
            )
        for _ in range(4):  # whichever worker answers, it reports the whole server
            scored = metrics(url)[
                (
                    "segment_customers_scored_total",
                    frozenset({("model_version", first.metadata.version), ("protocol", "segment")}),
                )
            ]
            assert scored == 150
            drift = httpx.get(f"{url}/drift", headers=AUTH, timeout=10).json()
            assert drift["observations"] == 150

        with streaming(Load(url, threads=3, per_thread=300, seconds=40)) as load:
            wait_for(lambda: load.total >= 30, "the load to start")
            promote_version(models, second.metadata.version)
            answer = reload(url).json()
            assert (answer["model_version"], answer["other_workers_signalled"]) == (
                second.metadata.version,
                True,
            )
            wait_for(
                lambda: len(serving_workers(url, second.metadata.version)) == 2,
                "every worker to reload after POST /admin/reload",
            )
            promote_version(models, third.metadata.version)
            server.process.send_signal(signal.SIGHUP)  # to the supervisor
            wait_for(
                lambda: len(serving_workers(url, third.metadata.version)) == 2,
                "every worker to reload after SIGHUP to the supervisor",
            )
            assert serving_workers(url, first.metadata.version) == set()
            wait_for(lambda: load.total >= 150, "enough requests", timeout=30)
        reset = httpx.post(f"{url}/drift/reset", headers=AUTH, timeout=10).json()
        assert reset["observations"] == 0
        for _ in range(4):  # the reset holds for every worker
            assert httpx.get(f"{url}/drift", headers=AUTH, timeout=10).json()["observations"] == 0
    assert load.errors == []
    assert load.statuses == Counter({200: load.total}), load.statuses


def test_start_up_refuses_a_placeholder_key_without_echoing_it(tmp_path: Path) -> None:
    key = "my-secret-token-value-123"
    env = {**os.environ, "SEGMENT_API_KEYS": f"{API_KEY},{key}", "SEGMENT_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "service"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SEGMENT_API_KEYS key 2 looks like a placeholder" in result.stderr
    assert key not in result.stderr + result.stdout
    assert API_KEY not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
