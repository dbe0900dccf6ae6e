"""Training on Spark: MLlib fits the scaler and K-Means, the bundle is the usual scikit-learn one.

The steps are those of ``training.train``, with the full-data work done by Spark:

1. read the customers, or aggregate orders into customers (``spark_engine.orders``, with
   ``--transactions``); complete the schema by ``training.columns``' rules from facts Spark
   computes over every row (counts, minimum and maximum, distinct values, each value's count);
   check every row with the project's own validation (a pandas UDF over ``check_columns``),
   which also encodes it into the model's input (``log1p``, 0/1 level indicators), refusing or
   dropping bad rows as ``segment-train`` does;
2. fit MLlib's ``StandardScaler`` (mean and std) on the numeric input columns and correct its
   std: MLlib divides by n - 1, scikit-learn's ``StandardScaler`` by n, so
   ``scale_ = std * sqrt((n - 1) / n)``. The rows are scaled by that, and the level indicators
   left as they are, as the single-machine ``ColumnTransformer`` does;
3. choose k with ``training.choose_k`` (the same rule, its public entry point) on a seeded
   sample, scaled like the model's input;
4. fit MLlib ``KMeans`` (k-means||, seeded) on every row, the best of ``N_INIT`` seeds;
5. set the results on the scaler step ``training.fit.fit_scaler`` builds (a ``StandardScaler``,
   or the ``ColumnTransformer`` of a schema with log1p or categorical features) and a
   scikit-learn ``KMeans``, so the service, ``segment-score`` and the Spark scorer load the
   bundle unchanged;
6. sizes and the level shares of categorical columns from every row; profiles, distance
   percentiles, drift histograms, metrics and stability from a seeded sample of at most
   ``PROFILE_SAMPLE_ROWS`` rows.

Needs the ``[spark]`` extra.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pyspark.ml.clustering import KMeans as SparkKMeans
from pyspark.ml.clustering import KMeansModel as SparkKMeansModel
from pyspark.ml.feature import StandardScaler as SparkStandardScaler
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.pandas.functions import pandas_udf
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from segmentation.bundle import Bundle, numbers_of, save_bundle
from segmentation.excerpts import counted
from segmentation.metadata import (
    DataProblem,
    DataQuality,
    KSelection,
    LevelShare,
    ProblemExample,
    SegmentProfile,
    TrainingData,
    TrainingSummary,
    TransactionsSummary,
)
from segmentation.rfm import RFM_PRESET
from segmentation.schema import (
    ID_COLUMN,
    PRESETS_DIR,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
    SchemaError,
)
from segmentation.sources import MISSING_WORDS
from segmentation.validation import REPEATED_ID, check_columns
from spark_engine.orders import OrdersSparkError, order_customers
from spark_engine.session import (
    column_sources,
    feature_sources,
    file_format,
    is_path,
    read_customers,
    spark_input,
    stage_progress,
)
from training.align import (
    align,
    highest_segment_id,
    inherit_words,
    lineage,
    relabel_split_tree,
    renumber_split_tree,
    reorder_estimator,
)
from training.choose_k import fixed_k, select_k
from training.columns import (
    LARGEST_NUMBER,
    ColumnPlan,
    Numbers,
    Spellings,
    Storage,
    complete_schema_from,
    needs_data,
    parse_numbers,
    plan_columns,
)
from training.data import MAX_EXAMPLES, DataError
from training.fit import (
    build_pipeline,
    check_enough_data,
    fit_metrics,
    fit_scaler,
    score_clustering,
)
from training.names import NamesFile, apply_names, load_names
from training.profiles import build_profiles, describe_distribution, histogram
from training.report import report_sample
from training.stability import measure_stability
from training.train import (
    TrainingOptions,
    _report_files,
    aligned_to,
    gate_refusal,
    with_comparison,
)

logger = logging.getLogger("training")

SELECTION_SAMPLE_ROWS: Final = 50_000
PROFILE_SAMPLE_ROWS: Final = 200_000
MAX_ITER: Final = 100
N_INIT: Final = 5
TOLERANCE: Final = 1e-4
# Values of a column whose levels are derived, brought to the driver with their counts; a column
# with more is refused as a feature anyway (an identifier, or far too many levels).
MAX_SPELLINGS: Final = 10_000
NO_DATA_ROWS: Final = "no data rows (only a header, or an empty result)"  # segment-train's words
_PROBLEMS: Final = "problems"
_INPUT: Final = "_in"  # the model's input columns: _in0, _in1, ...
_SCALED_COLUMN: Final = "_z"
_VECTOR: Final = "features_vector"
_SCALED: Final = "scaled_vector"
_SEP: Final = "\t"


@dataclass(frozen=True)
class SparkFit:
    """MLlib's results in scikit-learn's units, one value per input column of the model."""

    mean: np.ndarray  # 0 for a level indicator
    scale: np.ndarray  # population std (ddof 0), 1 where a number does not vary; 1 for indicators
    centroids_scaled: np.ndarray
    inertia: float
    iterations: int
    rows: int


def train_on_spark(options: TrainingOptions, session: SparkSession) -> Bundle:
    schema_file = options.schema_file
    if options.orders and schema_file is None:
        schema_file = PRESETS_DIR / f"{RFM_PRESET}.toml"
    plan = plan_columns(options.features, schema_file)
    names = load_names(options.names_file) if options.names_file else None
    location = options.source.location
    raw = read_customers(session, location)
    mapping: Mapping[str, str] = options.source.columns
    transactions = None
    if options.orders:
        with stage_progress(session, "orders into customers"):
            raw, transactions = _order_customers(raw, mapping, options.as_of, location)
        mapping = {}  # the customers' columns carry our names
    elif raw.isEmpty():
        # Before the schema is derived from the rows, which would blame the first column whose
        # range or levels it derives ("no number to derive its range from").
        raise DataError(f"{location}: {NO_DATA_ROWS}")
    with stage_progress(session, "reading data"):
        schema = _complete_schema(raw, plan, mapping, location)
        sources = feature_sources(raw.columns, schema, mapping)
        valid, quality = _checked_rows(raw, sources, schema, options, mapping)
    rows = quality.rows_used
    inputs = _input_columns(schema)
    categorical = [f.name for f in _categorical(schema, sources)]
    try:
        with stage_progress(session, "scaling"):
            mean, scale = _scaler_statistics(valid, schema, rows)
        selection_frame = _sample(valid, schema, SELECTION_SAMPLE_ROWS, rows, options.seed)
        selection_rows = (selection_frame[inputs].to_numpy(dtype=float) - mean) / scale
        selection, selection_labels = _choose_k(selection_rows, rows, options)
        k = selection.chosen_k

        scaled_columns = [
            ((F.col(name) - float(m)) / float(s)).alias(f"{_SCALED_COLUMN}{i}")
            for i, (name, m, s) in enumerate(zip(inputs, mean, scale, strict=True))
        ]
        assembler = VectorAssembler(
            inputCols=[f"{_SCALED_COLUMN}{i}" for i in range(len(inputs))], outputCol=_SCALED
        )
        scaled = (
            assembler.transform(valid.select(*scaled_columns, *map(_col, categorical)))
            .select(_SCALED, *map(_col, categorical))
            .persist()
        )
        with stage_progress(session, f"fitting k={k}"):
            model = _best_of_runs(scaled, k, options.seed)
        fit = SparkFit(
            mean=mean,
            scale=scale,
            centroids_scaled=np.array([np.asarray(c) for c in model.clusterCenters()]),
            inertia=float(model.summary.trainingCost),
            iterations=int(model.summary.numIter),
            rows=rows,
        )
        pipeline = spark_pipeline(schema, _model_input(selection_frame, schema), fit, options.seed)
        # The tree's chosen k is the sample's own fit: numbered as MLlib's segments, so that
        # the alignment below numbers it as the model's (names, colours, the runner-up's words).
        mllib_labels = pipeline.named_steps["kmeans"].predict(selection_rows)
        selection = relabel_split_tree(selection, selection_labels, mllib_labels)
        with stage_progress(session, "segment sizes"):
            labelled = model.transform(scaled)
            sizes, levels = _segment_counts(labelled, k, _categorical(schema, sources))
        profile_frame = _sample(valid, schema, PROFILE_SAMPLE_ROWS, rows, options.seed)
        scaled.unpersist()
    finally:
        valid.unpersist()
    training_data = _training_data(session, location, rows, transactions)
    return _write_bundle(
        options,
        session,
        schema,
        pipeline,
        fit,
        selection,
        quality,
        training_data,
        profile_frame,
        sizes,
        levels,
        names,
    )


def _col(name: str) -> Column:
    """A column by its name, whatever characters the name has (a dot is not a struct field)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _input_columns(schema: FeatureSchema) -> list[str]:
    """The model's input columns (``schema.encoded_columns()``) as Spark columns."""
    return [f"{_INPUT}{i}" for i in range(schema.width)]


