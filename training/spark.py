"""Training on Spark: MLlib fits the scaler and K-Means, the bundle is the usual scikit-learn one.

The steps are those of ``training.train``, with the full-data work done by Spark:

1. read and check every row with the project's own validation (a pandas UDF over
   ``check_columns``), refusing or dropping bad rows as ``segment-train`` does;
2. fit MLlib's ``StandardScaler`` (mean and std) and correct its std: MLlib divides by n - 1,
   scikit-learn's ``StandardScaler`` by n, so ``scale_ = std * sqrt((n - 1) / n)``. Every
   feature gets the same factor, so K-Means on MLlib's scaled rows finds the same partition,
   with centroids ``sqrt(n / (n - 1))`` times larger than in scikit-learn's units;
3. choose k with ``training.choose_k`` (the same rule, its public entry point) on a seeded
   sample, scaled like the model's input;
4. fit MLlib ``KMeans`` (k-means||, seeded) on every row, the best of ``N_INIT`` seeds;
5. set the results on a scikit-learn ``Pipeline(StandardScaler, KMeans)``, so the service,
   ``segment-score`` and the Spark scorer load the bundle unchanged;
6. sizes (and the level shares of categorical attributes, such as the study's gender) from
   every row; profiles, distance percentiles, drift histograms, metrics and stability from a
   seeded sample of at most ``PROFILE_SAMPLE_ROWS`` rows.

The features must be numbers read as they are, with declared ranges (the classic study's
preset, or a ``--schema`` file): one-hot categorical features, ``log1p`` and ranges derived from
the data are single-machine training only, for now.

Needs the ``[spark]`` extra.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pyspark.ml.clustering import KMeans as SparkKMeans
from pyspark.ml.clustering import KMeansModel as SparkKMeansModel
from pyspark.ml.feature import StandardScaler as SparkStandardScaler
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.pandas.functions import pandas_udf
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from segmentation.bundle import Bundle, save_bundle
from segmentation.metadata import (
    DataProblem,
    DataQuality,
    KSelection,
    LevelShare,
    ProblemExample,
    SegmentProfile,
    TrainingData,
    TrainingSummary,
)
from segmentation.schema import (
    ID_COLUMN,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
    SchemaError,
)
from segmentation.validation import REPEATED_ID, check_columns
from spark_engine.session import (
    feature_sources,
    file_format,
    is_path,
    read_customers,
    spark_input,
    stage_progress,
)
from training.choose_k import fixed_k, select_k
from training.columns import complete_schema, plan_columns
from training.data import MAX_EXAMPLES, DataError
from training.fit import build_pipeline, check_enough_data, fit_metrics, score_clustering
from training.names import NamesFile, apply_names, load_names
from training.profiles import build_profiles, describe_distribution, histogram
from training.report import report_sample
from training.stability import measure_stability
from training.train import TrainingOptions, _report_files

logger = logging.getLogger("training")

SELECTION_SAMPLE_ROWS: Final = 50_000
PROFILE_SAMPLE_ROWS: Final = 200_000
MAX_ITER: Final = 100
N_INIT: Final = 5
TOLERANCE: Final = 1e-4
_PROBLEMS: Final = "problems"
_VECTOR: Final = "features_vector"
_SCALED: Final = "scaled_vector"
_SEP: Final = "\t"


@dataclass(frozen=True)
class SparkFit:
    """MLlib's results in scikit-learn's units."""

    mean: np.ndarray
    scale: np.ndarray  # population std (ddof 0), 1 where a feature does not vary
    centroids_scaled: np.ndarray
    inertia: float
    iterations: int
    rows: int


def spark_schema(options: TrainingOptions) -> FeatureSchema:
    """The schema, declared in full before any row is read: Spark fits numbers as they are."""
    plan = plan_columns(options.features, options.schema_file)
    try:
        schema = complete_schema(plan, pd.DataFrame(columns=plan.feature_names))
    except SchemaError as exc:
        raise DataError(
            f"with --engine spark, declare every feature's kind and range in --schema ({exc})"
        ) from None
    local_only = [
        f.name
        for f in schema.features
        if not isinstance(f, NumericFeature) or f.transform is not None
    ]
    if local_only:
        raise DataError(
            f"with --engine spark, features must be numbers read as they are; {local_only[0]!r} "
            "is categorical or log1p: train it with --engine local"
        )
    return schema


def train_on_spark(options: TrainingOptions, session: SparkSession) -> Bundle:
    schema = spark_schema(options)
    features = schema.names
    names = load_names(options.names_file) if options.names_file else None
    location = options.source.location
    raw = read_customers(session, location)
    sources = feature_sources(raw.columns, schema, options.source.columns)
    with stage_progress(session, "reading data"):
        valid, quality = _checked_rows(raw, sources, schema, options)
    rows = quality.rows_used
    try:
        with stage_progress(session, "scaling"):
            assembled = VectorAssembler(inputCols=features, outputCol=_VECTOR).transform(valid)
            scaler_model = SparkStandardScaler(
                inputCol=_VECTOR, outputCol=_SCALED, withMean=True, withStd=True
            ).fit(assembled)
        mean = scaler_model.mean.toArray()
        sample_std = scaler_model.std.toArray()
        population_std = sample_std * math.sqrt((rows - 1) / rows) if rows > 1 else sample_std
        scale = np.where(population_std > 0, population_std, 1.0)
        to_mllib = math.sqrt(rows / (rows - 1)) if rows > 1 else 1.0

        selection_frame = _sample(valid, features, SELECTION_SAMPLE_ROWS, rows, options.seed)
        selection_rows = (selection_frame[features].to_numpy(dtype=float) - mean) / scale
        selection = _choose_k(selection_rows, rows, options)
        k = selection.chosen_k

        extra = [f.name for f in _attributes(valid, schema)]
        scaled = scaler_model.transform(assembled).select(_SCALED, *extra).persist()
        with stage_progress(session, f"fitting k={k}"):
            model = _best_of_runs(scaled, k, options.seed)
        fit = SparkFit(
            mean=mean,
            scale=scale,
            # MLlib's centroids, in rows scaled by the n - 1 std, into scikit-learn's units.
            centroids_scaled=np.array([np.asarray(c) for c in model.clusterCenters()]) * to_mllib,
            inertia=float(model.summary.trainingCost) * to_mllib**2,
            iterations=int(model.summary.numIter),
            rows=rows,
        )
        pipeline = spark_pipeline(fit, features, options.seed)
        with stage_progress(session, "segment sizes"):
            labelled = model.transform(scaled)
            sizes, levels = _segment_counts(labelled, k, _attributes(valid, schema))
        profile_frame = _sample(valid, features, PROFILE_SAMPLE_ROWS, rows, options.seed)
        scaled.unpersist()
    finally:
        valid.unpersist()
    return _write_bundle(
        options,
        session,
        schema,
        pipeline,
        fit,
        selection,
        quality,
        profile_frame,
        sizes,
        levels,
        names,
    )


def _best_of_runs(scaled: DataFrame, k: int, seed: int) -> SparkKMeansModel:
    """The lowest-cost of ``N_INIT`` seeded k-means|| runs.

    One k-means|| start can settle in a poor local minimum (here: one in four seeds on the
    planted sample, at twice the inertia), as one k-means++ start can in scikit-learn, which
    therefore runs ten; seeds ``seed``, ``seed + 1``... keep the result reproducible.
    """
    best: SparkKMeansModel | None = None
    for run in range(N_INIT):
        model = SparkKMeans(
            k=k,
            seed=seed + run,
            initMode="k-means||",
            maxIter=MAX_ITER,
            tol=TOLERANCE,
            featuresCol=_SCALED,
            predictionCol="segment",
        ).fit(scaled)
        cost = model.summary.trainingCost
        logger.info("k-means|| run %d of %d: cost %.6g", run + 1, N_INIT, cost)
        if best is None or cost < best.summary.trainingCost:
            best = model
    assert best is not None
    return best


def _attributes(valid: DataFrame, schema: FeatureSchema) -> list[CategoricalFeature]:
    """Categorical attributes travel with the scaled rows, for their level shares."""
    return [
        f
        for f in schema.attributes
        if isinstance(f, CategoricalFeature) and f.name in valid.columns
    ]


def spark_pipeline(fit: SparkFit, features: Sequence[str], seed: int) -> Pipeline:
    """A fitted scikit-learn pipeline made from MLlib's results, as ``segment-train`` writes it."""
    scaler = StandardScaler()
    scaler.mean_ = fit.mean.astype(np.float64)
    scaler.scale_ = fit.scale.astype(np.float64)
    scaler.var_ = (fit.scale**2).astype(np.float64)
    scaler.n_samples_seen_ = np.int64(fit.rows)
    scaler.n_features_in_ = len(features)
    scaler.feature_names_in_ = np.asarray(features, dtype=object)
    kmeans = KMeans(n_clusters=len(fit.centroids_scaled), random_state=seed)
    kmeans.cluster_centers_ = np.ascontiguousarray(fit.centroids_scaled, dtype=np.float64)
    kmeans.n_features_in_ = len(features)
    kmeans.inertia_ = fit.inertia
    kmeans.n_iter_ = fit.iterations
    kmeans._n_threads = os.cpu_count() or 1  # KMeans.fit sets it; predict reads it
    return build_pipeline(scaler, kmeans)


