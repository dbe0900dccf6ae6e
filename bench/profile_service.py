"""Where a service worker spends its time under load: py-spy on one worker while wrk drives it.

Starts the service (1 worker) on a trained sample bundle, drives one path with wrk as
``bench.service_bench`` does, samples the worker with ``py-spy record`` for a fixed time after a
warm-up, and prints the functions and files that hold the most samples, by self time (the frame
on top of the stack) and by total time (anywhere on the stack). The collapsed stacks are kept
under ``bench/.data/profiles/``: speedscope (https://www.speedscope.app) and flamegraph tools
open them as they are.

    python -m bench.profile_service [--path single|batch|csv|all] [--seconds 15] [--native]

The worker is paused for each sample (py-spy's default, 100 a second), which slows it: the
shares are what matter, not the throughput printed during the profile.

py-spy is not a project dependency: ``pip install py-spy`` into the venv first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.load import WRK_SCRIPT, LoadShape, ensure_wrk
from bench.payloads import BATCH_ENCODINGS, Payload, batch, batch_frame, single_customer
from bench.servers import HOST, ROOT, running
from bench.service_bench import SEGMENT_PATH, require_answer, service_spec, shapes, train
from segmentation.bundle import load_bundle

PROFILE_DIR = Path(__file__).parent / ".data" / "profiles"
TOP = 25
# Leaf frames of a thread that waits rather than works (anyio's idle worker threads sit in
# Condition.wait): py-spy samples them as active, so they are dropped before percentages.
IDLE_LEAVES = frozenset({"Condition.wait", "Event.wait", "Lock.acquire", "select", "poll"})


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is missing: install it with `.venv/bin/pip install py-spy`")
    return found


def profile(
    wrk: str,
    spy: str,
    port: int,
    pid: int,
    payload: Payload,
    body_file: Path,
    shape: LoadShape,
    seconds: int,
    output: Path,
    native: bool,
    nonblocking: bool,
) -> None:
    load = subprocess.Popen(
        [
            wrk,
            f"--threads={shape.threads}",
            f"--connections={shape.connections}",
            f"--duration={shape.warmup_seconds + seconds + 2}s",
            f"--timeout={shape.timeout_seconds}s",
            f"--script={WRK_SCRIPT}",
            f"http://{HOST}:{port}{SEGMENT_PATH}",
            "--",
            str(body_file),
            payload.content_type,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(shape.warmup_seconds)
        # py-spy pauses the worker for each sample by default: slower, but whole stacks. With
        # --nonblocking, coroutine stacks often come back cut off from their callers.
        record = [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100"]
        record += ["--format", "raw", "--function", "--output", str(output)]
        if native:
            record.append("--native")
        if nonblocking:
            record.append("--nonblocking")
        subprocess.run(record, check=True, capture_output=True, timeout=seconds + 60)
    finally:
        out, _ = load.communicate(timeout=seconds + shape.warmup_seconds + 60)
    for line in out.splitlines():
        if line.startswith("WRK_RESULT"):
            print(f"  load during the profile: {line.removeprefix('WRK_RESULT ')}")


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def short(frame: str) -> str:
    """``name (path/to/site-packages/pkg/mod.py:12)`` -> ``name (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where}" if where else name


def file_of(frame: str) -> str:
    where = short(frame).partition(" (")[2].rstrip(")")
    return where.rsplit(":", 1)[0] or "(native)"


# Where a leaf frame's file lives -> the part of the request path it belongs to; first match wins.
AREAS: tuple[tuple[str, str], ...] = (
    ("service/", "service code"),
    ("segmentation/", "segmentation (scoring, validation, tables)"),
    ("scoring/", "segmentation (scoring, validation, tables)"),
    ("pydantic", "pydantic (validation, model building, serialisation)"),
    ("fastapi/dependencies", "FastAPI dependency injection"),
    ("fastapi/", "FastAPI and Starlette routing, middleware, responses"),
    ("starlette/", "FastAPI and Starlette routing, middleware, responses"),
    ("anyio/", "thread pool hand-offs (anyio, threading, queue)"),
    ("threading.py", "thread pool hand-offs (anyio, threading, queue)"),
    ("queue.py", "thread pool hand-offs (anyio, threading, queue)"),
    ("concurrent/", "thread pool hand-offs (anyio, threading, queue)"),
    ("uvicorn/", "uvicorn, uvloop and httptools (HTTP and the event loop)"),
    ("asyncio/", "uvicorn, uvloop and httptools (HTTP and the event loop)"),
    ("uvloop", "uvicorn, uvloop and httptools (HTTP and the event loop)"),
    ("httptools", "uvicorn, uvloop and httptools (HTTP and the event loop)"),
    ("numpy/", "numpy"),
    ("pandas/", "pandas and pyarrow"),
    ("pyarrow/", "pandas and pyarrow"),
    ("prometheus_client/", "prometheus_client (metrics)"),
    ("json/", "json and orjson"),
    ("orjson", "json and orjson"),
    ("logging/", "logging"),
)
PROJECT_DIRS = ("service/", "segmentation/", "scoring/", "training/")


