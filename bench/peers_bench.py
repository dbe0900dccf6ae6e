"""This service beside MLflow's and BentoML's scoring servers, on the same pipeline, in one run.

The peers are installed into throwaway virtual environments under ``bench/.data/peers/`` (outside
the package, git-ignored; not project dependencies), each with this run's scikit-learn so the
pickled pipeline loads as fitted. Each server gets one worker on loopback; each is asked once per
payload and its answer compared with ``Pipeline.predict`` before it is measured; wrk drives the
same payload shapes against each (1 thread; 16 connections for one customer, 4 for batches).

- MLflow 3.x: ``mlflow models serve --env-manager local``, ``/invocations`` with
  ``{"dataframe_split": ...}`` JSON and CSV bodies;
- BentoML 1.4: a minimal service (``bench/peers/bento_service.py``) calling ``predict`` on a
  DataFrame built from the split layout, as its docs show;
- this service: the same customers as objects, the split layout, and CSV.

    python -m bench.peers_bench [--quick] [--skip-bentoml]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sklearn

from bench.load import LoadShape, drive, ensure_wrk
from bench.machine import describe_machine, write_results
from bench.payloads import batch_frame, snake_case
from bench.servers import ROOT, ServerSpec, running
from bench.service_bench import service_spec, train
from segmentation.bundle import load_bundle
from segmentation.schema import ID_COLUMN as CUSTOMER_ID

PEERS_DIR = ROOT / "bench" / ".data" / "peers"
MLFLOW_REQUIREMENT = "mlflow>=3,<4"
BENTOML_REQUIREMENT = "bentoml>=1.4,<1.5"
SIZES = (1, 1_000, 10_000)


@dataclass(frozen=True)
class Body:
    path: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Case:
    """One payload shape: how each server is sent it, and how its answer reads."""

    name: str
    customers: int
    bodies: dict[str, Body]  # server name -> body


@dataclass
class Result:
    case: str
    server: str
    customers_per_second: float
    p50_ms: float
    p99_ms: float


def peer_python(name: str, requirement: str) -> Path:
    """A throwaway venv with ``requirement`` and this run's scikit-learn, made once."""
    venv = PEERS_DIR / name
    python = venv / "bin" / "python"
    marker = venv / f".installed-{sklearn.__version__}"
    if not marker.exists():
        print(f"installing {requirement} into {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pins = [requirement, f"scikit-learn=={sklearn.__version__}", "pandas", "pyarrow"]
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *pins], check=True, timeout=1800
        )
        marker.touch()
    return python