# -- step 1: reading and checking ---------------------------------------------------------------


def _checked_rows(
    raw: DataFrame, sources: dict[str, str], schema: FeatureSchema, options: TrainingOptions
) -> tuple[DataFrame, DataQuality]:
    """Valid rows (features as doubles, categorical attributes as text), cached; and what was
    wrong with the others."""
    inputs = [f.name for f in schema.columns if f.name in sources]
    fields = [T.StructField(f, T.DoubleType()) for f in schema.names]
    fields += [
        T.StructField(f.name, T.StringType())
        for f in schema.attributes
        if isinstance(f, CategoricalFeature) and f.name in sources
    ]
    fields.append(T.StructField(_PROBLEMS, T.ArrayType(T.StringType())))
    check = pandas_udf(  # type: ignore[call-overload]
        _row_checker(inputs, schema, [f.name for f in fields]), returnType=T.StructType(fields)
    )
    id_column = _id_column(raw.columns, schema, options.source.columns)
    checked = raw.select(
        *([F.col(id_column).cast("string").alias(ID_COLUMN)] if id_column else []),
        check(*(spark_input(raw, sources[name]) for name in inputs)).alias("checked"),
    ).select(*([ID_COLUMN] if id_column else []), "checked.*")
    checked = checked.persist()
    rows_read = checked.count()
    if rows_read == 0:
        raise DataError(f"{options.source.location}: no data rows")
    problems = _problem_report(checked)
    valid = checked.where(F.size(_PROBLEMS) == 0)
    if id_column:
        repeated, valid = _repeated_ids(valid, options.drop_invalid)
        if repeated:
            problems.append(repeated)
    if problems and not options.drop_invalid:
        checked.unpersist()
        raise DataError(_refusal(options.source.location, problems, rows_read))
    kept = [f.name for f in fields if f.name != _PROBLEMS]
    valid = valid.select(*kept).persist()
    rows_used = valid.count()
    checked.unpersist()
    if rows_used < options.min_rows:
        raise DataError(
            f"{options.source.location}: only {rows_used} valid rows of {rows_read}, fewer than "
            f"the {options.min_rows} needed to train (see --min-rows)"
        )
    quality = DataQuality(
        rows_read=rows_read,
        rows_used=rows_used,
        rows_dropped=rows_read - rows_used,
        policy="drop_invalid" if options.drop_invalid else "fail",
        problems=problems,
    )
    return valid, quality


