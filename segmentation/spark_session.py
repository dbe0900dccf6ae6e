"""Starting (or joining) a Spark session the way scoring and training on Spark need it.

Shared by ``segment-score --engine spark`` and ``segment-train --engine spark``: Java is checked
first, with a message that says how to install it; on a local master the executors' Python is
the driver's own (without it they run ``python3`` and fail with "No module named pyarrow"); and
under ``spark-submit`` or on Databricks the session the platform made is used as it is.
Needs the ``[spark]`` extra; nothing else in the project imports this module.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

DEFAULT_MASTER: Final = "local[*]"
# Arrow batches of 10,000 rows (Spark's default) leave a fixed per-batch cost dominant; the
# assigner scores 100,000 rows in milliseconds. The user's --spark-conf wins over these.
DEFAULT_CONF: Final[dict[str, str]] = {
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
}
JAVA_HINT: Final = (
    "Spark needs Java 17 or newer and none was found (no 'java' on PATH, JAVA_HOME unset): "
    "install it with 'apt-get install -y openjdk-17-jre-headless' (or 'make spark-deps'), "
    "or point JAVA_HOME at a JDK"
)
PROGRESS_POLL_SECONDS: Final = 0.5


class SparkSetupError(Exception):
    """Spark cannot start here; the message says what is missing."""


def parse_spark_conf(items: list[str] | None) -> dict[str, str]:
    """``["spark.executor.memory=4g", ...]`` -> a dict; refuses items without ``=``."""
    conf: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--spark-conf {item!r} is not of the form key=value")
        conf[key.strip()] = value.strip()
    return conf


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return True
    return shutil.which("java") is not None


def platform_session() -> bool:
    """True under ``spark-submit`` (which starts the JVM first) or on Databricks."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "DATABRICKS_RUNTIME_VERSION" in os.environ


def get_session(
    app_name: str, master: str | None = None, conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A session on ``master`` (default ``local[*]``), or the platform's own when there is one.

    Under ``spark-submit`` and on Databricks the master and resources come from the platform,
    so ``master`` is only applied when given explicitly.
    """
    if not platform_session() and not java_available():
        raise SparkSetupError(JAVA_HINT)
    chosen = master or (None if platform_session() else DEFAULT_MASTER)
    if chosen is not None and chosen.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Executors on this machine run this interpreter, so they import what the driver does.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder: Any = SparkSession.builder.appName(app_name)
    if chosen is not None:
        builder = builder.master(chosen)
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session: SparkSession = builder.getOrCreate()
    return session


@contextmanager
def stage_progress(session: SparkSession, step: str) -> Iterator[None]:
    """Log one line per Spark stage as it finishes: its name, tasks and seconds.

    A thread polls the status tracker, which costs nothing on the cluster; Spark's own console
    bar is off (``spark.ui.showConsoleProgress``), since it redraws one line and says no more.
    """
    tracker = session.sparkContext.statusTracker()
    stop = threading.Event()
    seen: dict[int, float] = {}
    reported: set[int] = set()

    def poll() -> None:
        while True:
            finished = stop.wait(PROGRESS_POLL_SECONDS)
            for stage_id in tracker.getActiveStageIds():
                seen.setdefault(stage_id, time.monotonic())
            for stage_id, started in list(seen.items()):
                info = tracker.getStageInfo(stage_id)
                if stage_id in reported or info is None:
                    continue
                if info.numActiveTasks == 0 and info.numCompletedTasks + info.numFailedTasks >= (
                    info.numTasks
                ):
                    reported.add(stage_id)
                    logger.info(
                        "%s: stage %d (%s) done: %d tasks in %.1fs",
                        step,
                        stage_id,
                        info.name.split(" at ")[0],
                        info.numTasks,
                        time.monotonic() - started,
                    )
            if finished:
                return

    thread = threading.Thread(target=poll, name="spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