def area_of(file: str) -> str:
    return next((area for prefix, area in AREAS if file.startswith(prefix)), "other")


def is_idle(stack: tuple[str, ...]) -> bool:
    return stack[-1].partition(" (")[0] in IDLE_LEAVES


def summarise(stacks: Counter[tuple[str, ...]], top: int = TOP) -> str:
    idle = sum(count for stack, count in stacks.items() if is_idle(stack))
    stacks = Counter({stack: count for stack, count in stacks.items() if not is_idle(stack)})
    total = sum(stacks.values())
    if not total:
        return "  no samples (was the worker idle?)"
    self_time: Counter[str] = Counter()
    self_by_area: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        self_time[short(stack[-1])] += count
        self_by_area[area_of(file_of(stack[-1]))] += count
        for frame in {short(f) for f in stack}:
            if file_of(frame).startswith(PROJECT_DIRS):
                inclusive[frame] += count

    def table(title: str, counter: Counter[str]) -> list[str]:
        lines = [f"  {title}"]
        for name, count in counter.most_common(top):
            lines.append(f"    {count / total:6.1%}  {name}")
        return lines

    lines = [
        f"  {total:,} busy samples; {idle:,} samples of threads waiting on a lock or queue "
        "dropped (py-spy does not sample the idle event loop either)"
    ]
    lines += table("self time by function", self_time)
    lines += table("self time by area", self_by_area)
    lines += table("total time of the project's functions (anywhere on the stack)", inclusive)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=("single", "batch", "csv", "all"), default="all")
    parser.add_argument("--seconds", type=int, default=15, help="how long to sample")
    parser.add_argument("--native", action="store_true", help="include C frames (slower)")
    parser.add_argument(
        "--nonblocking", action="store_true", help="do not pause the worker to sample it"
    )
    parser.add_argument("--top", type=int, default=TOP)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 120:
        parser.error("--seconds must be 1-120")
    wrk, spy = ensure_wrk(), py_spy()
    single_shape, batch_shapes = shapes(
        argparse.Namespace(
            quick=False, warmup=3, seconds=args.seconds, threads=1, connections=16, repeats=1
        )
    )
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        models_dir = Path(scratch) / "models"
        train(models_dir)
        bundle = load_bundle(models_dir)
        features = list(bundle.metadata.features)
        frame = batch_frame(10_000)
        json_encoding, csv_encoding = BATCH_ENCODINGS[0], BATCH_ENCODINGS[1]
        jobs = {
            "single": (single_customer(bundle.pipeline, features), single_shape),
            "batch": (
                batch(*json_encoding[:3], frame, bundle.pipeline, features),
                batch_shapes[10_000],
            ),
            "csv": (
                batch(*csv_encoding[:3], frame, bundle.pipeline, features),
                batch_shapes[10_000],
            ),
        }
        chosen = list(jobs) if args.path == "all" else [args.path]
        with running(service_spec(models_dir, 1), Path(scratch)) as server:
            for name in chosen:
                payload, shape = jobs[name]
                require_answer(server, payload)
                output = PROFILE_DIR / f"{name}-{stamp}.txt"
                print(
                    f"\n{name}: {payload.name} ({payload.content_type}), {shape.connections} "
                    f"connections, {args.seconds} s of samples -> {output}",
                    flush=True,
                )
                profile(
                    wrk,
                    spy,
                    server.port,
                    server.worker_pids()[0],
                    payload,
                    payload.write(Path(scratch)),
                    shape,
                    args.seconds,
                    output,
                    args.native,
                    args.nonblocking,
                )
                print(summarise(read_stacks(output), args.top), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
