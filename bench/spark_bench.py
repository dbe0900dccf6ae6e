"""Spark on one machine against segment-score: the same bundle, the same Parquet, one run.

``make bench-spark``: 10 million generated customers in one Parquet file (cached under
``bench/.data``, shared with the offline-scoring benchmark), scored

- by ``segment-score`` (one process, Arrow batches and numpy), timed end to end as a user runs it;
- by ``assign_segments`` on a ``local[2]`` Spark session writing a Parquet directory through
  ``score_to_path``, the code ``segment-score --engine spark`` runs. The session's start-up is
  timed on its own, then the first (cold: Python workers start) and a second (warm) run.

It prints the times, rows/s and the ratios, checks both outputs count the same customers per
segment, and writes the figures to ``bench/results/spark-*.json``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.machine import describe_machine, write_results
from bench.offline_scoring import input_file, run_scoring, scoring_command
from bench.servers import ROOT
from scoring.spark_job import score_to_path
from segmentation.bundle import load_bundle
from segmentation.sources import DataSource
from spark_engine.session import get_session, quiet_pandas3_warning
from training.train import TrainingOptions, train

ROWS = 10_000_000
MASTER = "local[2]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    quiet_pandas3_warning()
    machine = describe_machine()
    source = input_file(".parquet", args.rows)
    work = Path(tempfile.mkdtemp(prefix="spark-bench-"))
    try:
        models = work / "models"
        train(
            TrainingOptions(
                source=DataSource(str(ROOT / "data" / "sample_customers.csv")),
                models_dir=models,
                k=5,
                stability_samples=0,
            )
        )
        rows = _run(source, models, work, args.rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"results: {write_results('spark', rows, machine)}")


def _run(source: Path, models: Path, work: Path, rows: int) -> list[dict[str, Any]]:
    command = scoring_command()
    assert command is not None
    print(f"scoring {rows:,} rows of {source.name} with segment-score ...", flush=True)
    local_output = work / "local.parquet"
    local = run_scoring(command, models, source, local_output)
    if local["exit_code"] != 0:
        raise SystemExit(f"segment-score failed: {local['output_tail']}")
    local_counts = _counts(pq.read_table(local_output, columns=["segment_id"]).column(0))

    print(f"starting a {MASTER} Spark session ...", flush=True)
    started = time.perf_counter()
    session = get_session("spark-bench", MASTER, {"spark.ui.enabled": "false"})
    session.range(1).count()  # the JVM and its first job, not a lazy promise
    startup = time.perf_counter() - started
    bundle = load_bundle(models)
    spark_runs = []
    for attempt in ("cold", "warm"):
        print(f"scoring {rows:,} rows on Spark ({attempt}) ...", flush=True)
        target = work / f"spark-{attempt}.parquet"
        started = time.perf_counter()
        result = score_to_path(session.read.parquet(str(source)), bundle, str(target))
        seconds = time.perf_counter() - started
        spark_runs.append((attempt, seconds, result.summary.per_segment))
    partitions = session.read.parquet(str(source)).rdd.getNumPartitions()
    session.stop()

    same = all(counts == local_counts for _, _, counts in spark_runs)
    table: list[dict[str, Any]] = [
        {
            "engine": "segment-score (one process)",
            "seconds": round(local["seconds"], 2),
            "rows_per_second": round(rows / local["seconds"]),
            "peak_rss_mib": round(local["peak_rss_mib"]),
        },
        {"engine": f"Spark {MASTER}: session start-up", "seconds": round(startup, 2)},
    ]
    for attempt, seconds, _ in spark_runs:
        table.append(
            {
                "engine": f"Spark {MASTER}: scoring, {attempt}",
                "seconds": round(seconds, 2),
                "rows_per_second": round(rows / seconds),
                "ratio_to_segment_score": round(seconds / local["seconds"], 2),
                "ratio_with_startup": round((seconds + startup) / local["seconds"], 2),
                "input_partitions": partitions,
            }
        )
    print()
    print(f"{rows:,} customers, Parquet in and out, the same bundle (k=5)")
    print(f"{'engine':<40} {'seconds':>8} {'rows/s':>11} {'x segment-score':>16}")
    for row in table:
        rate = f"{row['rows_per_second']:,}" if "rows_per_second" in row else ""
        ratio = (
            f"{row['ratio_to_segment_score']:.1f} ({row['ratio_with_startup']:.1f} with start-up)"
            if "ratio_to_segment_score" in row
            else ""
        )
        print(f"{row['engine']:<40} {row['seconds']:>8.1f} {rate:>11} {ratio:>16}")
    print(f"same customers per segment in every output: {'yes' if same else 'NO'}")
    table.append({"rows": rows, "same_counts_per_segment": same, "segments": local_counts})
    return table


def _counts(column: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for value in column.value_counts().to_pylist():
        counts[int(value["values"])] = int(value["counts"])
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    main()
