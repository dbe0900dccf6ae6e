"""Starting (or joining) a Spark session, and reading customers with it, for scoring and training.

Shared by ``segment-score --engine spark`` and ``segment-train --engine spark``: Java is checked
first, with a message that says how to install it; on a local master the executors' Python is
the driver's own (without it they run ``python3`` and fail with "No module named pyarrow"); and
under ``spark-submit`` or on Databricks the session the platform made is used as it is.
Needs the ``[spark]`` extra; only the Spark code of training and scoring imports it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Final

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows
from pyspark.sql import types as T  # noqa: N812

from segmentation.schema import ID_COLUMN, CategoricalFeature, FeatureSchema, NumericFeature
from segmentation.tables import is_parquet

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
# The loggers that print a failed task's Python traceback and Java stack: the executor's (on a
# local master, in the driver's JVM) and the driver's, which aborts the job and its write.
TASK_FAILURE_LOGGERS: Final = (
    "org.apache.spark.util.Utils",  # "Aborting task"
    "org.apache.spark.executor.Executor",  # "Exception in task 0.0 in stage 12.0"
    "org.apache.spark.scheduler.TaskSetManager",  # "Task 0 in stage 12.0 failed 1 times"
    "org.apache.spark.sql.execution.datasources.FileFormatWriter",  # "Aborting job"
)
# pyspark 4.3 says this on every pandas conversion under pandas 3; the suite proves the parts
# this project uses work (and pytest's configuration lets exactly this warning through).
PANDAS3_WARNING: Final = "PySpark does not yet fully support pandas >= 3.0.0"


class SparkSetupError(Exception):
    """Spark cannot start here; the message says what is missing."""


class SparkSourceError(Exception):
    """The customers cannot be read, or lack a column the model needs; the message says which."""


def quiet_pandas3_warning() -> None:
    """For the command lines only: drop pyspark's pandas 3 FutureWarning, by its exact text."""
    warnings.filterwarnings("ignore", message=re.escape(PANDAS3_WARNING), category=FutureWarning)


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
        jobs = [tracker.getJobInfo(job_id) for job_id in tracker.getJobIdsForGroup(group)]
        for stage_id in sorted(s for job in jobs if job for s in job.stageIds):
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
                    _stage_name(info.name),
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


def _stage_name(name: str) -> str:
    """``parquet at NativeMethodAccessorImpl.java:0`` -> ``parquet``; Spark's internal closures
    (``$anonfun$...``) -> ``internal``."""
    short = name.split(" at ")[0]
    return "internal" if short.startswith("$") else short


def is_path(location: str) -> bool:
    """A path (``/data/x.parquet``, ``s3a://b/x``, ``x.csv``) rather than a catalog table name.

    Table names (``crm.customers``) have no slash; a name with a slash or a scheme, or ending in
    a file suffix we read, is a path.
    """
    return (
        "/" in location
        or ":" in location
        or PurePosixPath(location).suffix.lower()
        in (
            ".csv",
            ".parquet",
            ".pq",
        )
    )


def file_format(location: str) -> str:
    """Parquet when the name ends in .parquet or .pq, CSV otherwise (as segment-score decides)."""
    return "parquet" if is_parquet(location.rstrip("/")) else "csv"


def read_customers(session: SparkSession, location: str) -> DataFrame:
    """A path (CSV with a header, every column as text, or Parquet) or a catalog table."""
    try:
        if not is_path(location):
            return session.table(location)
        reader = session.read.format(file_format(location))
        if file_format(location) == "csv":
            # Text, as segment-score reads CSV: untouched on the way out, checked on the way in.
            reader = reader.option("header", "true").option("inferSchema", "false")
        return reader.load(location)
    except AnalysisException as exc:
        raise SparkSourceError(f"{location}: {_first_line(exc)}") from None


