"""``segment-score --engine spark``: read a path or catalog table, score it, write all or nothing.

A path is written into a hidden staging directory beside the target and renamed into place only
when every row has been scored (through Hadoop's FileSystem, so HDFS, S3 and DBFS paths work as
local ones do); a failed job leaves the previous output as it was and no staging behind. A
catalog table is first written to a staging table and copied over the target only when complete,
so invalid rows never empty a table either; an existing table is replaced only when it is an
earlier output (it has the assignment columns), never a table of something else. An input
without rows is refused, as ``segment-score`` refuses it. Needs the ``[spark]`` extra.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows

from scoring.batch import ScoringSummary
from scoring.spark import OnInvalid, SparkScoringError, assign_segments, run_checked
from segmentation.assigner import ASSIGNMENT_COLUMNS
from segmentation.bundle import Bundle
from segmentation.sources import first_line
from spark_engine.session import file_format, stage_progress

logger = logging.getLogger(__name__)
STAGING_PREFIX: Final = ".segment-score-staging-"
# The staging table: the output table's name with this and a uuid appended, in its database.
STAGING_TABLE_INFIX: Final = "_segment_score_staging_"
# One part of a table name and what follows it: a dot, or the end.
_NAME_PART: Final = re.compile(r"\s*(?:`((?:[^`]|``)+)`|(\w+))\s*(\.|\Z)")
NO_DATA_ROWS: Final = (
    "no data rows in the input (a header only, or an empty table); nothing was written"
)


@dataclass(frozen=True)
class SparkScoringSummary:
    summary: ScoringSummary
    flagged: int  # rows kept with a null segment (on_invalid="flag")


def score_to_path(
    df: DataFrame,
    bundle: Bundle,
    target: str,
    *,
    explain: bool = False,
    columns: Mapping[str, str] | None = None,
    on_invalid: OnInvalid = "fail",
) -> SparkScoringSummary:
    """Score ``df`` into a Parquet or CSV directory, replacing ``target`` only on success."""
    session = df.sparkSession
    _refuse_empty(df)
    scored = assign_segments(df, bundle, explain=explain, columns=columns, on_invalid=on_invalid)
    target = target.rstrip("/")
    fmt = file_format(target)
    fs, final = _hadoop_path(session, target)
    staging = final.getParent().suffix(f"/{STAGING_PREFIX}{final.getName()}-{uuid.uuid4().hex}")
    try:
        writer = scored.write.format(fmt).mode("errorifexists")
        if fmt == "csv":
            writer = writer.option("header", "true")
        with stage_progress(session, "scoring"):
            run_checked(lambda: writer.save(staging.toString()), df, bundle, columns)
        written = session.read.format(fmt).option("header", "true").load(staging.toString())
        result = summarise(written)
        if fs.exists(final):
            fs.delete(final, True)
        if not fs.rename(staging, final):
            raise SparkScoringError(f"cannot rename {staging.toString()} to {target}")
    finally:
        with _cleanup(f"the staging directory {staging.toString()}"):
            if fs.exists(staging):
                fs.delete(staging, True)
    return result


def score_to_table(
    df: DataFrame,
    bundle: Bundle,
    table: str,
    *,
    explain: bool = False,
    columns: Mapping[str, str] | None = None,
    on_invalid: OnInvalid = "fail",
) -> SparkScoringSummary:
    """Score ``df`` into a catalog table, replaced only once every row has been scored.

    ``table`` is a name as Spark SQL writes one: ``crm.customer_segments``, or with a part in
    backticks where the part needs them. An existing table is replaced only when it is an
    earlier output; one without the assignment columns holds something else, and is refused
    before any job runs. The staging table is created empty first, so that dropping it also
    removes its folder when the job fails.
    """
    session = df.sparkSession
    parts = _table_parts(table)
    target = _quoted(parts)
    with _table_errors(table):
        _refuse_other_table(session, table, target)
    _refuse_empty(df)
    scored = assign_segments(df, bundle, explain=explain, columns=columns, on_invalid=on_invalid)
    staging = _quoted([*parts[:-1], f"{parts[-1]}{STAGING_TABLE_INFIX}{uuid.uuid4().hex}"])
    try:
        with _table_errors(table):
            session.catalog.createTable(staging, schema=scored.schema)
            with stage_progress(session, "scoring"):
                run_checked(lambda: scored.write.insertInto(staging), df, bundle, columns)
            result = summarise(session.table(staging))
            with stage_progress(session, "writing the table"):
                session.table(staging).write.mode("overwrite").saveAsTable(target)
    finally:
        with _cleanup(f"the staging table {staging}"):
            session.sql(f"DROP TABLE IF EXISTS {staging}")
    return result


def summarise(scored: DataFrame) -> SparkScoringSummary:
    """Rows per segment, atypical and flagged counts, read back from what was written."""
    counts = (
        scored.groupBy(F.col("segment_id").cast("long").alias("segment"))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(F.col("atypical").cast("boolean"), 1).otherwise(0)).alias("atypical"),
        )
        .collect()
    )
    per_segment = {int(r["segment"]): int(r["rows"]) for r in counts if r["segment"] is not None}
    flagged = sum(int(r["rows"]) for r in counts if r["segment"] is None)
    summary = ScoringSummary(
        rows=sum(int(r["rows"]) for r in counts),
        atypical=sum(int(r["atypical"]) for r in counts),
        per_segment=per_segment,
    )
    return SparkScoringSummary(summary=summary, flagged=flagged)


def _hadoop_path(session: SparkSession, location: str) -> tuple[Any, Any]:
    """The Hadoop FileSystem and Path for ``location`` (local, HDFS, S3, DBFS alike)."""
    jvm: Any = session._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    conf = session._jsc.hadoopConfiguration()
    return path.getFileSystem(conf), path


def _refuse_empty(df: DataFrame) -> None:
    """No rows: refused before anything is written, as ``segment-score`` refuses a file with a
    header only (a scored output of no customers is more likely a broken export than news)."""
    if df.isEmpty():
        raise SparkScoringError(NO_DATA_ROWS)


def _table_parts(table: str) -> list[str]:
    """The parts of a name as Spark SQL writes it: ``crm.customer_segments``; a part with other
    characters than letters, digits and ``_`` (or of digits only) in backticks, a doubled
    backtick standing for one. Parsed here rather than by the JVM's parser, which a Spark
    Connect session does not reach."""
    parts: list[str] = []
    position = 0
    while True:
        found = _NAME_PART.match(table, position)
        if found is None:
            raise SparkScoringError(
                f"output table {table!r} is not a table name: write it as [catalog.][database.]"
                "table, a part in backticks when it has other characters than letters, digits "
                "and _"
            )
        quoted, plain, end = found.groups()
        parts.append(quoted.replace("``", "`") if quoted is not None else plain)
        if not end:
            return parts
        position = found.end()


def _quoted(parts: list[str]) -> str:
    """The parts as one name for SQL text and the catalog, each in backticks (a backtick in a
    part doubled), so that no part is read as anything but a name."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in parts)


def _refuse_other_table(session: SparkSession, table: str, target: str) -> None:
    """An existing table must be an earlier output (the database path refuses a foreign table
    likewise): replacing a table of something else would lose it."""
    if not session.catalog.tableExists(target):
        return
    present = {column.casefold() for column in session.table(target).columns}
    missing = [c for c in ASSIGNMENT_COLUMNS if c.casefold() not in present]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise SparkScoringError(
            f"output table {table!r} exists without column{'s' if len(missing) > 1 else ''} "
            f"{names}: it is not an earlier output of segment-score, so it was left as it is "
            "(drop it, or name another table)"
        )


@contextmanager
def _table_errors(table: str) -> Iterator[None]:
    """The catalog's refusals (a name it does not allow, a missing database) as a message."""
    try:
        yield
    except AnalysisException as exc:
        raise SparkScoringError(f"output table {table!r}: {first_line(exc)}") from None


@contextmanager
def _cleanup(what: str) -> Iterator[None]:
    """Cleanup that never hides the job's own outcome: its failure is logged, not raised, so
    the error that ended the job (or its success) is what the caller sees."""
    try:
        yield
    except Exception as exc:
        logger.warning("could not remove %s (remove it by hand): %s", what, first_line(exc))
