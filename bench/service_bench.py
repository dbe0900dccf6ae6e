"""Serving speed side by side: the HTTP stack's ceiling, a plain baseline, and this service.

One run trains a bundle on the committed sample into a temporary folder, then for each server:
starts it on a free loopback port, checks it gives the pipeline's answer, drives it with wrk
(a warm-up, then measured runs of which the median is kept), and stops it. Rows:

- ceiling: a bare ASGI app under uvicorn returning a constant JSON (``bench.ceiling_app``);
- baseline: FastAPI, a pydantic body, a ``def`` route, ``Pipeline.predict`` on a one-row
  DataFrame (``bench.baseline_app``);
- this service, ``POST /segment`` with one customer, with 1 and 2 workers;
- batches of 100 and 10,000 customers as JSON records, CSV and columnar payloads, in
  customers/s (an encoding the service does not accept yet is shown as not available);
- the offline scoring command on 10 million rows, CSV and Parquet (when it exists);
- start-up time to ready and resident memory of one worker, for the service and the baseline.

Ratios compare customers/s (a single-customer request is one customer) with the ceiling's and
the baseline's from the same run: on this shared 2-core machine absolute figures drift from run
to run, ratios much less. Results and the machine go to ``bench/results/service-*.json``.

    python -m bench.service_bench [--quick] [--repeats N] [--skip-offline]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from bench import offline_scoring
from bench.load import LoadResult, LoadShape, drive, ensure_wrk
from bench.machine import describe_machine, write_results
from bench.payloads import (
    BATCH_ENCODINGS,
    JSON,
    SAMPLE_CSV,
    Payload,
    batch,
    batch_frame,
    segment_ids_in,
    single_customer,
)
from bench.servers import (
    ROOT,
    RunningServer,
    ServerSpec,
    python_command,
    request,
    rss_mib,
    running,
    start,
    stop,
    uvicorn_command,
)
from segmentation.bundle import load_bundle

SEGMENT_PATH = "/segment"
MEASURED_CODE = ("service", "segmentation", "scoring")
BATCH_SIZES = (100, 10_000)
# Arrow's target is set at 100,000 customers per request (issue 12); the service allows it here.
LARGE_ARROW = 100_000
SERVICE_MAX_BATCH = LARGE_ARROW
SERVICE_MAX_BODY_BYTES = 64 * 1024 * 1024
MIXED_BATCH = 10_000
MIB_PER_GIB = 1024


@dataclass
class Row:
    """One line of the table (and of the JSON results)."""

    name: str
    kind: str  # load, offline or startup
    workers: int | None = None
    connections: int | None = None
    requests_per_second: float | None = None
    customers_per_second: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    vs_ceiling: float | None = None
    vs_baseline: float | None = None
    note: str = ""
    available: bool = True
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    target: str
    measured: str
    verdict: str  # met, MISSED or not available


@dataclass
class Bench:
    """What the run needs everywhere: wrk, where logs go, and the reference figures so far."""

    wrk: str
    log_dir: Path
    single_shape: LoadShape
    batch_shapes: dict[int, LoadShape]
    startup_repeats: int
    ceiling: Row | None = None
    baseline: Row | None = None
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row, role: str = "") -> Row:
        """Record a row and say so; ``role`` "ceiling" or "baseline" makes it that reference."""
        if role == "ceiling":
            self.ceiling = row
        elif role == "baseline":
            self.baseline = row
        self.rows.append(row)
        figure = (
            f"{row.customers_per_second:,.0f} customers/s"
            if row.customers_per_second is not None
            else ""
        )
        print(f"  {row.name}: {', '.join(filter(None, (figure, row.note)))}", flush=True)
        return row

    def compare(self) -> None:
        """Each row's customers/s against the ceiling's and the baseline's, from this run."""
        for row in self.rows:
            value = row.customers_per_second
            if value is None:
                continue
            if self.ceiling and self.ceiling.customers_per_second:
                row.vs_ceiling = value / self.ceiling.customers_per_second
            if self.baseline and self.baseline.customers_per_second:
                row.vs_baseline = value / self.baseline.customers_per_second


# ---------------------------------------------------------------------------------------------
# servers


def ceiling_spec() -> ServerSpec:
    return ServerSpec("ceiling", uvicorn_command("bench.ceiling_app:app"))