def _numeric_positions(schema: FeatureSchema) -> list[int]:
    """Positions of the numeric features among the model's input columns; the others are level
    indicators."""
    return [
        i
        for i, owner in enumerate(schema.owner_of_columns())
        if isinstance(schema.feature(owner), NumericFeature)
    ]


def _categorical(schema: FeatureSchema, sources: Mapping[str, str]) -> list[CategoricalFeature]:
    """Categorical features, and the categorical attributes the data has: their levels travel
    with the scaled rows, to be counted per segment."""
    return [f for f in schema.columns if isinstance(f, CategoricalFeature) and f.name in sources]


# -- step 1: the schema, from every row ------------------------------------------------------------


def _order_customers(
    orders: DataFrame, mapping: Mapping[str, str], as_of: date | None, location: str
) -> tuple[DataFrame, TransactionsSummary]:
    try:
        made = order_customers(orders, mapping, as_of)
    except OrdersSparkError as exc:
        raise DataError(f"{location}: {exc}") from None
    if made.summary.customers_with_orders == 0:
        raise DataError(f"{location}: no customer has an order (returns only)")
    return made.customers, made.summary


def _complete_schema(
    raw: DataFrame, plan: ColumnPlan, mapping: Mapping[str, str], location: str
) -> FeatureSchema:
    """The plan, completed by ``training.columns``' rules from facts Spark computes over every
    row, for the columns whose declaration leaves something out."""
    sources = column_sources(raw.columns, plan.feature_names, plan.name_of(), mapping)
    present = [t for t in (*plan.features, *plan.attributes) if t["name"] in sources]
    derived = {
        str(t["name"]): sources[t["name"]]
        for t in present
        if needs_data(t) or t["name"] in plan.levels_yield_to_data
    }
    facts = SparkColumns(raw, derived)
    try:
        return complete_schema_from(
            plan, {str(t["name"]): facts.column(str(t["name"])) for t in present}
        )
    except SchemaError as exc:
        raise DataError(f"{location}: {exc}") from None


