"""The real service process for end-to-end tests: a free loopback port, output to a file.

Output goes to a file rather than a pipe, so a busy server never blocks on a full pipe, and a
traceback in it can be checked after the server stops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, path: str = "/health/ready", timeout: float = 60) -> None:
        """Until ``path`` answers 200 (use /health/live for a server without a model)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.process.returncode}:\n{self.output()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}{path}", timeout=1).status_code == 200 and self._listens():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not answering {path} within {timeout}s")

    def _listens(self) -> bool:
        """This process (or a child) holds the listening socket: free_port's port can be taken
        by another server between the probe and the bind, and that one must not pass for ours."""
        port = int(self.url.rsplit(":", 1)[1])
        table = Path("/proc/net/tcp")
        if not table.exists():
            return True  # not Linux: trust the answer
        inodes = {
            fields[9]
            for fields in (line.split() for line in table.read_text().splitlines()[1:])
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port
        }
        pids = [self.process.pid]
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            pids += [int(child) for child in children.read_text().split()]
        for pid in pids:
            for fd in Path(f"/proc/{pid}/fd").glob("*"):
                try:
                    if os.readlink(fd) in {f"socket:[{inode}]" for inode in inodes}:
                        return True
                except OSError:
                    continue
        return False

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM (killed if it does not exit in time); returns the server's output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.output()


def start_server(models: Path, log: Path, **env: str) -> ServerProcess:
    """``python -m service`` with only the given SEGMENT_* settings (none leak in)."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_")}
    environment.update(
        SEGMENT_MODELS_DIR=str(models),
        SEGMENT_HOST="127.0.0.1",
        SEGMENT_PORT=str(port),
        SEGMENT_LOG_LEVEL="warning",
    )
    environment.update(env)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(process, f"http://127.0.0.1:{port}", log)