def baseline_spec(models_dir: Path) -> ServerSpec:
    return ServerSpec(
        "baseline",
        uvicorn_command("bench.baseline_app:create_app", factory=True),
        {"BENCH_MODELS_DIR": str(models_dir)},
    )


def service_spec(models_dir: Path, workers: int) -> ServerSpec:
    # At warning level the service writes no per-request line; its output goes to a file anyway.
    return ServerSpec(
        f"service-{workers}w",
        python_command("-m", "service"),
        {
            "SEGMENT_MODELS_DIR": str(models_dir),
            "SEGMENT_HOST": "127.0.0.1",
            "SEGMENT_PORT": "{port}",
            "SEGMENT_LOG_LEVEL": "warning",
            "SEGMENT_WORKERS": str(workers),
            "SEGMENT_MAX_BATCH": str(SERVICE_MAX_BATCH),
            "SEGMENT_MAX_BODY_BYTES": str(SERVICE_MAX_BODY_BYTES),
        },
    )


def answer_problem(server: RunningServer, payload: Payload, *, check_segments: bool) -> str:
    """'' when the server answers 200 with the pipeline's segments, else what went wrong."""
    status, content_type, body = request(
        server.port, "POST", SEGMENT_PATH, payload.body, payload.content_type
    )
    if status != 200:
        return f"HTTP {status} {error_code(body)}".rstrip()
    if not check_segments:
        return ""
    segments = segment_ids_in(content_type, body)
    if segments is None:
        return f"cannot read a {content_type or 'untyped'} answer"
    if segments != payload.expected_segments:
        wrong = sum(a != b for a, b in zip(segments, payload.expected_segments, strict=False))
        return (
            f"segments differ from Pipeline.predict ({wrong} of {payload.customers} differ, "
            f"{len(segments)} returned)"
        )
    return ""


def error_code(body: bytes) -> str:
    """The ``error.code`` of the service's error shape, else the start of the body."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return body[:80].decode(errors="replace")
    return str(code)


def require_answer(server: RunningServer, payload: Payload, *, check_segments: bool = True) -> None:
    problem = answer_problem(server, payload, check_segments=check_segments)
    if problem:
        raise SystemExit(
            f"{server.spec.name} gave a wrong answer to {payload.name}: {problem}\n"
            f"{server.log_tail()}"
        )


def measure(
    bench: Bench,
    server: RunningServer,
    payload: Payload,
    name: str,
    shape: LoadShape,
    role: str = "",
) -> Row:
    body_file = payload.write(bench.log_dir)
    result = drive(bench.wrk, server.port, SEGMENT_PATH, body_file, payload.content_type, shape)
    return bench.add(load_row(name, server, payload, shape, result), role)


def load_row(
    name: str, server: RunningServer, payload: Payload, shape: LoadShape, result: LoadResult
) -> Row:
    workers = len(server.worker_pids())
    note = f"{result.failed:,} failed requests" if result.failed else ""
    return Row(
        name=name,
        kind="load",
        workers=workers,
        connections=shape.connections,
        requests_per_second=result.requests_per_second,
        customers_per_second=result.requests_per_second * payload.customers,
        p50_ms=result.latency_us["p50"] / 1000,
        p99_ms=result.latency_us["p99"] / 1000,
        note=note,
        details={
            "payload": payload.name,
            "content_type": payload.content_type,
            "customers_per_request": payload.customers,
            "body_bytes": len(payload.body),
            "threads": shape.threads,
            "seconds": shape.seconds,
            "warmup_seconds": shape.warmup_seconds,
            "repeats": shape.repeats,
            "wrk": result.as_dict(),
        },
    )


def measure_mixed(
    bench: Bench, server: RunningServer, single: Payload, pipeline: Pipeline, features: list[str]
) -> None:
    """Single customers (4 connections) while 10,000-customer JSON batches (2 connections) run
    on the same worker: the single customers' latency is the head-of-line blocking."""
    label, content_type, encoder, _ = BATCH_ENCODINGS[0]
    payload = batch(label, content_type, encoder, batch_frame(MIXED_BATCH), pipeline, features)
    batch_file, single_file = payload.write(bench.log_dir), single.write(bench.log_dir)
    base = bench.batch_shapes[MIXED_BATCH]
    batch_shape = LoadShape(2, 1, base.warmup_seconds, base.seconds, 60, base.repeats)
    single_shape = LoadShape(4, 1, base.warmup_seconds, base.seconds, 30, base.repeats)
    batches: list[LoadResult] = []

    def drive_batches() -> None:
        path = SEGMENT_PATH
        batches.append(drive(bench.wrk, server.port, path, batch_file, content_type, batch_shape))

    thread = threading.Thread(target=drive_batches)
    thread.start()
    time.sleep(0.5)  # the batches are flowing before the first single customer
    singles = drive(bench.wrk, server.port, SEGMENT_PATH, single_file, JSON, single_shape)
    thread.join()
    row = load_row("service: mixed, one customer", server, single, single_shape, singles)
    row.note = (
        f"beside {MIXED_BATCH:,}-customer JSON batches: "
        f"{batches[0].requests_per_second * MIXED_BATCH:,.0f} customers/s, "
        f"p50 {batches[0].latency_us['p50'] / 1000:.0f} ms, "
        f"p99 {batches[0].latency_us['p99'] / 1000:.0f} ms"
    )
    row.details["batches"] = batches[0].as_dict()
    bench.add(row)