def mlflow_spec(python: Path, model_file: Path, scratch: Path) -> ServerSpec:
    model_dir = scratch / "mlflow-model"
    script = textwrap.dedent(
        f"""
        import joblib, mlflow.sklearn
        mlflow.sklearn.save_model(joblib.load({str(model_file)!r}), {str(model_dir)!r})
        """
    )
    subprocess.run([str(python), "-c", script], check=True, timeout=600)
    mlflow = python.parent / "mlflow"
    command = [str(mlflow), "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    command += ["--host", "127.0.0.1", "--port", "{port}", "--workers", "1"]
    return ServerSpec(
        "mlflow",
        tuple(command),
        # mlflow starts uvicorn by name: the venv's bin comes first on PATH.
        {
            "MLFLOW_TRACKING_URI": f"file://{scratch}/mlruns",
            "PATH": f"{python.parent}:{os.environ['PATH']}",
        },
        "/ping",
    )


def bentoml_spec(python: Path, model_file: Path, features: list[str]) -> ServerSpec:
    service_dir = ROOT / "bench" / "peers"
    bentoml = python.parent / "bentoml"
    command = [str(bentoml), "serve", "bento_service:SegmentPeer", "--host", "127.0.0.1"]
    command += ["--port", "{port}"]
    env = {
        "PEER_MODEL_FILE": str(model_file),
        "PEER_FEATURES": ",".join(features),
        "PATH": f"{python.parent}:{os.environ['PATH']}",
    }
    return ServerSpec("bentoml", tuple(command), env, "/readyz", cwd=service_dir)


def cases(features: list[str], servers: list[str]) -> list[Case]:
    built = []
    for size in SIZES:
        frame = snake_case(batch_frame(size))
        only = frame[features]
        split = json.loads(only.to_json(orient="split", index=False))
        ours_split = json.loads(
            frame[[CUSTOMER_ID, *features]].to_json(orient="split", index=False)
        )
        records = frame[[CUSTOMER_ID, *features]].to_dict("records")
        ours_objects = records[0] if size == 1 else {"customers": records}
        json_bodies = {
            "service": Body("/segment", "application/json", json.dumps(ours_objects).encode()),
            "service (split)": Body(
                "/segment", "application/json", json.dumps(ours_split).encode()
            ),
            "mlflow": Body(
                "/invocations", "application/json", json.dumps({"dataframe_split": split}).encode()
            ),
            "bentoml": Body("/predict", "application/json", json.dumps({"split": split}).encode()),
        }
        label = "one customer" if size == 1 else f"JSON, {size:,} customers"
        built.append(
            Case(label, size, {k: v for k, v in json_bodies.items() if k.split()[0] in servers})
        )
        if size > 1:
            csv = only.to_csv(index=False).encode()
            csv_bodies = {
                "service": Body("/segment", "text/csv", csv),
                "mlflow": Body("/invocations", "text/csv", csv),
            }
            built.append(
                Case(
                    f"CSV, {size:,} customers",
                    size,
                    {k: v for k, v in csv_bodies.items() if k in servers},
                )
            )
    return built


def predictions(server: str, content_type: str, content: bytes) -> list[int]:
    """The segment ids in an answer, whichever server gave it."""
    if content_type.startswith("text/csv"):
        return [int(s) for s in pd.read_csv(__import__("io").BytesIO(content))["segment_id"]]
    document = json.loads(content)
    if "predictions" in document:
        return [int(s) for s in document["predictions"]]
    if "columns" in document:
        position = document["columns"].index("segment_id")
        return [int(row[position]) for row in document["data"]]
    if "results" in document:
        return [int(r["segment_id"]) for r in document["results"]]
    return [int(s) for s in document]


def check(port: int, server: str, body: Body, expected: list[int]) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(
        "POST", body.path, body=body.data, headers={"Content-Type": body.content_type}
    )
    response = connection.getresponse()
    content = response.read()
    if response.status != 200:
        raise SystemExit(f"{server} answered {response.status}: {content[:300]!r}")
    got = predictions(server, response.getheader("content-type", ""), content)
    if got != expected:
        wrong = sum(a != b for a, b in zip(got, expected, strict=False))
        raise SystemExit(
            f"{server}: {wrong} of {len(expected)} segments differ from Pipeline.predict"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s runs, 1 repeat")
    parser.add_argument("--skip-bentoml", action="store_true")
    args = parser.parse_args(argv)
    seconds, repeats = (5, 1) if args.quick else (10, 3)
    wrk = ensure_wrk()
    machine = describe_machine()
    peers = ["mlflow"] + ([] if args.skip_bentoml else ["bentoml"])
    pythons = {"mlflow": peer_python("mlflow", MLFLOW_REQUIREMENT)}
    if "bentoml" in peers:
        pythons["bentoml"] = peer_python("bentoml", BENTOML_REQUIREMENT)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as scratch_name:
        scratch = Path(scratch_name)
        models = scratch / "models"
        train(models)
        bundle = load_bundle(models)
        features = list(bundle.metadata.features)
        model_file = scratch / "pipeline.joblib"
        import joblib

        joblib.dump(bundle.pipeline, model_file)
        specs: dict[str, Callable[[], ServerSpec]] = {
            "service": lambda: service_spec(models, 1),
            "mlflow": lambda: mlflow_spec(pythons["mlflow"], model_file, scratch),
            "bentoml": lambda: bentoml_spec(pythons["bentoml"], model_file, features),
        }
        all_cases = cases(features, ["service", *peers])
        for server in ["service", *peers]:
            with running(specs[server](), scratch) as process:
                for case in all_cases:
                    for name, body in case.bodies.items():
                        if name.split()[0] != server:
                            continue
                        frame = snake_case(batch_frame(case.customers))[features]
                        check(
                            process.port,
                            name,
                            body,
                            [int(s) for s in bundle.pipeline.predict(frame)],
                        )
                        body_file = scratch / f"{name}-{case.name}.body".replace(" ", "_")
                        body_file.write_bytes(body.data)
                        connections = 16 if case.customers == 1 else 4
                        shape = LoadShape(connections, 1, 2, seconds, 60, repeats)
                        load = drive(
                            wrk, process.port, body.path, body_file, body.content_type, shape
                        )
                        result = Result(
                            case.name,
                            name,
                            load.requests_per_second * case.customers,
                            load.latency_us["p50"] / 1000,
                            load.latency_us["p99"] / 1000,
                        )
                        results.append(result)
                        print(
                            f"  {case.name:<24} {name:<16} {result.customers_per_second:>12,.0f} "
                            f"customers/s  p50 {result.p50_ms:8.1f} ms  "
                            f"p99 {result.p99_ms:8.1f} ms",
                            flush=True,
                        )
    print_table(results)
    path = write_results("peers", [r.__dict__ for r in results], machine)
    print(f"results written to {path}")
    return 0


def print_table(results: list[Result]) -> None:
    header = f"{'case':<24} {'server':<16} {'customers/s':>12} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"\n{header} {'vs mlflow':>9}")
    by_case: dict[str, list[Result]] = {}
    for result in results:
        by_case.setdefault(result.case, []).append(result)
    for case, rows in by_case.items():
        mlflow = next((r for r in rows if r.server == "mlflow"), None)
        for row in rows:
            ratio = (
                f"{row.customers_per_second / mlflow.customers_per_second:.1f}x"
                if mlflow and mlflow.customers_per_second
                else "-"
            )
            print(
                f"{case:<24} {row.server:<16} {row.customers_per_second:>12,.0f} "
                f"{row.p50_ms:>8.1f} {row.p99_ms:>8.1f} {ratio:>9}"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    time.tzset()
    raise SystemExit(main())
