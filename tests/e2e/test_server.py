"""The real server process: uvicorn on a free port, serving the trained sample bundle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from segmentation.bundle import load_bundle
from tests.conftest import REPO_ROOT, SAMPLE_CSV
from training.cli import main as train_main

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(base_url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not ready within {timeout}s")


@pytest.fixture(scope="module")
def sample_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("e2e") / "models"
    assert train_main(["--data", str(SAMPLE_CSV), "--models-dir", str(models)]) == 0
    return models


def start_server(models: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    environment = {
        **os.environ,
        "SEGMENT_MODELS_DIR": str(models),
        "SEGMENT_HOST": "127.0.0.1",
        "SEGMENT_PORT": str(port),
        "SEGMENT_LOG_LEVEL": "warning",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture(scope="module")
def server(sample_models: Path) -> Iterator[str]:
    process, base_url = start_server(sample_models)
    try:
        wait_until_ready(base_url, process)
        yield base_url
    finally:
        output = stop(process)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it so the exit status says so.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output, output


def test_serves_the_sample_model_over_http(server: str, sample_models: Path) -> None:
    version = load_bundle(sample_models).metadata.version
    with httpx.Client(base_url=server, timeout=10) as client:
        ready = client.get("/health/ready").json()
        assert ready == {"status": "ready", "model_version": version, "reason": None}
        body = {
            "customers": [
                {"customer_id": 1, "age": 22, "annual_income": 20, "spending_score": 85},
                {"customer_id": 2, "age": 45, "annual_income": 90, "spending_score": 10},
            ]
        }
        response = client.post("/segment", json=body)
        assert response.status_code == 200
        results = response.json()["results"]
        assert [r["customer_id"] for r in results] == [1, 2]
        assert results[0]["segment_name"].endswith("low income, high spending")
        assert results[1]["segment_name"].endswith("high income, low spending")
        assert client.get("/segments").json()["model_version"] == version
        bad = client.post("/segment", content=b"{", headers={"content-type": "application/json"})
        assert bad.status_code == 400


def test_without_a_model_the_process_stays_up_and_says_why(tmp_path: Path) -> None:
    process, base_url = start_server(tmp_path / "empty")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the server must not exit without a model"
            try:
                ready = httpx.get(f"{base_url}/health/ready", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert ready.status_code == 503
        assert "no current model" in ready.json()["reason"]
        segment = httpx.post(f"{base_url}/segment", json={"age": 1}, timeout=5)
        assert segment.status_code == 503
        assert httpx.get(f"{base_url}/health/live", timeout=5).status_code == 200
    finally:
        stop(process)


def test_container_healthcheck_follows_the_configured_port(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    env = {**os.environ, "SEGMENT_PORT": port}
    ok = subprocess.run([sys.executable, "-m", "service.healthcheck"], env=env, check=False)
    assert ok.returncode == 0
    env["SEGMENT_PORT"] = str(free_port())
    down = subprocess.run(
        [sys.executable, "-m", "service.healthcheck"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 1
    assert "healthcheck:" in down.stderr


def test_several_worker_processes_serve_the_same_model(sample_models: Path) -> None:
    process, base_url = start_server(sample_models, SEGMENT_WORKERS="2")
    try:
        wait_until_ready(base_url, process)
        with httpx.Client(base_url=base_url, timeout=10) as client:
            versions = {
                client.post(
                    "/segment", json={"age": 30, "annual_income": 50, "spending_score": 50}
                ).json()["model_version"]
                for _ in range(20)
            }
        assert versions == {load_bundle(sample_models).metadata.version}
    finally:
        output = stop(process)
    assert "Traceback" not in output, output
