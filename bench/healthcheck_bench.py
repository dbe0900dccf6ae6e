"""The container's health probe: wall time and peak memory of ``python -m service.healthcheck``.

Kubernetes and podman run the probe every few seconds with a timeout (5 s in the image), so it
must stay cheap on a busy node. Each probe runs in a child process against a real server, and
its peak resident memory is its own (``ru_maxrss`` from ``wait4``). ``--compare DIR`` probes
another checkout's code in the same run (for example the commit before a change), against the
same server.

    python -m bench.healthcheck_bench [--probes 20] [--compare /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import ROOT, ServerSpec, python_command, running
from segmentation.sources import DataSource
from training.train import TrainingOptions, train

TARGET_SECONDS = 0.3
TARGET_MIB = 40.0
SAMPLE = ROOT / "data" / "sample_customers.csv"
# Runs the probe as ``python -m`` would and prints its peak memory. VmHWM belongs to the process
# image, so unlike ru_maxrss it does not count the memory of the (large) benchmark process the
# child was forked from before exec.
PROBE = """
import re, runpy, sys
code = 0
try:
    runpy.run_module("service.healthcheck", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
status = open("/proc/self/status").read()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
sys.exit(code)
"""


def probe(code_root: Path, port: int) -> tuple[float, float, int]:
    """One probe: (wall seconds, peak RSS in MiB, exit code)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SEGMENT_PORT": str(port),
        "PYTHONPATH": str(code_root),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=code_root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib / 1024, done.returncode


def summarise(name: str, runs: list[tuple[float, float, int]]) -> str:
    seconds = sorted(r[0] for r in runs)
    mib = [r[1] for r in runs]
    failures = sum(1 for r in runs if r[2] != 0)
    p99 = seconds[min(len(seconds) - 1, round(0.99 * (len(seconds) - 1)))]
    verdict = "met" if p99 < TARGET_SECONDS and max(mib) < TARGET_MIB and not failures else "missed"
    return (
        f"| {name} | {statistics.median(seconds):.3f} | {p99:.3f} | "
        f"{statistics.median(mib):.1f} | {max(mib):.1f} | {failures} | {verdict} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--compare", type=Path, help="another checkout whose probe to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="healthcheck-bench-") as scratch:
        models = Path(scratch) / "models"
        train(
            TrainingOptions(
                source=DataSource(str(SAMPLE)), models_dir=models, k=5, stability_samples=0
            )
        )
        spec = ServerSpec(
            "service",
            python_command("-m", "service"),
            {"SEGMENT_PORT": "{port}", "SEGMENT_MODELS_DIR": str(models)},
        )
        with running(spec, Path(scratch)) as server:
            checkouts = [("this checkout", ROOT)]
            if args.compare:
                checkouts.append((f"{args.compare}", args.compare.resolve()))
            results: dict[str, list[tuple[float, float, int]]] = {n: [] for n, _ in checkouts}
            for _ in range(args.probes):  # interleaved, so both see the same machine load
                for name, code_root in checkouts:
                    results[name].append(probe(code_root, server.port))
    print(
        f"python -m service.healthcheck, {args.probes} probes each against one real server; "
        f"targets: p99 < {TARGET_SECONDS} s and peak RSS < {TARGET_MIB:.0f} MiB"
    )
    print("| code | p50 s | p99 s | RSS p50 MiB | RSS max MiB | failed | target |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        print(summarise(name, runs))


if __name__ == "__main__":
    main()
