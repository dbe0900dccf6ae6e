"""What a model bundle is, without loading one: its file names, version names and metadata schema.

A bundle is a folder under the models directory named by its version. It holds the fitted
scikit-learn pipeline (``model.joblib``), ``metadata.json`` and a human-readable report. The file
``CURRENT`` in the models directory names the bundle in use.

Since format 2 the metadata also carries the pipeline's numbers (the scaler's mean and scale and
the centroids, ``scorer``), checked against the pipeline when the bundle is written and whenever
it is unpickled. The service scores with those numbers and never unpickles the model, so a
serving worker needs neither scikit-learn nor SciPy in memory.

This module needs only pydantic, so a health probe, the service's settings and metadata routes,
and any tool that only reads metadata never import the ML stack; ``segmentation.bundle`` adds
writing, verifying and unpickling.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segmentation.schema import MALL_PRESET, CategoricalFeature, FeatureSchema, preset

# Format 3 adds the feature schema (any columns, categorical ones one-hot encoded); formats 1 and
# 2 are still read, their schema being the classic study's preset with gender as one 0/1 column.
# Format 4 adds lineage: segment ids follow the replaced model's, so they need not be 0 to k - 1
# (centroid rows are in ascending id order); a reader that assumed they were would mislabel.
FORMAT_VERSION: Final = 4
# Format 1 bundles (no ``scorer``) are still read: their numbers come from unpickling the model.
READABLE_FORMATS: Final = (1, 2, 3, 4)
MODEL_FILE: Final = "model.joblib"
METADATA_FILE: Final = "metadata.json"
REPORT_FILE: Final = "report.html"
# A small seeded sample of the training rows (features and segment only, no ids), kept so the
# report can be drawn again when segments are renamed without refitting.
REPORT_SAMPLE_FILE: Final = "report_sample.csv"
SEGMENT_SAMPLE_COLUMN: Final = "segment"
CURRENT_POINTER: Final = "CURRENT"
PIPELINE_SCALER_STEP: Final = "scaler"
PIPELINE_KMEANS_STEP: Final = "kmeans"

# Where bundles live unless told otherwise; the service and every command line read the same
# environment variable, so one setting points them all at the same folder.
DEFAULT_MODELS_DIR: Final = Path("models")
MODELS_DIR_ENV: Final = "SEGMENT_MODELS_DIR"
# The key a client sends (segment-promote --reload); the service reads its own, SEGMENT_API_KEYS.
API_KEY_ENV: Final = "SEGMENT_API_KEY"
MODELS_DIR_HELP: Final = (
    f"folder of the model bundles (default: ${MODELS_DIR_ENV}, else {DEFAULT_MODELS_DIR})"
)

VERSION_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class BundleError(Exception):
    """A bundle is missing, unreadable, tampered with or incompatible with this process."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureStats(_Frozen):
    """Distribution of one feature, in its original units."""

    mean: float
    std: float
    min: float
    q25: float
    median: float
    q75: float
    max: float


class DistanceStats(_Frozen):
    """Distances of a segment's training customers to its centroid, in scaled units."""

    p50: float
    p90: float
    p99: float = Field(description="A customer farther than this is flagged atypical.")
    max: float


class LevelShare(_Frozen):
    count: int
    share: float


# The name older bundles and clients know it by.
GenderShare = LevelShare


class SegmentProfile(_Frozen):
    """What a segment looks like, so a marketing team can act on it without the model."""

    id: int = Field(description="Segment id, as returned by POST /segment.")
    name: str = Field(description="Human-readable name, unique within the model.")
    auto_name: str = Field(description="The name training derived from the centroid.")
    description: str | None = Field(default=None, description="What the segment is, if given.")
    action: str | None = Field(default=None, description="Suggested marketing action, if given.")
    size: int = Field(description="Number of training customers in the segment.")
    share: float = Field(description="Fraction of the training customers in the segment.")
    centroid: dict[str, float] = Field(
        description="Segment centre in original units; for a categorical feature, one entry "
        "per level (``gender=Female``): the centre's indicator value, about the level's share."
    )
    features: dict[str, FeatureStats] = Field(description="Per numeric feature: distribution.")
    levels: dict[str, dict[str, LevelShare]] = Field(
        default_factory=dict,
        description="Per categorical column (features and attributes): count and share of each "
        "level among the segment's customers.",
    )
    distances: DistanceStats = Field(
        description="How far the segment's training customers are from its centroid."
    )
    gender_mix: dict[str, LevelShare] | None = Field(
        default=None,
        description="Bundles before format 3 only: gender counts and shares (now in ``levels``).",
    )

    def centroid_shift_from(self, old: SegmentProfile) -> dict[str, float]:
        """This centre minus ``old``'s, per column both have, in original units."""
        return {
            column: value - old.centroid[column]
            for column, value in self.centroid.items()
            if column in old.centroid
        }


