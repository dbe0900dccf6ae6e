"""What ``segment-serve`` says as it starts, and what stops it: real processes on free ports.

A refusal is exit code 2 and one line naming the variable, never a traceback or a bare errno; a
variable nothing reads is named in a warning; the log says whether authentication is on.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.real_server import ServerProcess, free_port, start_server
from tests.service.conftest import API_KEY, AUTH, OTHER_API_KEY

pytestmark = pytest.mark.e2e

REFUSED = "segment-serve: invalid configuration: "


def refusal_of(running: ServerProcess) -> str:
    """The one line a refused start wrote, after checking it exited with code 2."""
    try:
        running.process.wait(timeout=60)
    finally:
        output = running.stop()
    assert running.process.returncode == 2, output
    assert "Traceback" not in output, output
    assert len(output.strip().splitlines()) == 1, output
    assert output.startswith(REFUSED), output
    return output.strip().removeprefix(REFUSED)


def start_lines(running: ServerProcess) -> list[dict[str, Any]]:
    """The JSON log lines of the start-up itself (logger ``service.start``)."""
    lines = [json.loads(line) for line in running.output().splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "service.start"]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port another server listens on, for as long as the test runs."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port()))
        other.listen()
        yield int(other.getsockname()[1])


def test_the_clients_key_alone_is_refused_naming_both_variables(tmp_path: Path) -> None:
    """SEGMENT_API_KEY (the clients' variable) used to start a service open to anyone."""
    running = start_server(tmp_path / "models", tmp_path / "server.log", SEGMENT_API_KEY=API_KEY)
    assert refusal_of(running) == (
        "SEGMENT_API_KEY is set, but it is the key the clients send: the service reads its keys "
        "from SEGMENT_API_KEYS (or SEGMENT_API_KEYS_FILE, SEGMENT_ADMIN_KEYS), and none is set, "
        "so it would start with no authentication. Rename it to SEGMENT_API_KEYS to require "
        "that key, or unset SEGMENT_API_KEY to run open"
    )
    assert API_KEY not in running.output()


def test_beside_server_keys_the_clients_key_is_fine_and_the_log_says_auth_is_on(
    trained_models: Path, tmp_path: Path
) -> None:
    running = start_server(
        trained_models,
        tmp_path / "server.log",
        SEGMENT_API_KEY=API_KEY,  # a segment-promote --reload beside the service
        SEGMENT_API_KEYS=API_KEY,
        SEGMENT_ADMIN_KEYS=OTHER_API_KEY,
        SEGMENT_LOG_LEVEL="info",
    )
    try:
        running.wait_for()
        assert httpx.get(f"{running.url}/segments", timeout=10).status_code == 401
        assert httpx.get(f"{running.url}/segments", headers=AUTH, timeout=10).status_code == 200
    finally:
        output = running.stop()
    assert [(line["level"], line["message"]) for line in start_lines(running)] == [
        (
            "info",
            "authentication on: 2 API keys, 1 of them with the admin role (renames, reload); "
            "every endpoint but the health checks needs one",
        )
    ]
    assert API_KEY not in output
    assert OTHER_API_KEY not in output


def test_an_open_service_and_each_variable_nothing_reads_are_named_in_the_log(
    trained_models: Path, tmp_path: Path
) -> None:
    """A mistyped SEGMENT_MODEL_DIR used to be ignored without a word; the variables the
    project does read (those start_server sets, the drift and UI settings) draw no warning."""
    running = start_server(
        trained_models,
        tmp_path / "server.log",
        SEGMENT_MODEL_DIR="/elsewhere",
        SEGMENT_FROBNICATE="1",
        SEGMENT_UI="false",
        SEGMENT_DRIFT_MIN_OBSERVATIONS="100",
    )
    try:
        running.wait_for()
        assert httpx.get(f"{running.url}/segments", timeout=10).status_code == 200
    finally:
        running.stop()
    assert [(line["level"], line["message"]) for line in start_lines(running)] == [
        (
            "warning",
            "SEGMENT_FROBNICATE is not a setting and is ignored: every setting is listed in "
            "docs/operations.md#settings",
        ),
        (
            "warning",
            "SEGMENT_MODEL_DIR is not a setting and is ignored: did you mean SEGMENT_MODELS_DIR? "
            "every setting is listed in docs/operations.md#settings",
        ),
        (
            "warning",
            "authentication off: no API keys: every endpoint is open (set SEGMENT_API_KEYS or "
            "SEGMENT_API_KEYS_FILE to require one)",
        ),
    ]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_host_that_does_not_resolve_is_refused_naming_it(tmp_path: Path, workers: str) -> None:
    """It used to exit with code 3 and '[Errno -2] Name or service not known'."""
    running = start_server(
        tmp_path / "models",
        tmp_path / "server.log",
        SEGMENT_HOST="not.a.host.invalid",
        SEGMENT_WORKERS=workers,
    )
    refusal = refusal_of(running)
    assert refusal.startswith("SEGMENT_HOST 'not.a.host.invalid' cannot be resolved ("), refusal
    assert refusal.endswith(
        "): give a name or address of this machine, such as 127.0.0.1, or 0.0.0.0 for every "
        "interface"
    ), refusal


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_refused_naming_it(
    tmp_path: Path, occupied_port: int, workers: str
) -> None:
    """It used to say only '[Errno 98] Address already in use' (exit code 3 with one worker)."""
    running = start_server(
        tmp_path / "models",
        tmp_path / "server.log",
        SEGMENT_PORT=str(occupied_port),
        SEGMENT_WORKERS=workers,
    )
    assert refusal_of(running) == (
        f"SEGMENT_PORT {occupied_port} on SEGMENT_HOST '127.0.0.1': the address is already in "
        "use (another server?): stop it, or choose another SEGMENT_PORT"
    )


def test_a_file_as_the_metrics_folder_is_refused_naming_it(tmp_path: Path) -> None:
    """It used to end in a FileExistsError traceback, exit code 1."""
    a_file = tmp_path / "metrics"
    a_file.write_text("not a folder\n")
    running = start_server(
        tmp_path / "models",
        tmp_path / "server.log",
        SEGMENT_WORKERS="2",
        SEGMENT_METRICS_DIR=str(a_file),
    )
    assert refusal_of(running) == (
        f"SEGMENT_METRICS_DIR {a_file}: cannot hold the workers' metrics files (it is a file, not "
        "a folder); set SEGMENT_METRICS_DIR to a folder the service may write, or leave it unset "
        "for a temporary one"
    )
    assert a_file.read_text() == "not a folder\n"


def test_a_metrics_folder_that_cannot_be_written_is_refused_naming_it(tmp_path: Path) -> None:
    """An empty folder passed the check, and the first write (the drift baseline) ended in a
    PermissionError traceback. The folder is made immutable: root writes anywhere else."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], check=False).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        running = start_server(
            tmp_path / "models",
            tmp_path / "server.log",
            SEGMENT_WORKERS="2",
            SEGMENT_METRICS_DIR=str(folder),
        )
        refusal = refusal_of(running)
        assert refusal.startswith(
            f"SEGMENT_METRICS_DIR {folder}: cannot hold the workers' metrics files (Operation "
            "not permitted"
        ), refusal
        assert refusal.endswith(
            "; set SEGMENT_METRICS_DIR to a folder the service may write, or leave it unset for "
            "a temporary one"
        ), refusal
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