def _row_checker(
    inputs: list[str], schema: FeatureSchema, fields: list[str]
) -> Callable[..., pd.DataFrame]:
    """Executors' side of step 1: the shared checks, the model's input, and each row's problems."""

    def check(*series: pd.Series) -> pd.DataFrame:
        table = pd.DataFrame(dict(zip(inputs, series, strict=True)))
        checked = check_columns(table, schema)
        matrix = checked.feature_matrix()
        out = pd.DataFrame({f: matrix[:, i] for i, f in enumerate(schema.names)})
        for name in fields[len(schema.names) : -1]:
            levels = checked.clean[name].astype(object)
            out[name] = levels.where(levels.notna(), None).to_numpy()
        found: list[list[str]] = [[] for _ in range(len(table))]
        for problem in checked.problems:
            for position in np.flatnonzero(problem.mask):
                value = str(problem.values.iloc[position])
                found[position].append(_SEP.join((problem.column, problem.problem, value)))
        out[_PROBLEMS] = found
        return out[fields]

    return check


def _id_column(
    columns: Sequence[str], schema: FeatureSchema, mapping: Mapping[str, str]
) -> str | None:
    mapped = [source for source, ours in mapping.items() if ours == ID_COLUMN]
    name_of = schema.name_of()
    named = [c for c in columns if name_of.get(c.strip(), c.strip()) == ID_COLUMN]
    return next(iter(mapped or named), None)