class Histogram(_Frozen):
    """A feature's training distribution on fixed bins, the reference for drift monitoring.

    ``edges`` are the interior bin edges in ascending order: bin 0 is ``(-inf, edges[0]]``, bin
    i is ``(edges[i-1], edges[i]]`` and the last bin is ``(edges[-1], inf)``.
    """

    edges: list[float]
    shares: list[float] = Field(description="Fraction of training customers per bin.")


class TrainingData(_Frozen):
    kind: Literal["csv", "parquet", "sql", "table"] = Field(
        description="'table': a Spark catalog table."
    )
    source: str = Field(
        description="File path, or the database URL (no password) and table/query, or the "
        "Spark path or table."
    )
    sha256: str = Field(
        description="sha256 of the file; for a database, of the rows read, in order; for a "
        "Spark directory or table, of the row count and the order-independent sum of the rows' "
        "xxhash64."
    )
    rows: int = Field(description="Rows used for training, after any dropped as invalid.")
    transactions: TransactionsSummary | None = Field(
        default=None,
        description="With --transactions: the rows are customers aggregated from these orders.",
    )


class TransactionsSummary(_Frozen):
    """How customers' RFM features were computed from orders (``segmentation.rfm``); scoring
    orders for this model follows the same rule."""

    as_of: date = Field(description="Recency and tenure are counted up to this day.")
    as_of_rule: Literal["day_after_last_order", "given"] = Field(
        description="'day_after_last_order': the day after the last date in the orders (scoring "
        "applies the same rule to its own orders); 'given': --as-of."
    )
    orders: int = Field(description="Orders read (amount 0 or more).")
    returns: int = Field(description="Returns read (amount below 0): they lower monetary value.")
    customers_with_orders: int = Field(description="Customers with at least one order.")
    customers_without_orders: int = Field(
        description="Customers with returns only, left out (no order to place them by)."
    )


class ProblemExample(_Frozen):
    row: int | None = Field(
        description="1-based data row (the header is not counted); null on Spark, whose rows "
        "have no order."
    )
    value: str


class DataProblem(_Frozen):
    column: str
    problem: str
    count: int
    examples: list[ProblemExample]


class DataQuality(_Frozen):
    rows_read: int
    rows_used: int
    rows_dropped: int
    policy: Literal["fail", "drop_invalid"]
    problems: list[DataProblem]


class KScore(_Frozen):
    k: int
    inertia: float
    silhouette: float | None
    calinski_harabasz: float | None
    davies_bouldin: float | None
    knee_distance: float | None = Field(
        description="Distance of the normalised inertia curve from its chord; largest at the knee."
    )


class StructureTest(_Frozen):
    """Evidence on whether the customers form segments at all, or one cloud (``--k auto``)."""

    sample_rows: int = Field(description="Rows of the seeded sample the tests ran on.")
    gap_one: float = Field(description="Gap statistic at k = 1.")
    gap_two: float = Field(description="Gap statistic at k = 2.")
    gap_two_error: float = Field(description="Standard error s(2) of the gap at k = 2.")
    gap_says_one: bool = Field(description="The 1-SE rule stops at k = 1: Gap(1) >= Gap(2) - s(2).")
    bic_says_one: bool | None = Field(
        default=None,
        description="One Gaussian has a lower BIC than any mixture in the range; null when not "
        "needed (the gap statistic found structure).",
    )
    best_prediction_strength: float | None = Field(
        default=None, description="Highest prediction strength of any k in the range, if tested."
    )
    best_prediction_strength_k: int | None = None
    gap_k: int | None = Field(
        default=None,
        description="The gap statistic's k by its 1-SE rule over k = 1 to the top of the range; "
        "null in bundles from before it voted.",
    )
    silhouette: float | None = Field(
        default=None,
        description="Best silhouette over the range on a seeded sample of at most 1,000 rows, "
        "if tested (only when the gap statistic sees one cloud and BIC does not).",
    )
    reference_silhouette: float | None = Field(
        default=None,
        description="Best silhouette on any of ten uniform reference sets drawn from the same "
        "sample as the gap statistic draws its own, fitted alike, if tested.",
    )


