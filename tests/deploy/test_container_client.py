"""deploy/container_client.py: how the SIGTERM drain is judged, and the drain on a real server.

`make container-test` runs the client against the image; here its verdicts are pinned down on
made-up outcomes, and the whole drain runs against a real server process without a container.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT, SAMPLE_CSV
from tests.real_server import start_server
from training.cli import main as train_main


def load_client() -> ModuleType:
    path = REPO_ROOT / "deploy" / "container_client.py"
    spec = importlib.util.spec_from_file_location("container_client", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


client = load_client()
Outcome = client.Outcome
SIGNALLED = 100.0


def before(n: int = 20) -> list[object]:
    """n requests that completed well before SIGTERM."""
    return [Outcome(SIGNALLED - 3 + i / 10, SIGNALLED - 2.9 + i / 10, True, True) for i in range(n)]


def test_a_clean_stream_passes_and_is_counted() -> None:
    outcomes = [
        *before(),
        Outcome(SIGNALLED - 0.01, SIGNALLED + 0.2, True, True),
        Outcome(SIGNALLED + 0.1, SIGNALLED + 0.3, True, True),
        Outcome(SIGNALLED + 0.5, SIGNALLED + 0.5, False, False, "ConnectionRefusedError: no"),
    ]
    summary = client.judge_stream(outcomes, SIGNALLED)
    assert "all 22 that reached the server succeeded" in summary
    assert "1 in flight" in summary
    assert "1 sent after SIGTERM" in summary


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        pytest.param(
            Outcome(SIGNALLED + 0.1, SIGNALLED + 0.2, False, True, "RemoteDisconnected: x"),
            "reached the server, then: RemoteDisconnected",
            id="taken-then-dropped-after-sigterm",
        ),
        pytest.param(
            Outcome(SIGNALLED - 0.1, SIGNALLED + 0.2, False, True, "status 500: x"),
            "reached the server, then: status 500",
            id="in-flight-error",
        ),
        pytest.param(
            Outcome(SIGNALLED - 5, SIGNALLED - 4, False, False, "ConnectionResetError: x"),
            "never reached the server, 5.0s before SIGTERM",
            id="not-taken-long-before-sigterm",
        ),
        pytest.param(
            Outcome(SIGNALLED + 0.1, SIGNALLED + 15, False, False, "TimeoutError: timed out"),
            "hung: TimeoutError",
            id="hung-after-sigterm",
        ),
    ],
)
def test_a_failure_is_not_excused(outcome: object, message: str) -> None:
    with pytest.raises(client.CheckFailed, match=message):
        client.judge_stream([*before(), outcome], SIGNALLED)


def test_a_request_queued_just_before_the_listener_closed_is_excused() -> None:
    queued = Outcome(SIGNALLED - 0.05, SIGNALLED + 0.1, False, False, "ConnectionResetError: x")
    assert "1 queued in the last" in client.judge_stream([*before(), queued], SIGNALLED)


def test_no_stream_no_pass() -> None:
    with pytest.raises(client.CheckFailed, match="no real stream"):
        client.judge_stream(before(3), SIGNALLED)


def test_only_loopback_is_a_target() -> None:
    with pytest.raises(SystemExit):
        client.endpoint("http://10.0.0.1:8000")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    models = tmp_path / "models"
    assert train_main(["--data", str(SAMPLE_CSV), "--models-dir", str(models)]) == 0
    running = start_server(
        models, tmp_path / "server.log", SEGMENT_LOG_LEVEL="info", SEGMENT_WORKERS="1"
    )
    try:
        yield running.process, running.url, running.log
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGKILL)
        running.process.wait(timeout=30)


@pytest.mark.e2e
def test_sigterm_drains_a_real_server(
    server: tuple[subprocess.Popen[bytes], str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    process, url, log = server
    client.wait_ready(url, timeout=60)
    client.drain(url, process.pid, f"cat {log}")
    # uvicorn re-raises SIGTERM once drained: outside a container the process dies of it; as a
    # container's PID 1 (no default action for it there) it exits 0, as container-test checks.
    assert process.wait(timeout=30) in {0, -signal.SIGTERM}
    report = capsys.readouterr().out
    assert "requests taken before SIGTERM" in report
    assert "Traceback" not in log.read_text()