class SparkColumns:
    """What the column rules read, computed by Spark over every row of the columns ``sources``
    names: one aggregation for the numbers and counts of all of them, on first use, and one
    group-by for each column whose levels are derived."""

    def __init__(self, df: DataFrame, sources: Mapping[str, str]) -> None:
        self.df = df
        self.sources = dict(sources)
        self._facts: dict[str, tuple[int, int, Numbers]] | None = None

    def column(self, name: str) -> SparkColumn:
        return SparkColumn(self, name)

    def storage(self, name: str) -> Storage:
        data_type = self.df.schema[self.sources[name]].dataType
        if isinstance(data_type, T.BooleanType):
            return "boolean"
        return "number" if isinstance(data_type, T.NumericType) else "text"

    def text(self, name: str) -> Column:
        """The trimmed text of a cell, booleans spelled as pandas spells them."""
        column = _col(self.sources[name])
        if self.storage(name) == "boolean":
            return F.when(column, F.lit("True")).when(~column, F.lit("False"))
        return F.trim(column.cast("string"))

    def facts(self, name: str) -> tuple[int, int, Numbers]:
        """Non-null cells, non-blank text cells, and the numbers of column ``name``."""
        if self._facts is None:
            self._facts = self._aggregate()
        return self._facts[name]

    def _aggregate(self) -> dict[str, tuple[int, int, Numbers]]:
        parse = pandas_udf(parse_numbers, returnType=T.DoubleType())  # type: ignore[call-overload]
        names = list(self.sources)
        columns = []
        for i, name in enumerate(names):
            source = _col(self.sources[name])
            number = parse(source) if self.storage(name) == "text" else source.cast("double")
            columns += [
                source.alias(f"c{i}"),
                self.text(name).alias(f"t{i}"),
                number.alias(f"x{i}"),
            ]
        selected = self.df.select(*columns)
        aggregates = []
        for i in range(len(names)):
            x = F.col(f"x{i}")
            finite = x.isNotNull() & ~F.isnan(x) & (F.abs(x) != float("inf"))
            number = F.when(finite, x)
            # The range from values within LARGEST_NUMBER, as Numbers.of draws it.
            ordinary = F.when(finite & (F.abs(x) <= LARGEST_NUMBER), x)
            text = F.col(f"t{i}")
            aggregates += [
                F.count(f"c{i}"),
                # Words for "no value" are not text against a column of numbers (PandasColumn).
                F.count(F.when((text != "") & ~text.isin(sorted(MISSING_WORDS)), 1)),
                F.count(number),
                F.min(ordinary),
                F.max(ordinary),
                F.count(F.when(finite & (x % 1 != 0), 1)),
                F.count_distinct(number),
            ]
        row = selected.agg(*aggregates).first() if names else None
        facts = {}
        for i, name in enumerate(names):
            assert row is not None
            cells, texts, count, low, high, fractions, distinct = row[7 * i : 7 * i + 7]
            numbers = Numbers(
                count=int(count),
                minimum=float("nan") if low is None else float(low),
                maximum=float("nan") if high is None else float(high),
                whole=fractions == 0,
                distinct=int(distinct),
            )
            facts[name] = (int(cells), int(texts), numbers)
        return facts

    def spellings(self, name: str) -> Spellings:
        values = (
            self.df.select(self.text(name).alias("value"))
            .where(F.col("value") != "")
            .groupBy("value")
            .count()
        )
        top = values.orderBy(F.desc("count"), "value").limit(MAX_SPELLINGS + 1).collect()
        distinct = len(top) if len(top) <= MAX_SPELLINGS else values.count()
        return Spellings(
            counts=[(str(r["value"]), int(r["count"])) for r in top[:MAX_SPELLINGS]],
            distinct=distinct,
            cells=self.facts(name)[0],
        )


