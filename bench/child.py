"""Run a command in a child process and measure its wall time and its own peak memory.

``ru_maxrss`` from ``wait4`` is a trap on Linux: a child forked (or vforked) from a large
process starts with the parent's resident pages in its address space, and exec keeps that
high-water mark, so every command the benchmark starts after generating 10 million rows
"peaked" at the benchmark's own 1.8 GiB. (That is why ``segment-score`` once read 1.8 GiB in
``make bench`` and 0.9 GiB by hand.) The command is therefore started by a small relay
process, which forks it from its own small image and reports the child's ``ru_maxrss``, and
its CPU time (user + system): on a shared machine the wall time is partly other people's load,
the CPU time much less so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

RELAY = """
import os, sys
report, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mib: float
    exit_code: int
    cpu_seconds: float = 0.0


def run_measured(
    command: list[str],
    *,
    cwd: Path | None = None,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    timeout: float | None = None,
) -> ChildRun:
    """Run ``command`` to the end (killed, with its children, after ``timeout`` seconds)."""
    with tempfile.TemporaryDirectory(prefix="bench-child-") as scratch:
        report = Path(scratch) / "maxrss"
        started = time.perf_counter()
        relay = subprocess.Popen(
            [sys.executable, "-c", RELAY, str(report), *command],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            exit_code = relay.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(relay.pid, signal.SIGKILL)
            exit_code = relay.wait()
        seconds = time.perf_counter() - started
        peak_kib, cpu = report.read_text().split() if report.exists() else ("0", "0")
    return ChildRun(
        seconds=seconds,
        peak_rss_mib=int(peak_kib) / 1024,
        exit_code=exit_code,
        cpu_seconds=float(cpu),
    )