class SegmentFlow(_Frozen):
    """Customers of one segment at a k who are in one segment at another k."""

    source: int = Field(description="Segment id at the lower k.")
    target: int = Field(description="Segment id at the higher k.")
    customers: int
    share: float = Field(description="Of the source segment's customers, the share in target.")


class KLevel(_Frozen):
    """One k of the split tree: its segments' sizes and where their customers go at k + 1."""

    k: int
    sizes: list[int] = Field(description="Customers of each segment id at this k.")
    flows: list[SegmentFlow] = Field(
        description="Every non-empty segment pair between this k and the next; empty at the top."
    )
    split_valley: float | None = Field(
        default=None,
        description="Split test between this k and the next: the deepest density valley between "
        "two segments at k + 1 that divide one at k (1.0: no clean split); null at the top.",
    )
    split_distinct: bool | None = Field(
        default=None,
        description="Split test between this k and the next: whether K-Means at k + 1 divides a "
        "segment at k into two distinct ones (a density valley where two Gaussians fit better "
        "than one, or two Gaussians along the line between them by the BIC gain of "
        "training.split_test; bundles of issue 24's fourth round counted any valley); "
        "null at the top and in bundles from before this test.",
    )


class SplitTree(_Frozen):
    """How segments split from each k to the next over the range (a clustree), auto k only.

    Segments at the chosen k are numbered by the bundle's centroid rows (ascending segment id:
    the ids themselves unless a retrained model retired one); at other k by that fit's own.
    """

    rows: int = Field(description="Customers the tree counts: every training row, or the sample.")
    levels: list[KLevel]
    runner_up: int | None = Field(
        default=None, description="The k with the strongest evidence after the chosen one."
    )
    runner_up_flows: list[SegmentFlow] = Field(
        default_factory=list,
        description="From the lower to the higher of the chosen and runner-up k, directly.",
    )


class KSelection(_Frozen):
    mode: Literal["auto", "fixed"]
    k_range: tuple[int, int] | None
    sample_rows: int | None = Field(
        default=None,
        description="Rows of the seeded sample each k was evaluated on; null when all rows were.",
    )
    rule: str
    knee_k: int | None
    chosen_k: int
    table: list[KScore]
    votes: dict[str, int] | None = Field(
        default=None,
        description="The best k by each criterion the rule combines (auto k only).",
    )
    structure: Literal["segments", "none"] | None = Field(
        default=None,
        description="'none' when no k showed segment structure: the chosen k is then an "
        "arbitrary cut of one cloud, not a finding. Null for a fixed k, for too few rows to "
        "test, and for bundles from before the structure test.",
    )
    structure_test: StructureTest | None = None
    warning: str | None = Field(
        default=None, description="Why the chosen k should not be taken as a finding, if so."
    )
    voted_k: int | None = Field(
        default=None,
        description="The k the criteria's vote gave, before the split test added segments that "
        "stand apart or took back one that is a segment cut in two; null for a fixed k and "
        "bundles from before the split test.",
    )
    split_tree: SplitTree | None = None


class SegmentStability(_Frozen):
    id: int
    mean_ari: float


class Stability(_Frozen):
    samples: int
    sample_rows: int = Field(description="Rows per bootstrap sample and in the evaluation set.")
    mean_ari: float = Field(description="Mean adjusted Rand index of refits against the model.")
    segments: list[SegmentStability] = Field(
        description="Per segment: mean ARI of its membership against the refit's matching segment."
    )
    threshold: float
    segment_threshold: float
    warning: str | None


class FitMetrics(_Frozen):
    inertia: float = Field(description="Sum of squared distances to the centroids, scaled units.")
    silhouette: float | None = Field(
        description="Mean silhouette coefficient, scaled units; null where it is undefined "
        "(every segment a single customer)."
    )
    silhouette_sample_size: int | None = Field(
        default=None, description="Rows sampled for the silhouette; null when all rows were used."
    )


