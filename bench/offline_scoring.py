"""The offline scoring command on 10 million rows: wall time, rows/s and peak memory.

The command is ``segment-score --models-dir DIR --input PATH --output PATH`` (or
``python -m scoring``), CSV or Parquet by suffix. It runs in a child process so that its peak
resident memory is its own (``bench.child``: not the benchmark's, as a plain ``wait4`` read). The
input is the seeded generator at scale, cached under ``bench/.data``; the CSV is the same file
the training benchmark uses.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from bench.child import run_measured
from bench.payloads import expected_segments
from bench.servers import ROOT
from bench.training_bench import DATA_DIR, cached_file, dataset
from training.sample_data import generate_customers

ROWS = 10_000_000
TIME_LIMIT_SECONDS = 900
CHECKED_ROWS = 1000


def scoring_command() -> list[str] | None:
    """How to run the scoring command, or None while the project has none."""
    script = Path(sys.executable).parent / "segment-score"
    if script.exists():
        return [str(script)]
    if importlib.util.find_spec("scoring") is not None:
        return [sys.executable, "-m", "scoring"]
    return None


def input_file(suffix: str, rows: int = ROWS) -> Path:
    if suffix == ".csv":
        return dataset(rows)
    path = cached_file(rows, suffix)
    if not path.exists():
        started = time.perf_counter()
        DATA_DIR.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        generate_customers(rows, seed=2026).frame.to_parquet(partial, index=False)
        partial.rename(path)
        print(f"generated {path} in {time.perf_counter() - started:.1f}s", flush=True)
    return path


def run_scoring(command: list[str], models_dir: Path, source: Path, output: Path) -> dict[str, Any]:
    """Run the command once; its wall time, peak memory and exit code."""
    log = output.with_suffix(".log")
    with log.open("wb") as sink:
        run = run_measured(
            [
                *command,
                "--models-dir",
                str(models_dir),
                "--input",
                str(source),
                "--output",
                str(output),
            ],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=TIME_LIMIT_SECONDS,
        )
    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
    return {
        "seconds": run.seconds,
        "peak_rss_mib": run.peak_rss_mib,
        "exit_code": run.exit_code,
        "output_tail": tail,
    }


def check_output(
    output: Path, source: Path, pipeline: Pipeline, features: list[str], rows: int
) -> str:
    """'' when the output has every row and its first segments are the pipeline's."""
    if not output.exists():
        return "no output file"
    if output.suffix == ".parquet":
        parquet = pq.ParquetFile(output)
        count = parquet.metadata.num_rows
        head = next(parquet.iter_batches(batch_size=CHECKED_ROWS)).to_pandas()
        source_head = next(pq.ParquetFile(source).iter_batches(batch_size=CHECKED_ROWS))
        inputs = source_head.to_pandas()
    else:
        with output.open("rb") as handle:
            count = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        count -= 1  # the header
        head = pd.read_csv(output, nrows=CHECKED_ROWS)
        inputs = pd.read_csv(source, nrows=CHECKED_ROWS)
    if count != rows:
        return f"{count:,} rows written, expected {rows:,}"
    if "segment_id" not in head.columns:
        return "no segment_id column (segments not checked)"
    expected = expected_segments(pipeline, features, inputs.head(len(head)))
    if [int(s) for s in head["segment_id"]] != expected:
        return "segment ids differ from Pipeline.predict"
    return ""