def measure_small_csv(
    bench: Bench, models_dir: Path, pipeline: Pipeline, features: list[str]
) -> None:
    """Server time of a 100-row CSV, in process (no HTTP): decode, score and encode the answer."""
    from service.http.protocols.segment import SegmentCall
    from service.http.segment_call import answer
    from service.model.segment_model import SegmentModel

    label, content_type, encoder, _ = next(e for e in BATCH_ENCODINGS if e[0] == "CSV")
    payload = batch(label, content_type, encoder, batch_frame(100), pipeline, features)
    model = SegmentModel.from_bundle(load_bundle(models_dir))
    times = []
    for _ in range(300):
        started = time.perf_counter()
        answer(SegmentCall(content_type, None), model, SERVICE_MAX_BATCH, payload.body)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
    bench.add(
        Row(
            name="service: CSV of 100, server time",
            kind="in-process",
            workers=1,
            customers_per_second=100 / (p50 / 1000),
            p50_ms=p50,
            p99_ms=p99,
            note="decode, score and answer in process, no HTTP (300 runs)",
        )
    )


def measure_startup(bench: Bench, spec: ServerSpec, label: str) -> Row:
    """Median time from process start to a 200 from /health/ready, and the worker's RSS then."""
    seconds, rss = [], []
    for _ in range(bench.startup_repeats):
        server = start(spec, bench.log_dir)
        try:
            seconds.append(server.seconds_to_ready)
            time.sleep(0.2)  # let the first request's allocations settle
            rss.append(max(rss_mib(pid) for pid in server.worker_pids()))
        finally:
            stop(server)
    ready, memory = statistics.median(seconds), statistics.median(rss)
    return bench.add(
        Row(
            name=f"start-up: {label}",
            kind="startup",
            workers=1,
            note=f"ready in {ready:.2f} s, RSS {memory:.0f} MiB (median of {len(seconds)})",
            details={
                "seconds_to_ready": [round(s, 3) for s in seconds],
                "rss_mib_at_ready": [round(r, 1) for r in rss],
                "median_seconds_to_ready": round(ready, 3),
                "median_rss_mib_at_ready": round(memory, 1),
            },
        )
    )


# ---------------------------------------------------------------------------------------------
# the rows


