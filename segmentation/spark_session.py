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
import uuid
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
    """Log one line per Spark stage of the jobs run inside: its name, tasks and seconds.

    The jobs run in a job group of their own, which a thread polls through the status tracker
    (nothing on the cluster); a last look when the block ends catches stages too short for a
    poll. Spark's own console bar is off (``spark.ui.showConsoleProgress``): it redraws one
    line and says nothing once done.
    """
    context = session.sparkContext
    tracker = context.statusTracker()
    group = f"{step}-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    reported: set[int] = set()
    started = time.monotonic()

    def report(final: bool) -> None:
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else []:
                info = tracker.getStageInfo(stage_id)
                if stage_id in reported or info is None or info.numTasks == 0:
                    continue
                done = info.numCompletedTasks >= info.numTasks and info.numActiveTasks == 0
                if done or (final and info.numCompletedTasks > 0):
                    reported.add(stage_id)
                    logger.info(
                        "%s: stage %d (%s) done: %d/%d tasks, %.1fs into the step",
                        step,
                        stage_id,
                        info.name.split(" at ")[0],
                        info.numCompletedTasks,
                        info.numTasks,
                        time.monotonic() - started,
                    )

    def poll() -> None:
        while not stop.wait(PROGRESS_POLL_SECONDS):
            report(final=False)

    context.setJobGroup(group, step)
    thread = threading.Thread(target=poll, name="spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        report(final=True)
