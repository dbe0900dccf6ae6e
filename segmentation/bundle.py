"""Writing, selecting and verifying model bundles; their layout is in ``segmentation.metadata``.

``CURRENT`` is replaced by an atomic rename, so a reader sees either the old version or the new
one, never a half-written bundle.

Joblib files are pickles, which run code when loaded: a bundle is only unpickled after the
model file's sha256 matches its metadata and the scikit-learn that wrote it is the one running.
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Final

import joblib
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from segmentation.checksums import sha256_of
from segmentation.fresh_paths import fresh_dir, fresh_file
from segmentation.metadata import (
    CURRENT_POINTER,
    FORMAT_VERSION,
    METADATA_FILE,
    MODEL_FILE,
    PIPELINE_KMEANS_STEP,
    PIPELINE_SCALER_STEP,
    BundleError,
    BundleMetadata,
    ScorerNumbers,
    TrainingSummary,
    current_version,
    read_metadata,
    validate_version_name,
)
from segmentation.schema import LEVEL_SEPARATOR
from segmentation.served_bundle import bundle_dir_of, verified_model_path

_RECORDED_LIBRARIES: Final = ("scikit-learn", "numpy", "pandas", "joblib", "scipy")


@dataclass(frozen=True)
class Bundle:
    """A verified bundle, ready to score with."""

    path: Path
    metadata: BundleMetadata
    pipeline: Pipeline

    @property
    def scaler(self) -> StandardScaler | ColumnTransformer:
        """The scaler step: a StandardScaler for plain numbers, else a ColumnTransformer."""
        step = self.pipeline.named_steps[PIPELINE_SCALER_STEP]
        assert isinstance(step, StandardScaler | ColumnTransformer)
        return step

    @property
    def kmeans(self) -> KMeans | MiniBatchKMeans:
        step = self.pipeline.named_steps[PIPELINE_KMEANS_STEP]
        assert isinstance(step, KMeans | MiniBatchKMeans)
        return step

    @property
    def numbers(self) -> ScorerNumbers:
        return self.metadata.scorer or numbers_of(self.pipeline)


def numbers_of(pipeline: Pipeline) -> ScorerNumbers:
    """The numbers ``Pipeline.predict`` computes with; JSON floats keep them bit for bit.

    A ``ColumnTransformer`` scaler is read transformer by transformer: a number's scaler gives
    its mean and scale, and a one-hot encoder one column per level with mean 0 and scale 1, so
    that ``(x - mean) / scale`` is what the pipeline feeds K-Means.
    """
    scaler = pipeline.named_steps[PIPELINE_SCALER_STEP]
    kmeans = pipeline.named_steps[PIPELINE_KMEANS_STEP]
    if isinstance(scaler, StandardScaler):
        names = [str(name) for name in scaler.feature_names_in_]
        mean, scale = scaler.mean_.tolist(), scaler.scale_.tolist()
    else:
        names, mean, scale = [], [], []
        for step_name, transformer, columns in scaler.transformers_:
            if step_name == "remainder":
                continue
            if isinstance(transformer, OneHotEncoder):
                levels = [str(level) for level in transformer.categories_[0]]
                names += [f"{columns[0]}{LEVEL_SEPARATOR}{level}" for level in levels]
                mean += [0.0] * len(levels)
                scale += [1.0] * len(levels)
                continue
            standard = transformer[-1] if isinstance(transformer, Pipeline) else transformer
            names.append(str(columns[0]))
            mean.append(float(standard.mean_[0]))
            scale.append(float(standard.scale_[0]))
    return ScorerNumbers(
        features=names, mean=mean, scale=scale, centroids=kmeans.cluster_centers_.tolist()
    )


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _RECORDED_LIBRARIES:
        versions[name] = importlib_metadata.version(name)
    return versions


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
    staging = fresh_dir(models_dir, ".staging-")
    try:
        model_path = staging / MODEL_FILE
        if isinstance(model, Bundle):
            shutil.copyfile(model.path / model.metadata.model_file, model_path)
        else:
            joblib.dump(model, model_path)
        model_sha256 = sha256_of(model_path)
        pipeline = model.pipeline if isinstance(model, Bundle) else model
        numbers = numbers_of(pipeline)
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
            scorer=numbers,
        )
        _write_file(staging / METADATA_FILE, metadata.model_dump_json(indent=2) + "\n")
        # What the service will score with must be what the pipeline predicts with.
        _check_numbers_match(numbers, read_metadata(staging), staging / METADATA_FILE)
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
        try:
            promote_version(models_dir, version)
        except BaseException:
            _remove_unless_current(models_dir, final)
            raise
    return Bundle(path=final, metadata=metadata, pipeline=pipeline)


def promote_version(models_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at an existing bundle, atomically."""
    validate_version_name(version)
    if not (models_dir / version / METADATA_FILE).is_file():
        raise BundleError(f"no bundle {version!r} in {models_dir}")
    handle, temp_name = fresh_file(models_dir, ".current-")
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


def load_bundle(models_dir: Path, version: str | None = None) -> Bundle:
    """Load, verify and unpickle a bundle: the pinned version if given, else the current one.

    Scoring alone needs no pickle: see ``segmentation.served_bundle``.
    """
    bundle_dir = bundle_dir_of(models_dir, version)
    metadata = read_metadata(bundle_dir)
    model_path = verified_model_path(bundle_dir, metadata)
    trained_with = metadata.libraries.get("scikit-learn")
    running = importlib_metadata.version("scikit-learn")
    if trained_with != running:
        raise BundleError(
            f"bundle {bundle_dir.name!r} was trained with scikit-learn {trained_with} but "
            f"{running} is running: retrain it or run the matching version"
        )
    try:
        pipeline = joblib.load(model_path)
    except Exception as exc:
        raise BundleError(f"cannot unpickle {model_path}: {exc}") from None
    _check_pipeline(pipeline, metadata, model_path)
    if metadata.scorer is not None:
        _check_numbers_match(numbers_of(pipeline), metadata, model_path)
    return Bundle(path=bundle_dir, metadata=metadata, pipeline=pipeline)


def _check_numbers_match(numbers: ScorerNumbers, metadata: BundleMetadata, where: Path) -> None:
    if numbers != metadata.scorer:
        raise BundleError(f"{where}: the metadata's scorer numbers are not the model's")


def _check_pipeline(pipeline: object, metadata: BundleMetadata, model_path: Path) -> None:
    if not isinstance(pipeline, Pipeline):
        raise BundleError(f"{model_path} holds a {type(pipeline).__name__}, not a Pipeline")
    steps = pipeline.named_steps
    scaler = steps.get(PIPELINE_SCALER_STEP)
    kmeans = steps.get(PIPELINE_KMEANS_STEP)
    scales = isinstance(scaler, StandardScaler | ColumnTransformer)
    if not scales or not isinstance(kmeans, KMeans | MiniBatchKMeans):
        raise BundleError(f"{model_path} is not a scaler + KMeans pipeline")
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


def _remove_unless_current(models_dir: Path, bundle_dir: Path) -> None:
    """After a failed promotion (a full disk writing CURRENT): the run failed, so its bundle
    goes too, unless the pointer had already moved to it (only syncing the folder failed)."""
    try:
        if current_version(models_dir) == bundle_dir.name:
            return
    except BundleError:
        pass
    shutil.rmtree(bundle_dir, ignore_errors=True)


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