def run_servers(bench: Bench, models_dir: Path, pipeline: Pipeline, features: list[str]) -> None:
    single = single_customer(pipeline, features)
    shape = bench.single_shape

    with running(ceiling_spec(), bench.log_dir) as server:
        require_answer(server, single, check_segments=False)
        measure(bench, server, single, "ceiling: bare ASGI, constant JSON", shape, "ceiling")

    with running(baseline_spec(models_dir), bench.log_dir) as server:
        require_answer(server, single)
        measure(bench, server, single, "baseline: FastAPI + Pipeline.predict", shape, "baseline")
        baseline_rss = max(rss_mib(pid) for pid in server.worker_pids())
    assert bench.baseline is not None
    bench.baseline.details["rss_mib_after_load"] = round(baseline_rss, 1)

    with running(service_spec(models_dir, 1), bench.log_dir) as server:
        require_answer(server, single)
        measure(bench, server, single, "service: one customer", shape)
        cases = [(size, encoding) for size in BATCH_SIZES for encoding in BATCH_ENCODINGS]
        cases += [(LARGE_ARROW, e) for e in BATCH_ENCODINGS if e[0] == "Arrow"]
        frames = {size: batch_frame(size) for size in {size for size, _ in cases}}
        for size, (label, content_type, encoder, _) in cases:
            frame = frames[size]
            payload = batch(label, content_type, encoder, frame, pipeline, features)
            name = f"service: batch of {size:,}, {label}"
            problem = answer_problem(server, payload, check_segments=True)
            if not problem:
                measure(bench, server, payload, name, bench.batch_shapes[size])
            elif label == "JSON":
                raise SystemExit(f"{name}: {problem}\n{server.log_tail()}")
            else:
                bench.add(
                    Row(
                        name=name,
                        kind="load",
                        available=False,
                        note=f"not available ({problem})",
                        details={"content_type": content_type},
                    )
                )
        measure_mixed(bench, server, single, pipeline, features)
        service_rss = max(rss_mib(pid) for pid in server.worker_pids())
    for row in bench.rows:
        if row.name.startswith("service:") and row.workers == 1:
            row.details["rss_mib_after_load"] = round(service_rss, 1)

    with running(service_spec(models_dir, 2), bench.log_dir) as server:
        time.sleep(1.0)  # the second worker may still be loading the model
        require_answer(server, single)
        row = measure(bench, server, single, "service: one customer, 2 workers", shape)
        row.details["rss_mib_per_worker"] = [round(rss_mib(pid), 1) for pid in server.worker_pids()]

    measure_small_csv(bench, models_dir, pipeline, features)
    measure_startup(bench, service_spec(models_dir, 1), "service, 1 worker")
    measure_startup(bench, baseline_spec(models_dir), "baseline")


def run_offline(
    bench: Bench, models_dir: Path, pipeline: Pipeline, features: list[str], rows: int
) -> None:
    command = offline_scoring.scoring_command()
    for suffix, label in ((".csv", "CSV"), (".parquet", "Parquet")):
        name = f"offline: {rows:,} rows, {label}"
        if command is None:
            bench.add(
                Row(name, "offline", available=False, note="not available (no segment-score)")
            )
            continue
        source = offline_scoring.input_file(suffix, rows)
        with tempfile.TemporaryDirectory(prefix="bench-scoring-") as scratch:
            output = Path(scratch) / f"scored{suffix}"
            result = offline_scoring.run_scoring(command, models_dir, source, output)
            if result["exit_code"] != 0:
                tail = " | ".join(result["output_tail"])
                bench.add(
                    Row(
                        name,
                        "offline",
                        available=False,
                        note=f"failed (exit {result['exit_code']}): {tail[:80]}",
                        details=result,
                    )
                )
                continue
            problem = offline_scoring.check_output(output, source, pipeline, features, rows)
        seconds, peak = result["seconds"], result["peak_rss_mib"]
        bench.add(
            Row(
                name,
                "offline",
                workers=1,
                customers_per_second=rows / seconds,
                note=f"{seconds:.1f} s, peak {peak:.0f} MiB" + (f"; {problem}" if problem else ""),
                details={
                    "rows": rows,
                    "seconds": round(seconds, 2),
                    "peak_rss_mib": round(peak, 1),
                    "check": problem or "ok",
                },
            )
        )


# ---------------------------------------------------------------------------------------------
# targets and output