def _problem_report(checked: DataFrame) -> list[DataProblem]:
    exploded = checked.where(F.size(_PROBLEMS) > 0).select(F.explode(_PROBLEMS).alias("p"))
    parts = F.split("p", _SEP)
    grouped = (
        exploded.select(parts[0].alias("column"), parts[1].alias("problem"), parts[2].alias("v"))
        .groupBy("column", "problem")
        .agg(F.count(F.lit(1)).alias("count"), F.slice(F.collect_list("v"), 1, MAX_EXAMPLES))
        .collect()
    )
    return [
        DataProblem(
            column=row[0],
            problem=row[1],
            count=int(row[2]),
            examples=[ProblemExample(row=None, value=v) for v in row[3]],
        )
        for row in sorted(grouped, key=lambda r: (r[0], r[1]))
    ]


def _repeated_ids(valid: DataFrame, drop: bool) -> tuple[DataProblem | None, DataFrame]:
    """Rows repeating an earlier customer id; with ``drop``, one row per id is kept."""
    present = F.col(ID_COLUMN).isNotNull() & (F.trim(ID_COLUMN) != "")
    counts = valid.where(present).groupBy(ID_COLUMN).count().where(F.col("count") > 1)
    summary = counts.agg(F.sum(F.col("count") - 1), F.slice(F.collect_list(ID_COLUMN), 1, 5))
    extra, examples = summary.collect()[0]
    if not extra:
        return None, valid
    problem = DataProblem(
        column=ID_COLUMN,
        problem=REPEATED_ID,
        count=int(extra),
        examples=[ProblemExample(row=None, value=v) for v in examples],
    )
    kept = valid.where(~present).unionByName(valid.where(present).dropDuplicates([ID_COLUMN]))
    return problem, kept if drop else valid


def _refusal(name: str, problems: list[DataProblem], rows_read: int) -> str:
    total = sum(p.count for p in problems)
    first = problems[0]
    lines = [
        f"{name}: column '{first.column}': {first.problem}, e.g. {first.examples[0].value!r} "
        f"({total} problems in {rows_read} rows; --drop-invalid trains without those rows)"
    ]
    for problem in problems:
        examples = ", ".join(repr(e.value) for e in problem.examples)
        lines.append(f"  {problem.column}: {problem.count} x {problem.problem} ({examples})")
    return "\n".join(lines)


# -- steps 3 and 6: on samples, with the single-machine code --------------------------------------


def _sample(
    valid: DataFrame, features: Sequence[str], size: int, rows: int, seed: int
) -> pd.DataFrame:
    """A seeded sample of at most ``size`` valid rows, on the driver."""
    frame = valid if rows <= size else valid.sample(False, min(1.0, 1.1 * size / rows), seed)
    table: pd.DataFrame = frame.limit(size).toArrow().to_pandas()
    for feature in features:
        table[feature] = table[feature].astype("float64")
    return table


def _choose_k(scaled: np.ndarray, rows: int, options: TrainingOptions) -> KSelection:
    """The single-machine rule on the sample; the fit it also returns is not used."""
    if options.k is None:
        check_enough_data(scaled, options.k_range[0])
        selection, _ = select_k(scaled, options.k_range, options.seed, options.minibatch_threshold)
    else:
        check_enough_data(scaled, options.k)
        selection, _ = fixed_k(scaled, options.k, options.seed, options.minibatch_threshold)
    if selection.warning:
        logger.warning("%s", selection.warning)
    if len(scaled) < rows:
        selection = selection.model_copy(update={"sample_rows": len(scaled)})
    return selection


LevelCounts = dict[str, list[dict[str, LevelShare]]]  # attribute -> per segment -> level


