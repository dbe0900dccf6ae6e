"""Training wall time and peak memory on 1 and 10 million synthetic customers.

Each run is ``python -m training`` in a child process, so its peak resident memory
is its own (``bench.child``). The data is the project's seeded generator at scale,
written once as CSV and cached under ``bench/.data``.

    python -m bench.training_bench [--sizes 1000000,10000000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.child import run_measured
from bench.machine import describe_machine, write_results
from training.sample_data import PLANTED_SEGMENTS, generate_customers

DATA_DIR = Path(__file__).parent / ".data"
TARGETS = {  # (rows, mode) -> (seconds, GiB) from the issue
    (1_000_000, "auto"): (60.0, None),
    (10_000_000, "fixed"): (300.0, 4.0),
}


def cached_file(rows: int, suffix: str) -> Path:
    """Where the generated rows are cached: named by the generator's planted segments too, so
    data cached before the generator changed is never taken for its output."""
    digest = hashlib.sha256(repr(PLANTED_SEGMENTS).encode()).hexdigest()[:8]
    return DATA_DIR / f"customers-{rows}-{digest}{suffix}"


def dataset(rows: int) -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    path = cached_file(rows, ".csv")
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        generate_customers(rows, seed=2026).frame.to_csv(partial, index=False)
        partial.rename(path)
        print(f"generated {path} in {time.perf_counter() - started:.1f}s", flush=True)
    return path


def run_training(data: Path, mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-models-") as models:
        command = [
            sys.executable,
            "-m",
            "training",
            "--data",
            str(data),
            "--models-dir",
            models,
            "--quiet",
            "--stability-samples",
            "10",
        ]
        if mode == "fixed":
            command += ["--k", "5"]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            run = run_measured(command, stdout=out, stderr=err)
            out.seek(0)
            err.seek(0)
            printed, complaint = out.read().decode(), err.read().decode()
    if run.exit_code != 0:
        raise SystemExit(f"training failed on {data} ({mode}):\n{complaint}")
    summary = printed.splitlines()[0]
    return {
        "seconds": round(run.seconds, 2),
        "peak_rss_mib": round(run.peak_rss_mib, 1),
        "summary": summary,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    args = parser.parse_args()
    machine = describe_machine()
    rows: list[dict[str, Any]] = []
    print(f"{'rows':>12}  {'k':<6} {'seconds':>8}  {'peak MiB':>9}  {'target':<22} result")
    for size in (int(s) for s in args.sizes.split(",")):
        data = dataset(size)
        for mode in ("auto", "fixed"):
            result = run_training(data, mode)
            target = TARGETS.get((size, mode))
            verdict, target_text = "", ""
            if target:
                seconds, gib = target
                ok = result["seconds"] < seconds and (
                    gib is None or result["peak_rss_mib"] < gib * 1024
                )
                target_text = f"< {seconds:.0f} s" + (f", < {gib:.0f} GiB" if gib else "")
                verdict = "met" if ok else "MISSED"
            rows.append(
                {"rows": size, "k": mode, **result, "target": target_text, "verdict": verdict}
            )
            print(
                f"{size:>12,}  {mode:<6} {result['seconds']:>8.1f}  "
                f"{result['peak_rss_mib']:>9.0f}  {target_text:<22} {verdict}",
                flush=True,
            )
    path = write_results("training", rows, machine)
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
