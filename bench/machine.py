"""What a benchmark ran on, and where its results go: figures mean little without both."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segmentation.bundle import library_versions

RESULTS_DIR = Path(__file__).parent / "results"


def describe_machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "platform": platform.platform(),
        "load_average_at_start": [round(v, 2) for v in load],
        "libraries": library_versions(),
    }


def write_results(name: str, rows: list[dict[str, Any]], machine: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    path = RESULTS_DIR / f"{name}-{stamp:%Y%m%dT%H%M%SZ}.json"
    document = {"benchmark": name, "date": stamp.isoformat(), "machine": machine, "rows": rows}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