class SparkColumn:
    """One column's facts (``training.columns.ColumnFacts``), computed by Spark."""

    def __init__(self, columns: SparkColumns, name: str) -> None:
        self.columns = columns
        self.name = name

    @property
    def storage(self) -> Storage:
        return self.columns.storage(self.name)

    @property
    def texts(self) -> int:
        return self.columns.facts(self.name)[1]

    def numbers(self) -> Numbers:
        return self.columns.facts(self.name)[2]

    def spellings(self) -> Spellings:
        return self.columns.spellings(self.name)


def _scaler_statistics(
    valid: DataFrame, schema: FeatureSchema, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of every input column of the model, scikit-learn's: MLlib's mean and std
    of the numbers, the std times sqrt((n - 1) / n); 0 and 1 for a level indicator."""
    mean = np.zeros(schema.width)
    scale = np.ones(schema.width)
    numeric = _numeric_positions(schema)
    if numeric:
        inputs = _input_columns(schema)
        assembled = VectorAssembler(
            inputCols=[inputs[i] for i in numeric], outputCol=_VECTOR
        ).transform(valid)
        model = SparkStandardScaler(
            inputCol=_VECTOR, outputCol=_SCALED, withMean=True, withStd=True
        ).fit(assembled)
        sample_std = model.std.toArray()
        population_std = sample_std * np.sqrt((rows - 1) / rows) if rows > 1 else sample_std
        mean[numeric] = model.mean.toArray()
        scale[numeric] = np.where(population_std > 0, population_std, 1.0)
    return mean, scale


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


def spark_pipeline(
    schema: FeatureSchema, sample: pd.DataFrame, fit: SparkFit, seed: int
) -> Pipeline:
    """A fitted scikit-learn pipeline made from MLlib's results, as ``segment-train`` writes it.

    The scaler step is built and fitted by ``training.fit.fit_scaler`` itself, on a sample of
    the model's input (``sample``), so it is the very kind single-machine training writes; its
    numbers' statistics are then replaced by those of every row.
    """
    scaler, _ = fit_scaler(sample, schema)
    position = 0
    for feature in schema.features:
        if isinstance(feature, CategoricalFeature):
            position += len(feature.encoded_columns())
            continue
        if isinstance(scaler, StandardScaler):
            standard, columns = scaler, slice(None)  # every feature is a plain number
        else:
            step = scaler.named_transformers_[feature.name]
            standard = step[-1] if isinstance(step, Pipeline) else step
            columns = slice(position, position + 1)
        standard.mean_ = fit.mean[columns].astype(np.float64)
        standard.scale_ = fit.scale[columns].astype(np.float64)
        standard.var_ = standard.scale_**2
        standard.n_samples_seen_ = np.int64(fit.rows)
        position += 1
    kmeans = KMeans(n_clusters=len(fit.centroids_scaled), random_state=seed)
    kmeans.cluster_centers_ = np.ascontiguousarray(fit.centroids_scaled, dtype=np.float64)
    kmeans.n_features_in_ = schema.width
    kmeans.inertia_ = fit.inertia
    kmeans.n_iter_ = fit.iterations
    kmeans._n_threads = os.cpu_count() or 1  # KMeans.fit sets it; predict reads it
    return build_pipeline(scaler, kmeans)


# -- step 1: reading and checking ---------------------------------------------------------------


def _checked_rows(
    raw: DataFrame,
    sources: dict[str, str],
    schema: FeatureSchema,
    options: TrainingOptions,
    mapping: Mapping[str, str],
) -> tuple[DataFrame, DataQuality]:
    """Valid rows, cached: numeric features as doubles in their units, categorical columns as
    their levels, and the model's input columns (``_input_columns``); and what was wrong with
    the others."""
    inputs = [f.name for f in schema.columns if f.name in sources]
    fields = [
        T.StructField(f.name, T.DoubleType())
        for f in schema.features
        if isinstance(f, NumericFeature)
    ]
    fields += [T.StructField(f.name, T.StringType()) for f in _categorical(schema, sources)]
    fields += [T.StructField(name, T.DoubleType()) for name in _input_columns(schema)]
    fields.append(T.StructField(_PROBLEMS, T.ArrayType(T.StringType())))
    check = pandas_udf(  # type: ignore[call-overload]
        _row_checker(inputs, schema, [f.name for f in fields]), returnType=T.StructType(fields)
    )
    id_column = _id_column(raw.columns, schema, mapping)
    checked = raw.select(
        *([_col(id_column).cast("string").alias(ID_COLUMN)] if id_column else []),
        check(*(spark_input(raw, sources[name], schema.feature(name)) for name in inputs)).alias(
            "checked"
        ),
    ).select(*([ID_COLUMN] if id_column else []), "checked.*")
    checked = checked.persist()
    rows_read = checked.count()
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
    valid = valid.select(*map(_col, kept)).persist()
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
    levels = {f.name for f in schema.columns if isinstance(f, CategoricalFeature)}
    numbers = {f.name for f in schema.features if isinstance(f, NumericFeature)}

    def check(*series: pd.Series) -> pd.DataFrame:
        table = pd.DataFrame(dict(zip(inputs, series, strict=True)))
        checked = check_columns(table, schema)
        out = pd.DataFrame(index=range(len(table)))
        for name in fields[:-1]:
            if name in levels:
                text = checked.clean[name].astype(object)
                out[name] = text.where(text.notna(), None).to_numpy()
            elif name in numbers:
                out[name] = np.asarray(checked.clean[name], dtype=np.float64)
        matrix = checked.feature_matrix()
        for i, name in enumerate(_input_columns(schema)):
            out[name] = matrix[:, i]
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
        f"({counted(total, 'problem')} in {counted(rows_read, 'row')}; --drop-invalid trains "
        "without those rows)"
    ]
    for problem in problems:
        examples = ", ".join(repr(e.value) for e in problem.examples)
        lines.append(f"  {problem.column}: {problem.count} x {problem.problem} ({examples})")
    return "\n".join(lines)


# -- steps 3 and 6: on samples, with the single-machine code --------------------------------------


def _sample(
    valid: DataFrame, schema: FeatureSchema, size: int, rows: int, seed: int
) -> pd.DataFrame:
    """A seeded sample of at most ``size`` valid rows, on the driver."""
    frame = valid if rows <= size else valid.sample(False, min(1.0, 1.1 * size / rows), seed)
    table: pd.DataFrame = frame.limit(size).toArrow().to_pandas()
    for feature in schema.columns:
        if feature.name in table.columns:
            column = table[feature.name]
            numeric = isinstance(feature, NumericFeature)
            table[feature.name] = column.astype("float64") if numeric else column.astype(object)
    for name in _input_columns(schema):
        table[name] = table[name].astype("float64")
    return table


def _model_input(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """What the pipeline reads: the features, numbers as floats and levels as text."""
    return pd.DataFrame({name: frame[name] for name in schema.names}, index=frame.index)


def _choose_k(
    scaled: np.ndarray, rows: int, options: TrainingOptions
) -> tuple[KSelection, np.ndarray]:
    """The single-machine rule on the sample, and that fit's labels of the sample at the chosen
    k (which number the split tree's chosen level; the fit itself is not used)."""
    if options.k is None:
        check_enough_data(scaled, options.k_range[0])
        selection, fitted = select_k(
            scaled, options.k_range, options.seed, options.minibatch_threshold
        )
    else:
        check_enough_data(scaled, options.k)
        selection, fitted = fixed_k(scaled, options.k, options.seed, options.minibatch_threshold)
    if selection.warning:
        logger.warning("%s", selection.warning)
    if len(scaled) < rows:
        selection = selection.model_copy(update={"sample_rows": len(scaled)})
    return selection, fitted.labels


LevelCounts = dict[str, list[dict[str, LevelShare]]]  # column -> per segment -> level


def _segment_counts(
    labelled: DataFrame, k: int, columns: Sequence[CategoricalFeature]
) -> tuple[list[int], LevelCounts]:
    """Every row's segment size, and per segment the count and share of each level of the
    categorical columns (blank attribute values count in the size, in no level): one pass."""
    counts = [F.count(F.lit(1)).alias("size")]
    for i, column in enumerate(columns):
        counts += [
            F.count(F.when(_col(column.name) == level, 1)).alias(f"l{i}_{j}")
            for j, level in enumerate(column.levels)
        ]
    rows = {row["segment"]: row for row in labelled.groupBy("segment").agg(*counts).collect()}
    sizes = [int(rows[s]["size"]) if s in rows else 0 for s in range(k)]
    levels: LevelCounts = {}
    for i, column in enumerate(columns):
        levels[column.name] = []
        for segment, size in enumerate(sizes):
            found = {
                level: int(rows[segment][f"l{i}_{j}"]) if segment in rows else 0
                for j, level in enumerate(column.levels)
            }
            levels[column.name].append(
                {
                    level: LevelShare(count=count, share=count / size if size else 0.0)
                    for level, count in found.items()
                }
            )
    return sizes, levels


def _write_bundle(
    options: TrainingOptions,
    session: SparkSession,
    schema: FeatureSchema,
    pipeline: Pipeline,
    fit: SparkFit,
    selection: KSelection,
    quality: DataQuality,
    training_data: TrainingData,
    frame: pd.DataFrame,
    sizes: list[int],
    levels: LevelCounts,
    names: NamesFile | None,
) -> Bundle:
    matrix = _model_input(frame, schema)
    scaled = (frame[_input_columns(schema)].to_numpy(dtype=float) - fit.mean) / fit.scale
    estimator = pipeline.named_steps["kmeans"]
    # Numbered after the replaced model's segments as single-machine training numbers them.
    reference = aligned_to(options)
    alignment = align(
        estimator.cluster_centers_,
        numbers_of(pipeline),
        reference,
        highest_segment_id(options.models_dir),
        options.max_distance,
        schema=schema,
    )
    reorder_estimator(estimator, alignment)
    selection = renumber_split_tree(selection, alignment)
    sizes = [sizes[label] for label in alignment.order]
    levels = {name: [counts[label] for label in alignment.order] for name, counts in levels.items()}
    centroids = estimator.cluster_centers_
    labels = np.asarray(estimator.predict(scaled))
    offsets = scaled - centroids[labels]
    profiles = build_profiles(
        frame,
        schema,
        labels,
        np.sqrt(np.einsum("ij,ij->i", offsets, offsets)),
        centroids * fit.scale + fit.mean,
        centroids,
        alignment.ids,
    )
    profiles = [_full_counts(p, row, sizes, levels, fit.rows) for row, p in enumerate(profiles)]
    profiles = inherit_words(profiles, alignment)
    if names and options.names_file:
        profiles = apply_names(profiles, names, str(options.names_file))
    stability = None
    if options.stability_samples > 0:
        stability = measure_stability(
            scaled,
            estimator,
            options.seed,
            options.stability_samples,
            options.minibatch_threshold,
            segment_ids=alignment.ids,
        )
        if stability.warning:
            logger.warning("%s", stability.warning)
    score = score_clustering(scaled, labels, selection.chosen_k, fit.inertia, options.seed)
    numeric = [f.name for f in schema.features if isinstance(f, NumericFeature)]
    summary = TrainingSummary(
        engine="spark",
        spark_version=session.version,
        algorithm="kmeans",
        features=schema.names,
        # Read by the names the source gave the columns too, as on a single machine.
        feature_schema=schema.with_source_names(options.source.columns),
        feature_stats={f: describe_distribution(matrix[f]) for f in numeric},
        feature_histograms={f: histogram(matrix[f]) for f in numeric},
        feature_levels={
            f.name: _level_totals(levels[f.name], fit.rows)
            for f in schema.features
            if isinstance(f, CategoricalFeature)
        },
        k=selection.chosen_k,
        seed=options.seed,
        training_data=training_data,
        data_quality=quality,
        k_selection=selection,
        metrics=fit_metrics(score, len(scaled)),
        stability=stability,
        segments=profiles,
        lineage=lineage(profiles, alignment),
    )
    # Compared on the profile sample: the rows this process holds.
    data = (
        "the training customers"
        if len(frame) == fit.rows
        else f"a seeded sample of {len(frame):,} training customers"
    )
    summary = with_comparison(summary, numbers_of(pipeline), reference, matrix, data)
    sample = report_sample(matrix, np.asarray(alignment.ids)[labels], options.seed)
    return save_bundle(
        options.models_dir,
        pipeline,
        summary,
        _report_files(summary, sample),
        promote=options.promote and gate_refusal(summary, options.max_moved) is None,
    )


def _level_totals(per_segment: list[dict[str, LevelShare]], rows: int) -> dict[str, float]:
    """A categorical feature's share of each level over every row (the drift reference)."""
    levels = per_segment[0] if per_segment else {}
    return {level: sum(s[level].count for s in per_segment) / rows for level in levels}


def _full_counts(
    profile: SegmentProfile, row: int, sizes: list[int], levels: LevelCounts, rows: int
) -> SegmentProfile:
    """Sizes and level shares count every row, not just the profile sample (``row``: the
    profile's centroid row, which ``sizes`` and ``levels`` follow)."""
    update: dict[str, object] = {
        "size": sizes[row],
        "share": sizes[row] / rows,
        "levels": {name: counts[row] for name, counts in levels.items()},
    }
    return profile.model_copy(update=update)


def _training_data(
    session: SparkSession, location: str, rows: int, transactions: TransactionsSummary | None
) -> TrainingData:
    """Where the rows came from; with orders, how they were made into customers."""
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
    return TrainingData(
        kind=kind, source=location, sha256=digest, rows=rows, transactions=transactions
    )