def _segment_counts(
    labelled: DataFrame, k: int, attributes: Sequence[CategoricalFeature]
) -> tuple[list[int], LevelCounts]:
    """Every row's segment size, and per segment the count and share of each attribute level
    (blank values count in the size, in no level)."""
    sizes = [0] * k
    for row in labelled.groupBy("segment").count().collect():
        sizes[row["segment"]] += int(row["count"])
    levels: LevelCounts = {}
    for attribute in attributes:
        counts: list[dict[str, int]] = [{} for _ in range(k)]
        for row in labelled.groupBy("segment", attribute.name).count().collect():
            if row[attribute.name] is not None:
                counts[row["segment"]][row[attribute.name]] = int(row["count"])
        levels[attribute.name] = [
            {
                level: LevelShare(count=c.get(level, 0), share=c.get(level, 0) / size)
                for level in attribute.levels
            }
            for c, size in zip(counts, sizes, strict=True)
            if size
        ]
    return sizes, levels


def _write_bundle(
    options: TrainingOptions,
    session: SparkSession,
    schema: FeatureSchema,
    pipeline: Pipeline,
    fit: SparkFit,
    selection: KSelection,
    quality: DataQuality,
    frame: pd.DataFrame,
    sizes: list[int],
    levels: LevelCounts,
    names: NamesFile | None,
) -> Bundle:
    features = schema.names
    matrix = pd.DataFrame({f: frame[f] for f in features})
    scaled = (matrix.to_numpy(dtype=float) - fit.mean) / fit.scale
    labels = np.asarray(pipeline.named_steps["kmeans"].predict(scaled))
    offsets = scaled - fit.centroids_scaled[labels]
    profiles = build_profiles(
        frame,
        schema,
        labels,
        np.sqrt(np.einsum("ij,ij->i", offsets, offsets)),
        fit.centroids_scaled * fit.scale + fit.mean,
        fit.centroids_scaled,
    )
    profiles = [_full_counts(p, sizes, levels, fit.rows) for p in profiles]
    if names and options.names_file:
        profiles = apply_names(profiles, names, str(options.names_file))
    estimator = pipeline.named_steps["kmeans"]
    stability = None
    if options.stability_samples > 0:
        stability = measure_stability(
            scaled, estimator, options.seed, options.stability_samples, options.minibatch_threshold
        )
        if stability.warning:
            logger.warning("%s", stability.warning)
    score = score_clustering(scaled, labels, selection.chosen_k, fit.inertia, options.seed)
    summary = TrainingSummary(
        engine="spark",
        spark_version=session.version,
        algorithm="kmeans",
        features=features,
        feature_schema=schema,
        feature_stats={f: describe_distribution(matrix[f]) for f in features},
        feature_histograms={f: histogram(matrix[f]) for f in features},
        k=selection.chosen_k,
        seed=options.seed,
        training_data=_training_data(session, options.source.location, quality.rows_used),
        data_quality=quality,
        k_selection=selection,
        metrics=fit_metrics(score, len(scaled)),
        stability=stability,
        segments=profiles,
    )
    sample = report_sample(matrix, labels, options.seed)
    return save_bundle(
        options.models_dir,
        pipeline,
        summary,
        _report_files(summary, sample),
        promote=options.promote,
    )


def _full_counts(
    profile: SegmentProfile, sizes: list[int], levels: LevelCounts, rows: int
) -> SegmentProfile:
    """Sizes and level shares count every row, not just the profile sample."""
    update: dict[str, object] = {
        "size": sizes[profile.id],
        "share": sizes[profile.id] / rows,
        "levels": {name: counts[profile.id] for name, counts in levels.items()},
    }
    return profile.model_copy(update=update)


def _training_data(session: SparkSession, location: str, rows: int) -> TrainingData:
    local = Path(location)
    if is_path(location) and local.is_file():
        from segmentation.checksums import sha256_of

        digest = sha256_of(local)
    else:
        frame = read_customers(session, location)
        total = frame.select(F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)"))).first()
        digest = hashlib.sha256(f"{rows}:{total[0] if total else 0}".encode()).hexdigest()
    kind: Literal["csv", "parquet", "table"] = "table"
    if is_path(location):
        kind = "parquet" if file_format(location) == "parquet" else "csv"
    return TrainingData(kind=kind, source=location, sha256=digest, rows=rows)