class SegmentLineage(_Frozen):
    """Where one segment of this model comes from in the model it was aligned to."""

    id: int = Field(description="The segment's id in this model.")
    matched_id: int | None = Field(
        description="The aligned-to model's segment this one continues (so the same id); null "
        "for a new segment."
    )
    distance: float | None = Field(
        default=None,
        description="Distance between the two centres in this model's scaled units (standard "
        "deviations); null for a new segment.",
    )
    centroid_shift: dict[str, float] = Field(
        default_factory=dict,
        description="This centre minus the matched one, in original units (a categorical "
        "level: the change of its share of the centre); empty for a new segment.",
    )


class Lineage(_Frozen):
    """How this model's segment ids follow those of the model it replaces
    (``training.align``)."""

    aligned_to: str | None = Field(
        description="The version whose segments this model's were matched against; null when "
        "there was none, or with --no-align."
    )
    max_distance: float = Field(
        description="A segment whose nearest counterpart (by minimum-cost matching) is farther "
        "than this, in scaled units, is a new segment."
    )
    segments: list[SegmentLineage]
    new: list[int] = Field(description="Ids of segments with no counterpart: never used before.")
    retired: list[int] = Field(
        description="Segments of the aligned-to version that no segment here continues."
    )
    highest_id: int = Field(
        description="The highest segment id any version in the models folder had used when "
        "this one was trained; a new segment is numbered above it."
    )
    note: str | None = Field(
        default=None, description="Why the segments could not be aligned, if so."
    )


class Transition(_Frozen):
    """Customers in one segment of the old model and in one of the new."""

    source: int = Field(description="Segment id in the old model.")
    target: int = Field(description="Segment id in the new model.")
    customers: int


class SegmentChange(_Frozen):
    """One segment id, as the two models see it."""

    id: int
    status: Literal["kept", "new", "retired"] = Field(
        description="'kept': in both models; 'new': only in the new one; 'retired': only in "
        "the old one."
    )
    old_name: str | None = Field(default=None, description="Its name in the old model.")
    new_name: str | None = Field(default=None, description="Its name in the new model.")
    old_customers: int = Field(description="Customers the old model puts in this segment.")
    new_customers: int = Field(description="Customers the new model puts in this segment.")
    stayed: int = Field(description="Customers in this segment in both models.")
    centroid_shift: dict[str, float] = Field(
        default_factory=dict,
        description="New centre minus old centre, in original units ('kept' segments only).",
    )


class RefusedValues(_Frozen):
    """Rows that one model of a comparison refuses for one problem in one column: why they are
    left out of it."""

    model: Literal["old", "new"] = Field(
        description="'old': the model compared against (in a bundle's own comparison, the one "
        "it was aligned to); 'new': the model replacing it."
    )
    column: str = Field(description="The column, by the refusing model's name for it.")
    problem: str = Field(
        description="As validation words it: 'outside the valid range 0 to 590', "
        "\"not 'online' or 'store'\", 'missing value', 'not a number'."
    )
    customers: int = Field(description="Rows with this problem (a row may have several).")


class Comparison(_Frozen):
    """What changes for customers when one model replaces another (``segmentation.comparison``)."""

    old_version: str
    new_version: str | None = Field(
        description="Null in a bundle's own metadata: the new model is the bundle itself."
    )
    data: str = Field(description="The customers compared: a file, a table, or training rows.")
    customers: int = Field(description="Customers both models could score.")
    left_out: int = Field(
        default=0,
        description="Rows left out because one of the models refuses them (a value outside "
        "its ranges or levels): neither kept nor moved, and not in the matrix or the segments' "
        "counts. The promotion gate (--max-moved) counts them as not keeping their segment.",
    )
    left_out_by_old: int | None = Field(
        default=None,
        description="Of left_out, the rows the old model refuses; null in comparisons from "
        "before 2026-12-07.",
    )
    left_out_by_new: int | None = Field(
        default=None,
        description="Of left_out, the rows the new model refuses (a row both refuse counts in "
        "both); null in comparisons from before 2026-12-07.",
    )
    refused: list[RefusedValues] = Field(
        default_factory=list,
        description="Why rows were left out: per model, column and problem, the rows refused, "
        "most first; empty when none were, and in comparisons from before 2026-12-07.",
    )
    kept: int = Field(description="Customers whose segment id is the same in both models.")
    kept_share: float = Field(
        description="kept / customers: the share of the customers both models could score, "
        "not of the rows left out; 0 when no customer could be compared."
    )
    moved: int
    moved_share: float = Field(
        description="moved / customers; 0 when no customer could be compared."
    )
    transitions: list[Transition] = Field(
        description="The transition matrix: every non-empty (old, new) pair, in id order."
    )
    segments: list[SegmentChange]

    @model_validator(mode="before")
    @classmethod
    def _no_share_of_no_customers(cls, data: Any) -> Any:
        # Comparisons written before 2026-12-07 gave kept_share 1.0 when no customer could be
        # compared: read as 0, so nothing shows 100% kept on no evidence.
        if isinstance(data, dict) and data.get("customers") == 0:
            data = {**data, "kept_share": 0.0, "moved_share": 0.0}
        return data


