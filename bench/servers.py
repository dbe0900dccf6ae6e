"""Start a server process on a free loopback port, wait until it is ready, measure, stop it.

Every server is a child process in its own session, so stopping it (SIGTERM, then SIGKILL to
its process group) also ends any worker processes it started, and nothing else. Its output goes
to a file, never to a pipe that nobody reads: a server writing a log line per request to a full
pipe would be throttled by the benchmark itself.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_PATH = "/health/ready"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ServerSpec:
    """How to run one server: ``{port}`` in the command or environment is filled in."""

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = READY_PATH
    cwd: Path | None = None


@dataclass
class RunningServer:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    seconds_to_ready: float = 0.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers a supervisor spawned, else the server.

        A supervisor's other children (multiprocessing's resource tracker) serve nothing.
        """
        workers = [
            pid
            for pid in child_pids(self.process.pid)
            if b"spawn_main" in _command_line(pid) or b"multiprocessing-fork" in _command_line(pid)
        ]
        return workers or [self.process.pid]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def python_command(*args: str) -> tuple[str, ...]:
    return (sys.executable, *args)


def uvicorn_command(target: str, *, factory: bool = False) -> tuple[str, ...]:
    command = python_command("-m", "uvicorn", target, "--host", HOST, "--port", "{port}")
    command += ("--workers", "1", "--log-level", "warning", "--no-access-log")
    return (*command, "--factory") if factory else command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any SEGMENT_* setting (an API key, say), plus extra."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_")}
    return {**base, **extra}


@contextmanager
def running(spec: ServerSpec, log_dir: Path) -> Iterator[RunningServer]:
    server = start(spec, log_dir)
    try:
        yield server
    finally:
        stop(server)


def start(spec: ServerSpec, log_dir: Path) -> RunningServer:
    """Start the server and return once GET /health/ready answers 200."""
    port = free_port()
    command = [part.format(port=port) for part in spec.command]
    env = clean_environment({k: v.format(port=port) for k, v in spec.env.items()})
    log_path = log_dir / f"{spec.name}-{port}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=spec.cwd or ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(spec, process, port, log_path)
    try:
        wait_until_ready(server)
    except BaseException:
        stop(server)
        raise
    server.seconds_to_ready = time.perf_counter() - started
    return server


def wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.spec.name} exited with {server.process.returncode} before it was "
                f"ready:\n{server.log_tail()}"
            )
        try:
            status, _, _ = request(server.port, "GET", server.spec.ready_path, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{server.spec.name} not ready within {READY_TIMEOUT_SECONDS:.0f}s")


def stop(server: RunningServer) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    # Workers of a supervisor share its process group, which this script created.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
    timeout: float = 60,
) -> tuple[int, str, bytes]:
    """One HTTP request: status, response content type and body."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def rss_mib(pid: int) -> float:
    """Resident memory of one process (VmRSS), in MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def child_pids(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name, in parentheses, may hold spaces: the parent pid follows its end.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)
