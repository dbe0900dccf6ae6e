"""Drive a server with wrk (from Debian's packages, installed here when missing).

Each measurement is a warm-up run whose results are dropped, then ``repeats`` measured runs of
the same length; the run with the median requests/s is kept, so one noisy second on a shared
machine does not decide a row.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import HOST

WRK_SCRIPT = Path(__file__).parent / "wrk_post.lua"
RESULT_MARKER = "WRK_RESULT "


@dataclass(frozen=True)
class LoadShape:
    """How hard and how long to drive one row."""

    connections: int
    threads: int
    warmup_seconds: int
    seconds: int
    timeout_seconds: int = 10
    repeats: int = 1


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.requests_per_second, 1),
            "errors": self.errors,
            "latency_ms": {k: round(v / 1000, 3) for k, v in self.latency_us.items()},
        }


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package first when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `sudo apt-get install -y wrk` first")
    print("installing wrk (apt-get install -y wrk)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
        subprocess.run(install, env=env, check=True, capture_output=True, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install wrk")
    return found


def drive(
    wrk: str,
    port: int,
    path: str,
    body_file: Path,
    content_type: str,
    shape: LoadShape,
    headers: tuple[tuple[str, str], ...] = (),
) -> LoadResult:
    """Warm up, then measure ``shape.repeats`` times and keep the median run; ``headers`` are
    sent on every request besides the content type."""
    if shape.warmup_seconds:
        run_wrk(wrk, port, path, body_file, content_type, shape, shape.warmup_seconds, headers)
    runs = [
        run_wrk(wrk, port, path, body_file, content_type, shape, shape.seconds, headers)
        for _ in range(shape.repeats)
    ]
    return median_run(runs)


def median_run(runs: list[LoadResult]) -> LoadResult:
    """The run with the median throughput (the lower middle one of an even count)."""
    median = statistics.median_low(run.requests_per_second for run in runs)
    return next(run for run in runs if run.requests_per_second == median)


def run_wrk(
    wrk: str,
    port: int,
    path: str,
    body_file: Path,
    content_type: str,
    shape: LoadShape,
    seconds: int,
    headers: tuple[tuple[str, str], ...] = (),
) -> LoadResult:
    command = [
        wrk,
        f"--threads={shape.threads}",
        f"--connections={shape.connections}",
        f"--duration={seconds}s",
        f"--timeout={shape.timeout_seconds}s",
        f"--script={WRK_SCRIPT}",
        f"http://{HOST}:{port}{path}",
        "--",
        str(body_file),
        content_type,
        *(f"{name}: {value}" for name, value in headers),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            raw = json.loads(line.removeprefix(RESULT_MARKER))
            return LoadResult(
                requests=int(raw["requests"]),
                seconds=raw["duration_us"] / 1e6,
                errors={k: int(v) for k, v in raw["errors"].items()},
                latency_us={k: float(v) for k, v in raw["latency_us"].items()},
            )
    raise RuntimeError(
        f"wrk printed no result (exit {done.returncode}):\n{done.stdout}{done.stderr}"
    )