class TrainingSummary(_Frozen):
    """Everything training decides about a model; the bundle adds its own bookkeeping."""

    engine: Literal["scikit-learn", "spark"] = Field(
        default="scikit-learn",
        description="What fitted the model. 'spark': Spark MLlib's StandardScaler and KMeans, "
        "their results set on the same scikit-learn pipeline.",
    )
    spark_version: str | None = Field(default=None, description="With engine 'spark'.")
    algorithm: Literal["kmeans", "minibatch_kmeans"]
    features: list[str]
    feature_schema: FeatureSchema = Field(
        description="The columns the model reads: kinds, valid ranges and levels, units, "
        "transforms (bundles before format 3: the classic study's preset)."
    )
    feature_stats: dict[str, FeatureStats] = Field(
        description="Distribution of each numeric feature, in original units."
    )
    feature_histograms: dict[str, Histogram] = Field(
        description="Training distribution of each numeric feature on decile bins (for drift)."
    )
    feature_levels: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Training share of each level of each categorical feature (for drift).",
    )
    k: int
    seed: int
    training_data: TrainingData
    data_quality: DataQuality
    k_selection: KSelection
    metrics: FitMetrics
    stability: Stability | None
    segments: list[SegmentProfile]
    lineage: Lineage | None = Field(
        default=None,
        description="How the segment ids follow the replaced model's; null in bundles from "
        "before alignment.",
    )
    comparison: Comparison | None = Field(
        default=None,
        description="The training customers as the aligned-to model and this one segment them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _schema_of_older_bundles(cls, data: Any) -> Any:
        if isinstance(data, dict) and "feature_schema" not in data and "features" in data:
            data = {**data, "feature_schema": legacy_schema(data["features"])}
        return data

    @model_validator(mode="after")
    def _features_match_schema(self) -> TrainingSummary:
        if self.features != self.feature_schema.names:
            raise ValueError(
                f"features {self.features} are not the schema's {self.feature_schema.names}"
            )
        ids = [segment.id for segment in self.segments]
        if len(set(ids)) != len(ids) or any(i < 0 for i in ids):
            raise ValueError(f"segment ids {ids} must be distinct and not negative")
        return self

    @property
    def segment_ids(self) -> list[int]:
        """The segment of each centroid row: centroids are stored in ascending id order, so
        ids are the rows 0 to k - 1 until a retrained model retires one and numbers a new one
        above every id used before (``training.align``)."""
        return sorted(segment.id for segment in self.segments)


def legacy_schema(features: Any) -> FeatureSchema:
    """The schema of a bundle from before format 3: the classic preset's columns, with gender
    (when a feature) as one 0/1 column, 1 for Female, as those bundles were fitted."""
    catalogue = preset(MALL_PRESET)
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise ValueError("features must be a list of names")
    schema = catalogue.select(features)
    return schema.replace(
        features=tuple(
            f.model_copy(update={"encoding": "first_level"})
            if isinstance(f, CategoricalFeature)
            else f
            for f in schema.features
        )
    )


class ScorerNumbers(_Frozen):
    """What ``Pipeline.predict`` computes with, as plain numbers (scaled units for centroids)."""

    features: list[str] = Field(
        description="The model's input columns, in order: numeric features by name, a "
        "categorical feature's levels as ``name=level``."
    )
    mean: list[float] = Field(description="StandardScaler mean_, per feature.")
    scale: list[float] = Field(description="StandardScaler scale_, per feature.")
    centroids: list[list[float]] = Field(description="KMeans cluster_centers_, one row a segment.")


class BundleMetadata(TrainingSummary):
    """The contents of ``metadata.json``."""

    format_version: int
    version: str
    created_at: datetime
    model_file: str
    model_sha256: str
    libraries: dict[str, str]
    derived_from: str | None = Field(
        default=None, description="The version this bundle was made from without refitting."
    )
    scorer: ScorerNumbers | None = Field(
        default=None,
        description="The model's numbers, equal to the pickled pipeline's (format 2; absent in "
        "format 1 bundles).",
    )


def describe_ids(ids: list[int]) -> str:
    """Segment ids for a message, runs shortened: ``0 to 3, 6``."""
    runs: list[list[int]] = []
    for segment in sorted(ids):
        if runs and segment == runs[-1][-1] + 1:
            runs[-1].append(segment)
        else:
            runs.append([segment])
    return ", ".join(
        f"{run[0]} to {run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs
    )


def default_models_dir() -> Path:
    """``$SEGMENT_MODELS_DIR``, or ``models`` in the working directory."""
    return Path(os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR)


def validate_version_name(version: str) -> str:
    """Refuse names that could escape the models directory or are not bundle names at all."""
    if not VERSION_PATTERN.fullmatch(version):
        raise BundleError(
            f"invalid model version {version!r}: use letters, digits, '.', '_' and '-' only"
        )
    return version


def current_version(models_dir: Path) -> str:
    pointer = models_dir / CURRENT_POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if not models_dir.is_dir():
            raise BundleError(
                f"no current model: the models folder {models_dir} does not exist (check "
                f"{MODELS_DIR_ENV}, or train a model into it with segment-train)"
            ) from None
        raise BundleError(
            f"no current model: {pointer} does not exist (train one with segment-train)"
        ) from None
    except OSError as exc:
        raise BundleError(f"cannot read {pointer}: {exc.strerror}") from None
    return validate_version_name(text)


def list_versions(models_dir: Path) -> list[str]:
    """Names of the complete bundles in the models directory, oldest first."""
    if not models_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in models_dir.iterdir()
        if VERSION_PATTERN.fullmatch(entry.name) and (entry / METADATA_FILE).is_file()
    )


