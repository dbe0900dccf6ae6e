"""The real server process: uvicorn on a free port, serving the trained sample bundle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from segmentation.bundle import load_bundle
from tests.conftest import SAMPLE_CSV
from tests.real_server import free_port, start_server
from training.cli import main as train_main

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sample_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("e2e") / "models"
    assert train_main(["--data", str(SAMPLE_CSV), "--models-dir", str(models)]) == 0
    return models


@pytest.fixture(scope="module")
def server(sample_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running = start_server(sample_models, tmp_path_factory.mktemp("server") / "server.log")
    try:
        running.wait_for()
        yield running.url
    finally:
        output = running.stop()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it so the exit status says so.
    assert running.process.returncode in (0, -signal.SIGTERM), output
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
    running = start_server(tmp_path / "empty", tmp_path / "server.log")
    base_url = running.url
    try:
        running.wait_for("/health/live")
        ready = httpx.get(f"{base_url}/health/ready", timeout=5)
        assert running.process.poll() is None, "the server must not exit without a model"
        assert ready.status_code == 503
        assert "no current model" in ready.json()["reason"]
        segment = httpx.post(f"{base_url}/segment", json={"age": 1}, timeout=5)
        assert segment.status_code == 503
        assert httpx.get(f"{base_url}/health/live", timeout=5).status_code == 200
    finally:
        running.stop()


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


def test_several_worker_processes_serve_the_same_model(sample_models: Path, tmp_path: Path) -> None:
    running = start_server(sample_models, tmp_path / "server.log", SEGMENT_WORKERS="2")
    try:
        running.wait_for()
        with httpx.Client(base_url=running.url, timeout=10) as client:
            versions = {
                client.post(
                    "/segment", json={"age": 30, "annual_income": 50, "spending_score": 50}
                ).json()["model_version"]
                for _ in range(20)
            }
        assert versions == {load_bundle(sample_models).metadata.version}
    finally:
        output = running.stop()
    assert "Traceback" not in output, output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_extra_version_that_cannot_load_stops_the_start_naming_it(
    sample_models: Path, tmp_path: Path, workers: str
) -> None:
    current = load_bundle(sample_models).metadata.version
    running = start_server(
        sample_models,
        tmp_path / "server.log",
        SEGMENT_EXTRA_VERSIONS=f"{current},nope",
        SEGMENT_WORKERS=workers,
    )
    try:
        running.process.wait(timeout=30)
    finally:
        output = running.stop()
    assert running.process.returncode == 2, output
    assert output.strip() == (
        "segment-serve: invalid configuration: SEGMENT_EXTRA_VERSIONS names version 'nope', "
        f"which cannot be loaded from {sample_models}: bundle 'nope' not found: "
        f"{sample_models / 'nope' / 'metadata.json'} does not exist"
    )


def serve_with(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m service`` (segment-serve) with ``arguments``, SEGMENT_PORT on a free port;
    killed after 60 s if it starts serving instead of answering."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_")}
    environment.update(SEGMENT_MODELS_DIR=str(tmp_path / "models"), SEGMENT_PORT=str(free_port()))
    return subprocess.run(
        [sys.executable, "-m", "service", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_says_what_it_serves_and_where_the_settings_are_then_exits(
    tmp_path: Path, option: str
) -> None:
    """It used to start a server on SEGMENT_PORT (8000 by default) instead."""
    done = serve_with(tmp_path, option)
    assert done.returncode == 0, done.stderr
    help_text = " ".join(done.stdout.split())
    assert help_text.startswith("usage: segment-serve [-h]")
    assert "Serve the current model bundle over HTTP" in help_text
    assert "configured by SEGMENT_* environment variables" in help_text
    assert "SEGMENT_PORT (8000)" in help_text
    assert "docs/operations.md#settings" in help_text
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--port", "8852"], "set SEGMENT_PORT for --port (SEGMENT_PORT=8852 segment-serve)"),
        (["--workers=2"], "set SEGMENT_WORKERS for --workers (SEGMENT_WORKERS=2 segment-serve)"),
        (["models"], "settings come from SEGMENT_* environment variables"),
    ],
)
def test_any_other_argument_is_refused_naming_the_variable(
    tmp_path: Path, arguments: list[str], words: str
) -> None:
    """`SEGMENT_PORT=8851 segment-serve --port 8852` used to listen on 8851 without a word."""
    done = serve_with(tmp_path, *arguments)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    usage, error = done.stderr.splitlines()
    assert usage == "usage: segment-serve [-h]"
    assert error.startswith(
        f"segment-serve: error: no arguments are taken (got {' '.join(arguments)}): settings "
        "come from SEGMENT_* environment variables, read at start-up"
    )
    assert words in error
    assert error.endswith(
        "Every setting is listed in docs/operations.md#settings (and segment-serve --help)"
    )
