"""Writing segments back to a database: ``segment-score --data URL --output-table`` at scale.

A real PostgreSQL (Debian's, started here with fsync on, as ``make db-deps`` installs it) gets a
table of seeded customers; ``segment-score`` then scores it and upserts one row per customer
into a new table, and again into the now full table (the nightly re-run). Each run is a child
process whose peak memory (VmHWM) is its own. SQLite is measured the same way, smaller.

    python -m bench.writeback_bench [--rows 10000000] [--sqlite-rows 1000000]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy

from bench.machine import describe_machine, write_results
from bench.servers import ROOT
from segmentation.sources import DataSource
from tests.postgres import start_postgres
from training.sample_data import generate_customers
from training.train import TrainingOptions, train

OUTPUT = "customer_segments"
SCORE = """
import re, sys
from scoring.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print("peak_kib", re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
sys.exit(code)
"""
LOAD_CHUNK = 1_000_000


def load_customers(url: str, rows: int) -> float:
    """Fill ``customers`` with seeded rows (COPY on PostgreSQL); returns seconds."""
    started = time.perf_counter()
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            for start in range(0, rows, LOAD_CHUNK):
                count = min(LOAD_CHUNK, rows - start)
                frame = generate_customers(count, seed=start + 1).frame
                frame["CustomerID"] = range(start + 1, start + count + 1)
                if connection.dialect.name == "postgresql":
                    if start == 0:
                        frame.head(0).to_sql("customers", connection, index=False)
                    buffer = io.StringIO()
                    frame.to_csv(buffer, index=False, header=False)
                    driver = connection.connection.driver_connection
                    assert driver is not None
                    with (
                        driver.cursor() as cursor,
                        cursor.copy("COPY customers FROM STDIN (FORMAT csv)") as copy,
                    ):
                        copy.write(buffer.getvalue())
                else:
                    frame.to_sql("customers", connection, index=False, if_exists="append")
    finally:
        engine.dispose()
    return time.perf_counter() - started


def write_back(models: Path, url: str) -> tuple[float, float, str]:
    """One segment-score run: (seconds, peak MiB, its summary line)."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCORE,
            "--models-dir",
            str(models),
            "--data",
            url,
            "--table",
            "customers",
            "--output-table",
            OUTPUT,
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"segment-score failed:\n{done.stderr}")
    peak = int(done.stderr.split("peak_kib")[-1].split()[0]) / 1024
    return elapsed, peak, done.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="writeback-bench-") as scratch:
        models = Path(scratch) / "models"
        sample = ROOT / "data" / "sample_customers.csv"
        train(TrainingOptions(source=DataSource(str(sample)), models_dir=models, k=5))
        server = start_postgres(durable=True)
        try:
            targets = [
                ("postgresql", server.url(server.create_database()), args.rows),
                ("sqlite", f"sqlite:///{Path(scratch) / 'crm.db'}", args.sqlite_rows),
            ]
            for name, url, rows in targets:
                loaded = load_customers(url, rows)
                print(f"{name}: loaded {rows:,} customers in {loaded:.1f}s", flush=True)
                for run in ("first write (new table)", "re-run (upsert over every row)"):
                    seconds, peak, line = write_back(models, url)
                    print(
                        f"{name}: {run}: {seconds:.1f}s, peak {peak:.0f} MiB | {line}", flush=True
                    )
                    results.append(
                        {
                            "database": name,
                            "rows": rows,
                            "run": run,
                            "seconds": round(seconds, 2),
                            "peak_mib": round(peak),
                            "rows_per_second": round(rows / seconds),
                        }
                    )
        finally:
            server.stop()
    print("\n| database | rows | run | time | rows/s | peak memory |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['database']} | {r['rows']:,} | {r['run']} | {r['seconds']:.1f} s | "
            f"{r['rows_per_second']:,} | {r['peak_mib']:,} MiB |"
        )
    print(f"results: {write_results('writeback', results, describe_machine())}")


if __name__ == "__main__":
    main()