def read_metadata(bundle_dir: Path) -> BundleMetadata:
    path = bundle_dir / METADATA_FILE
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"bundle {bundle_dir.name!r} not found: {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from None
    # The version first: a newer format's new fields would otherwise fail the schema below with
    # a message about a field instead of the reason.
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version not in READABLE_FORMATS:
        raise _unsupported(path, version)
    try:
        metadata = BundleMetadata.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BundleError(f"{path} is not valid bundle metadata: {where}: {first['msg']}") from None
    if metadata.format_version not in READABLE_FORMATS:
        raise _unsupported(path, metadata.format_version)
    if metadata.format_version >= 2 and metadata.scorer is None:
        raise BundleError(f"{path}: a format {metadata.format_version} bundle needs 'scorer'")
    if metadata.scorer is not None:
        _check_numbers(metadata.scorer, metadata, path)
    return metadata


def _unsupported(path: Path, version: int) -> BundleError:
    readable = ", ".join(map(str, READABLE_FORMATS))
    return BundleError(
        f"{path}: bundle format {version} is not supported (this program reads formats {readable})"
    )


def _check_numbers(numbers: ScorerNumbers, metadata: BundleMetadata, path: Path) -> None:
    """The numbers must fit the rest of the metadata, or the service would score nonsense."""
    columns = metadata.feature_schema.encoded_columns()
    width = len(columns)
    if numbers.features != columns:
        raise BundleError(f"{path}: scorer.features {numbers.features} != the schema's {columns}")
    if len(numbers.mean) != width or len(numbers.scale) != width:
        raise BundleError(f"{path}: scorer.mean and scorer.scale need {width} values each")
    if len(numbers.centroids) != metadata.k or any(len(c) != width for c in numbers.centroids):
        raise BundleError(f"{path}: scorer.centroids must be {metadata.k} rows of {width}")
    values = [*numbers.mean, *numbers.scale, *(v for row in numbers.centroids for v in row)]
    if not all(math.isfinite(v) for v in values) or not all(v > 0 for v in numbers.scale):
        raise BundleError(f"{path}: scorer numbers must be finite, and scale positive")
