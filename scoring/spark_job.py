"""``segment-score --engine spark``: read a path or catalog table, score it, write all or nothing.

A path is written into a hidden staging directory beside the target and renamed into place only
when every row has been scored (through Hadoop's FileSystem, so HDFS, S3 and DBFS paths work as
local ones do); a failed job leaves the previous output as it was and no staging behind. A
catalog table is first written to a staging table and copied over the target only when complete,
so invalid rows never empty a table either. Needs the ``[spark]`` extra.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows

from scoring.batch import ScoringSummary
from scoring.spark import OnInvalid, SparkScoringError, assign_segments, run_checked
from segmentation.bundle import Bundle
from spark_engine.session import file_format, stage_progress

logger = logging.getLogger(__name__)
STAGING_PREFIX: Final = ".segment-score-staging-"


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
    """Score ``df`` into a catalog table, replaced only once every row has been scored."""
    session = df.sparkSession
    scored = assign_segments(df, bundle, explain=explain, columns=columns, on_invalid=on_invalid)
    staging = f"{table}{STAGING_PREFIX.replace('.', '_').replace('-', '_')}{uuid.uuid4().hex}"
    try:
        with stage_progress(session, "scoring"):
            run_checked(
                lambda: scored.write.mode("errorifexists").saveAsTable(staging), df, bundle, columns
            )
        with stage_progress(session, "writing the table"):
            session.table(staging).write.mode("overwrite").saveAsTable(table)
    finally:
        session.sql(f"DROP TABLE IF EXISTS {staging}")
    return summarise(session.table(table))


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