def feature_sources(
    columns: Sequence[str], schema: FeatureSchema, mapping: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The schema's name -> the DataFrame's column, for the features and the attributes present.

    The user's mapping (``--columns Income=annual_income``) first, then the schema's names and
    aliases, as every other entry point reads columns.
    """
    return column_sources(columns, schema.names, schema.name_of(), mapping)


def column_sources(
    columns: Sequence[str],
    features: Sequence[str],
    name_of: Mapping[str, str],
    mapping: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """:func:`feature_sources` before a schema is complete: ``name_of`` maps every accepted
    header (the id's too) to its name, as ``FeatureSchema.name_of`` and a training plan do."""
    known = {name for name in name_of.values() if name != ID_COLUMN}
    mapping = dict(mapping or {})
    unknown = [source for source in mapping if source not in columns]
    if unknown:
        raise SparkSourceError(
            f"--columns names {unknown[0]!r}, which is not a column; found: {', '.join(columns)}"
        )
    sources: dict[str, str] = {}
    for column in columns:
        name = mapping.get(column) or name_of.get(column.strip(), column.strip())
        if name in known:
            if name in sources:
                raise SparkSourceError(
                    f"columns {sources[name]!r} and {column!r} both give {name!r}"
                )
            sources[name] = column
    missing = [f for f in features if f not in sources]
    if missing:
        raise SparkSourceError(
            f"missing column {missing[0]!r}: the model needs {', '.join(features)}; "
            f"found: {', '.join(columns)} (map other names with --columns)"
        )
    return sources


def spark_input(df: DataFrame, column: str, feature: NumericFeature | CategoricalFeature) -> Column:
    """A column of ``df`` as the shared validation in Python reads it on one machine.

    A numeric feature's numbers go as doubles, text as text (validation says what is wrong with
    it). A categorical feature's cells go as ``segment-score`` hands them over (pandas' text of
    the value): whole numbers and decimals as Spark's text of them, which is Python's (an int64
    ``0`` is the level ``"0"``, not ``"0.0"``); floats as doubles and booleans as they are, for
    pandas to spell (``"1.0"``, ``"True"``).
    """
    data_type = df.schema[column].dataType
    if isinstance(data_type, T.StringType):
        return F.col(column)
    if isinstance(feature, CategoricalFeature):
        if isinstance(data_type, T.IntegralType | T.DecimalType):
            return F.col(column).cast(T.StringType())
        if isinstance(data_type, T.BooleanType):
            return F.col(column)
    if isinstance(data_type, T.NumericType):
        return F.col(column).cast(T.DoubleType())
    return F.col(column).cast(T.StringType())


@contextmanager
def quiet_task_failures(session: SparkSession) -> Iterator[None]:
    """Spark's task-failure loggers held at FATAL inside the block, as they were after it.

    For a job whose failure the caller turns into a message of its own (rows the validation
    refused): Spark logs each failed task's Python traceback and Java stack at ERROR, about 190
    lines before that message, even with ``--quiet``. The failure itself still reaches the
    caller as an exception, with its message, and what the caller does not recognise is raised
    as it is. Only the driver's JVM is touched, which on a local master runs the executors too;
    a cluster's executors log to their own files.
    """
    restore = _hold_at_fatal(session, TASK_FAILURE_LOGGERS)
    try:
        yield
    finally:
        if restore is not None:
            restore()


def _hold_at_fatal(session: SparkSession, names: Sequence[str]) -> Callable[[], None] | None:
    """Set log4j's ``names`` to FATAL; returns what sets them back. None, and nothing changed,
    where the driver's log4j is out of reach (Spark Connect, another logging backend)."""
    try:
        log4j: Any = session._jvm.org.apache.logging.log4j  # type: ignore[union-attr]
        context = log4j.LogManager.getContext(False)
        configured = context.getConfiguration().getLoggers()
        before = {
            n: configured.get(n).getLevel() if configured.containsKey(n) else None for n in names
        }
        for name in names:
            log4j.core.config.Configurator.setLevel(name, log4j.Level.FATAL)
    except Exception as exc:  # the logs then stay as they are; the run goes on
        logger.debug("Spark's task logs left as they are: %s", _first_line(exc))
        return None

    def restore() -> None:
        for name, level in before.items():
            if level is None:  # inherited before: inherit again (a later setLogLevel applies)
                context.getConfiguration().removeLogger(name)
            else:
                log4j.core.config.Configurator.setLevel(name, level)
        context.updateLoggers()

    return restore


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