def judge(bench: Bench, offline_rows: int) -> list[Verdict]:
    """The issue's targets, each met or MISSED on this run's figures."""
    rows = {row.name: row for row in bench.rows}
    verdicts: list[Verdict] = []
    ceiling, baseline = bench.ceiling, bench.baseline
    single = rows.get("service: one customer")
    if single and ceiling and baseline:
        share = single.vs_ceiling or 0.0
        p99_ratio = (single.p99_ms or 0.0) / (ceiling.p99_ms or 1.0)
        verdicts += [
            Verdict("one customer: >= 20% of ceiling req/s", f"{share:.1%}", ok(share >= 0.2)),
            Verdict(
                "one customer: p99 <= 3x ceiling p99",
                f"{single.p99_ms:.2f} ms = {p99_ratio:.1f}x {ceiling.p99_ms:.2f} ms",
                ok(p99_ratio <= 3),
            ),
        ]
    goals = {
        "service: batch of 10,000, JSON": 300_000,
        "service: batch of 10,000, JSON split": 1_000_000,
        f"service: batch of {LARGE_ARROW:,}, Arrow": 2_000_000,
    }
    for name, goal in goals.items():
        target = f"{name.removeprefix('service: ')}: >= {goal:,} customers/s"
        row = rows.get(name)
        if row is None or not row.available:
            verdicts.append(Verdict(target, "-", "not available"))
            continue
        per_worker = (row.customers_per_second or 0.0) / (row.workers or 1)
        verdicts.append(Verdict(target, f"{per_worker:,.0f}", ok(per_worker >= goal)))
    small_csv = rows.get("service: CSV of 100, server time")
    if small_csv and small_csv.p50_ms is not None:
        verdicts.append(
            Verdict(
                "CSV of 100: < 5 ms server time (median)",
                f"{small_csv.p50_ms:.2f} ms",
                ok(small_csv.p50_ms < 5),
            )
        )
    mixed = rows.get("service: mixed, one customer")
    if mixed and mixed.p99_ms is not None:
        verdicts.append(
            Verdict(
                "mixed load: one customer p99 < 50 ms",
                f"{mixed.p99_ms:.1f} ms",
                ok(mixed.p99_ms < 50),
            )
        )
    for row in bench.rows:
        if row.kind != "load" or not row.available or not row.name.startswith("service"):
            continue
        if row.p50_ms is None or row.p99_ms is None:
            continue
        spread = row.p99_ms / max(row.p50_ms, 1e-9)
        verdicts.append(
            Verdict(
                f"{row.name.removeprefix('service: ')}: p99 <= 3x p50",
                f"{row.p99_ms:.1f} / {row.p50_ms:.1f} ms = {spread:.1f}x",
                ok(spread <= 3),
            )
        )
    for row in bench.rows:
        if row.kind != "offline":
            continue
        target = f"{row.name.removeprefix('offline: ')}: <= 15 s and <= 1 GiB"
        if not row.available:
            verdicts.append(Verdict(target, "-", "not available"))
        elif offline_rows != offline_scoring.ROWS:
            verdicts.append(Verdict(target, row.note, "not judged (not 10M rows)"))
        else:
            seconds, peak = row.details["seconds"], row.details["peak_rss_mib"]
            check = row.details["check"]
            checked = check == "ok" or check.startswith("no segment_id")
            verdicts.append(
                Verdict(target, row.note, ok(checked and seconds <= 15 and peak <= MIB_PER_GIB))
            )
    startup = rows.get("start-up: service, 1 worker")
    if startup:
        ready = startup.details["median_seconds_to_ready"]
        verdicts.append(Verdict("ready < 3 s from process start", f"{ready:.2f} s", ok(ready < 3)))
        after_load = max(
            (
                r.details.get("rss_mib_after_load", 0.0)
                for r in bench.rows
                if r.name.startswith("service:") and r.workers == 1
            ),
            default=0.0,
        )
        rss = max(startup.details["median_rss_mib_at_ready"], after_load)
        verdicts.append(
            Verdict(
                "one worker <= 200 MiB resident after load",
                f"{rss:.0f} MiB (at ready {startup.details['median_rss_mib_at_ready']:.0f}, "
                f"after load {after_load:.0f})",
                ok(rss <= 200),
            )
        )
    return verdicts


def ok(condition: bool) -> str:
    return "met" if condition else "MISSED"


HEADER = (
    f"{'row':<40} {'workers':>7} {'conns':>5} {'req/s':>9} {'customers/s':>12} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'vs ceiling':>10} {'vs baseline':>11}  note"
)


def format_row(row: Row) -> str:
    def number(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    return (
        f"{row.name:<40} {number(row.workers, 'd'):>7} {number(row.connections, 'd'):>5} "
        f"{number(row.requests_per_second, ',.0f'):>9} "
        f"{number(row.customers_per_second, ',.0f'):>12} "
        f"{number(row.p50_ms, '.2f'):>8} {number(row.p99_ms, '.2f'):>8} "
        f"{number(row.vs_ceiling, '.1%'):>10} "
        f"{number(row.vs_baseline, ',.1f') + ('x' if row.vs_baseline is not None else ''):>11}"
        f"  {row.note}"
    )


def code_state() -> dict[str, Any]:
    """The commit, uncommitted changes and a digest of the measured code's sources.

    The digest is taken at the start and the end of a run: figures from a tree that changed in
    between mix two versions of the code.
    """
    digest = hashlib.sha256()
    for folder in MEASURED_CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.rstrip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", *MEASURED_CODE).splitlines()
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": [line[3:] for line in changed],
        "sources_sha256": digest.hexdigest(),
    }


