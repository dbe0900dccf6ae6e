"""Real servers for the client tests: ``python -m service`` on free loopback ports.

Each configuration is started once per session and stopped by its pid. Request counts are read
from the server's own /metrics, so a test sees what reached the server, not what the client
believes it sent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, SAMPLE_CSV
from tests.e2e.test_server import free_port
from tests.service.metrics_text import parse_metrics, value
from training.sources import DataSource
from training.train import TrainingOptions, train

API_KEY = "client-test-key-4f9a1c7e2b"

# Fast, patient-enough retries for tests: real backoff arithmetic, millisecond waits.
FAST_BACKOFF = 0.01


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str | None = None

    def requests(self, route: str, status: int, method: str = "POST") -> int:
        """Requests the server answered on ``route`` with ``status``, from its /metrics."""
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        text = httpx.get(f"{self.url}/metrics", headers=headers, timeout=5).text
        found = value(
            parse_metrics(text),
            "segment_http_requests_total",
            method=method,
            route=route,
            status=str(status),
        )
        return int(found or 0)


def train_bundle(models: Path, seed: int = 42, *, promote: bool = True) -> str:
    options = TrainingOptions(
        source=DataSource(str(SAMPLE_CSV)),
        models_dir=models,
        k=5,
        seed=seed,
        promote=promote,
        stability_samples=0,
    )
    return train(options).metadata.version


def start_server(models: Path, log: Path, **env: str) -> Server:
    environment = {name: val for name, val in os.environ.items() if not name.startswith("SEGMENT_")}
    port = free_port()
    environment.update(
        SEGMENT_MODELS_DIR=str(models),
        SEGMENT_HOST="127.0.0.1",
        SEGMENT_PORT=str(port),
        SEGMENT_LOG_LEVEL="warning",
        **env,
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Server(f"http://127.0.0.1:{port}", process, log, env.get("SEGMENT_API_KEYS"))


def wait_for(server: Server, path: str, timeout: float = 60) -> None:
    """Until ``path`` answers 200: /health/ready, or /health/live for a server without a model."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}")
        try:
            if httpx.get(f"{server.url}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server not answering {path} within {timeout}s")


def stop(server: Server) -> None:
    """Stop by pid; a traceback in the server's output fails the session."""
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    output = server.log.read_text()
    assert "Traceback" not in output, output[-3000:]


@dataclass
class Servers:
    """The configurations the tests need, started together (their start-up is mostly imports)."""

    main: Server  # at most 5 customers per request, so chunking shows with a handful
    keyed: Server  # API keys required
    modelless: Server  # no bundle: up, but 503 model_unavailable on the model routes
    reloading: Server  # two bundles; a test promotes and reloads the second
    reloading_models: Path
    first_version: str
    second_version: str


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("client")
    models = root / "models"
    first = train_bundle(models)
    reloading_models = root / "reloading"
    shutil.copytree(models, reloading_models)
    second = train_bundle(reloading_models, seed=2, promote=False)
    with ExitStack() as running:
        started: dict[str, Server] = {}
        for name, directory, env in (
            ("main", models, {"SEGMENT_MAX_BATCH": "5"}),
            ("keyed", models, {"SEGMENT_API_KEYS": API_KEY}),
            ("modelless", root / "empty", {}),
            ("reloading", reloading_models, {"SEGMENT_MAX_BATCH": "5"}),
        ):
            started[name] = start_server(directory, root / f"{name}.log", **env)
            running.callback(stop, started[name])
        for name, server in started.items():
            wait_for(server, "/health/live" if name == "modelless" else "/health/ready")
        yield Servers(
            **started,
            reloading_models=reloading_models,
            first_version=first,
            second_version=second,
        )


@pytest.fixture
def server(servers: Servers) -> Server:
    return servers.main


@pytest.fixture
def keyed_server(servers: Servers) -> Server:
    return servers.keyed


@pytest.fixture
def modelless_server(servers: Servers) -> Server:
    return servers.modelless


def customers(count: int) -> list[dict[str, object]]:
    """Distinct, valid customers, spread over the feature ranges."""
    return [
        {
            "customer_id": f"C-{number}",
            "age": 18 + (number * 7) % 60,
            "annual_income": 15 + (number * 13) % 120,
            "spending_score": 1 + (number * 29) % 99,
        }
        for number in range(count)
    ]
