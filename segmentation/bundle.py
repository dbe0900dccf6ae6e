"""The model bundle: its files, its metadata schema, and how it is written, selected and verified.

A bundle is a folder under the models directory named by its version. It holds the fitted
scikit-learn pipeline (``model.joblib``), ``metadata.json`` and a human-readable report. The file
``CURRENT`` in the models directory names the bundle in use; it is replaced by an atomic rename,
so a reader sees either the old version or the new one, never a half-written bundle.

Joblib files are pickles, which run code when loaded: a bundle is only unpickled after the
model file's sha256 matches its metadata and the scikit-learn that wrote it is the one running.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Final, Literal

import joblib
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

FORMAT_VERSION: Final = 1
MODEL_FILE: Final = "model.joblib"
METADATA_FILE: Final = "metadata.json"
REPORT_FILE: Final = "report.html"
# A small seeded sample of the training rows (features and segment only, no ids), kept so the
# report can be drawn again when segments are renamed without refitting.
REPORT_SAMPLE_FILE: Final = "report_sample.csv"
CURRENT_POINTER: Final = "CURRENT"
PIPELINE_SCALER_STEP: Final = "scaler"
PIPELINE_KMEANS_STEP: Final = "kmeans"

VERSION_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RECORDED_LIBRARIES: Final = ("scikit-learn", "numpy", "pandas", "joblib", "scipy")


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


class GenderShare(_Frozen):
    count: int
    share: float


class SegmentProfile(_Frozen):
    """What a segment looks like, so a marketing team can act on it without the model."""

    id: int = Field(description="Segment id, as returned by POST /segment.")
    name: str = Field(description="Human-readable name, unique within the model.")
    auto_name: str = Field(description="The name training derived from the centroid.")
    description: str | None = Field(default=None, description="What the segment is, if given.")
    action: str | None = Field(default=None, description="Suggested marketing action, if given.")
    size: int = Field(description="Number of training customers in the segment.")
    share: float = Field(description="Fraction of the training customers in the segment.")
    centroid: dict[str, float] = Field(description="Segment centre in original units.")
    features: dict[str, FeatureStats] = Field(description="Per-feature distribution.")
    distances: DistanceStats = Field(
        description="How far the segment's training customers are from its centroid."
    )
    gender_mix: dict[str, GenderShare] | None = Field(
        default=None, description="Gender counts and shares, when the data had a gender column."
    )


class Histogram(_Frozen):
    """A feature's training distribution on fixed bins, the reference for drift monitoring.

    ``edges`` are the interior bin edges in ascending order: bin 0 is ``(-inf, edges[0]]``, bin
    i is ``(edges[i-1], edges[i]]`` and the last bin is ``(edges[-1], inf)``.
    """

    edges: list[float]
    shares: list[float] = Field(description="Fraction of training customers per bin.")


class TrainingData(_Frozen):
    kind: Literal["csv", "parquet", "sql"]
    source: str = Field(description="File path, or the database URL (no password) and table/query.")
    sha256: str = Field(
        description="sha256 of the file; for a database, of the rows read, in order."
    )
    rows: int = Field(description="Rows used for training, after any dropped as invalid.")


class ProblemExample(_Frozen):
    row: int = Field(description="1-based data row (the header is not counted).")
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


class TrainingSummary(_Frozen):
    """Everything training decides about a model; the bundle adds its own bookkeeping."""

    algorithm: Literal["kmeans", "minibatch_kmeans"]
    features: list[str]
    feature_stats: dict[str, FeatureStats]
    feature_histograms: dict[str, Histogram] = Field(
        description="Training distribution of each feature on decile bins (for drift)."
    )
    k: int
    seed: int
    training_data: TrainingData
    data_quality: DataQuality
    k_selection: KSelection
    metrics: FitMetrics
    stability: Stability | None
    segments: list[SegmentProfile]


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


@dataclass(frozen=True)
class Bundle:
    """A verified bundle, ready to score with."""

    path: Path
    metadata: BundleMetadata
    pipeline: Pipeline

    @property
    def scaler(self) -> StandardScaler:
        step = self.pipeline.named_steps[PIPELINE_SCALER_STEP]
        assert isinstance(step, StandardScaler)
        return step

    @property
    def kmeans(self) -> KMeans | MiniBatchKMeans:
        step = self.pipeline.named_steps[PIPELINE_KMEANS_STEP]
        assert isinstance(step, KMeans | MiniBatchKMeans)
        return step


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _RECORDED_LIBRARIES:
        versions[name] = importlib_metadata.version(name)
    return versions


def validate_version_name(version: str) -> str:
    """Refuse names that could escape the models directory or are not bundle names at all."""
    if not VERSION_PATTERN.fullmatch(version):
        raise BundleError(
            f"invalid model version {version!r}: use letters, digits, '.', '_' and '-' only"
        )
    return version


def save_bundle(
    models_dir: Path,
    model: Pipeline | Bundle,
    summary: TrainingSummary,
    files: Mapping[str, str | bytes],
    *,
    promote: bool = True,
    now: datetime | None = None,
    derived_from: str | None = None,
) -> Bundle:
    """Write a new bundle and, unless told otherwise, make it the current one.

    ``model`` is a fitted pipeline, or an existing bundle whose model file is reused as it is;
    ``files`` are the other files of the bundle (the report and its sample). Everything is
    written into a hidden staging folder and renamed into place only when complete, so neither
    a crash nor a failure here can leave a partial bundle behind.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    created_at = (now or datetime.now(UTC)).replace(microsecond=0)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models_dir))
    try:
        model_path = staging / MODEL_FILE
        if isinstance(model, Bundle):
            shutil.copyfile(model.path / model.metadata.model_file, model_path)
        else:
            joblib.dump(model, model_path)
        model_sha256 = sha256_of(model_path)
        version = _free_version_name(models_dir, f"{created_at:%Y%m%dT%H%M%SZ}-{model_sha256[:8]}")
        metadata = BundleMetadata(
            # Only the summary's own fields: a full BundleMetadata passed in is re-stamped.
            **summary.model_dump(include=set(TrainingSummary.model_fields)),
            format_version=FORMAT_VERSION,
            version=version,
            created_at=created_at,
            model_file=MODEL_FILE,
            model_sha256=model_sha256,
            libraries=library_versions(),
            derived_from=derived_from,
        )
        _write_file(staging / METADATA_FILE, metadata.model_dump_json(indent=2) + "\n")
        for name, content in files.items():
            _write_file(staging / name, content)
        _fsync_file(model_path)
        final = models_dir / version
        staging.rename(final)
        _fsync_dir(models_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if promote:
        promote_version(models_dir, version)
    pipeline = model.pipeline if isinstance(model, Bundle) else model
    return Bundle(path=final, metadata=metadata, pipeline=pipeline)


def promote_version(models_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at an existing bundle, atomically."""
    validate_version_name(version)
    if not (models_dir / version / METADATA_FILE).is_file():
        raise BundleError(f"no bundle {version!r} in {models_dir}")
    handle, temp_name = tempfile.mkstemp(prefix=".current-", dir=models_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as pointer:
            pointer.write(version + "\n")
            pointer.flush()
            os.fsync(pointer.fileno())
        os.replace(temp_name, models_dir / CURRENT_POINTER)
        _fsync_dir(models_dir)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def current_version(models_dir: Path) -> str:
    pointer = models_dir / CURRENT_POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
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
    try:
        metadata = BundleMetadata.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BundleError(f"{path} is not valid bundle metadata: {where}: {first['msg']}") from None
    if metadata.format_version != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {metadata.format_version} is not supported "
            f"(this program reads format {FORMAT_VERSION})"
        )
    return metadata


def load_bundle(models_dir: Path, version: str | None = None) -> Bundle:
    """Load and verify a bundle: the pinned version if given, else the current one."""
    chosen = validate_version_name(version) if version else current_version(models_dir)
    bundle_dir = models_dir / chosen
    metadata = read_metadata(bundle_dir)
    model_path = bundle_dir / metadata.model_file
    if Path(metadata.model_file).name != metadata.model_file:
        raise BundleError(f"{bundle_dir / METADATA_FILE}: model_file must be a plain file name")
    try:
        actual_sha256 = sha256_of(model_path)
    except OSError as exc:
        raise BundleError(f"cannot read {model_path}: {exc.strerror}") from None
    if actual_sha256 != metadata.model_sha256:
        raise BundleError(
            f"{model_path} does not match its metadata (sha256 {actual_sha256[:12]}..., "
            f"expected {metadata.model_sha256[:12]}...): refusing to load it"
        )
    trained_with = metadata.libraries.get("scikit-learn")
    running = importlib_metadata.version("scikit-learn")
    if trained_with != running:
        raise BundleError(
            f"bundle {chosen!r} was trained with scikit-learn {trained_with} but "
            f"{running} is running: retrain it or run the matching version"
        )
    try:
        pipeline = joblib.load(model_path)
    except Exception as exc:
        raise BundleError(f"cannot unpickle {model_path}: {exc}") from None
    _check_pipeline(pipeline, metadata, model_path)
    return Bundle(path=bundle_dir, metadata=metadata, pipeline=pipeline)


def _check_pipeline(pipeline: object, metadata: BundleMetadata, model_path: Path) -> None:
    if not isinstance(pipeline, Pipeline):
        raise BundleError(f"{model_path} holds a {type(pipeline).__name__}, not a Pipeline")
    steps = pipeline.named_steps
    scaler = steps.get(PIPELINE_SCALER_STEP)
    kmeans = steps.get(PIPELINE_KMEANS_STEP)
    if not isinstance(scaler, StandardScaler) or not isinstance(kmeans, KMeans | MiniBatchKMeans):
        raise BundleError(f"{model_path} is not a StandardScaler + KMeans pipeline")
    if list(getattr(scaler, "feature_names_in_", [])) != metadata.features:
        raise BundleError(f"{model_path} was fitted on other features than {metadata.features}")
    if kmeans.cluster_centers_.shape[0] != metadata.k or len(metadata.segments) != metadata.k:
        raise BundleError(f"{model_path}: the number of segments does not match k={metadata.k}")


def _free_version_name(models_dir: Path, base: str) -> str:
    candidate, suffix = base, 1
    while (models_dir / candidate).exists():
        candidate = f"{base}-{suffix}"
        suffix += 1
    return candidate


def _write_file(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