def train(models_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "training",
        "--data",
        str(SAMPLE_CSV),
        "--models-dir",
        str(models_dir),
        "--k",
        "5",
        "--quiet",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stdout}{done.stderr}")


def shapes(args: argparse.Namespace) -> tuple[LoadShape, dict[int, LoadShape]]:
    warmup, seconds = (1, 3) if args.quick else (args.warmup, args.seconds)
    common = {
        "threads": args.threads,
        "warmup_seconds": warmup,
        "seconds": seconds,
        "repeats": args.repeats,
    }
    single = LoadShape(connections=args.connections, **common)
    # Large batches take tens of milliseconds each: a few connections keep one worker busy, and
    # more would only queue requests (and hit wrk's timeout) without adding throughput.
    batches = {
        100: LoadShape(connections=args.connections, timeout_seconds=30, **common),
        10_000: LoadShape(connections=4, timeout_seconds=60, **common),
        LARGE_ARROW: LoadShape(connections=4, timeout_seconds=60, **common),
    }
    return single, batches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 s warm-up, 3 s runs, 1 start-up, offline on 1M rows",
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of a measured run")
    parser.add_argument("--warmup", type=int, default=3, help="length of the warm-up run")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="measured runs per row, the median kept (default 3, 1 with --quick)",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--offline-rows",
        type=int,
        default=None,
        help="rows for the offline scoring rows (default 10M, 1M with --quick)",
    )
    parser.add_argument("--skip-offline", action="store_true")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if not 1 <= args.seconds <= 120 or not 0 <= args.warmup <= 60 or not 1 <= args.repeats <= 9:
        parser.error("--seconds must be 1-120, --warmup 0-60, --repeats 1-9")
    offline_rows = args.offline_rows or (1_000_000 if args.quick else offline_scoring.ROWS)

    wrk = ensure_wrk()
    machine = describe_machine()
    code_at_start = code_state()
    single_shape, batch_shapes = shapes(args)
    with tempfile.TemporaryDirectory(prefix="bench-service-") as scratch:
        models_dir = Path(scratch) / "models"
        train(models_dir)
        bundle = load_bundle(models_dir)
        features = list(bundle.metadata.features)
        bench = Bench(
            wrk=wrk,
            log_dir=Path(scratch),
            single_shape=single_shape,
            batch_shapes=batch_shapes,
            startup_repeats=1 if args.quick else 3,
        )
        print(
            f"bundle {bundle.metadata.version} (k={bundle.metadata.k}, {', '.join(features)}); "
            f"{single_shape.seconds} s runs after {single_shape.warmup_seconds} s of warm-up, "
            f"median of {single_shape.repeats}",
            flush=True,
        )
        run_servers(bench, models_dir, bundle.pipeline, features)
        if not args.skip_offline:
            run_offline(bench, models_dir, bundle.pipeline, features, offline_rows)

    bench.compare()
    print(f"\n{HEADER}")
    for row in bench.rows:
        print(format_row(row))

    code_at_end = code_state()
    if code_at_end["sources_sha256"] != code_at_start["sources_sha256"]:
        print(
            f"\nWARNING: {', '.join(MEASURED_CODE)} changed during the run: the rows mix two "
            "versions of the code; run it again on a quiet tree"
        )
    verdicts = judge(bench, offline_rows)
    print("\ntargets (issue 12; the ratios to MLflow and BentoML are in make bench-peers)")
    for verdict in verdicts:
        print(f"  {verdict.verdict:<14} {verdict.target:<52} {verdict.measured}")
    results = [asdict(row) for row in bench.rows]
    results += [{"kind": "target", **asdict(verdict)} for verdict in verdicts]
    results.append(
        {
            "kind": "settings",
            "single": asdict(single_shape),
            "batches": {str(k): asdict(v) for k, v in batch_shapes.items()},
            "startup_repeats": bench.startup_repeats,
            "offline_rows": offline_rows,
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            "code_at_start": code_at_start,
            "code_at_end": code_at_end,
        }
    )
    path = write_results("service", results, machine)
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
