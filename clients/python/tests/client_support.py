"""What the client tests share: real servers (``python -m service`` on free loopback ports).

Each configuration is started once per session and stopped by its pid. Request counts are read
from the server's own /metrics, so a test sees what reached the server, not what the client
believes it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from segmentation.sources import DataSource
from tests.conftest import SAMPLE_CSV
from tests.real_server import ServerProcess, start_server
from tests.service.metrics_text import parse_metrics, value
from training.train import TrainingOptions, train

API_KEY = "client-test-key-4f9a1c7e2b"

# Fast, patient-enough retries for tests: real backoff arithmetic, millisecond waits.
FAST_BACKOFF = 0.01


@dataclass
class Server(ServerProcess):
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


def start(models: Path, log: Path, **env: str) -> Server:
    running = start_server(models, log, **env)
    return Server(running.process, running.url, running.log, env.get("SEGMENT_API_KEYS"))


def stop(server: Server) -> None:
    """Stop by pid; a traceback in the server's output fails the session."""
    output = server.stop(timeout=15)
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
