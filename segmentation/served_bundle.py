"""A bundle as the service needs it: verified metadata and the model's numbers, never a pickle.

Unpickling the scikit-learn pipeline costs a serving worker about 90 MiB of scikit-learn and
SciPy, and runs code from a file. Format 2 bundles carry the pipeline's numbers in their metadata
(checked against the pipeline when written), so serving reads JSON only; the model file is still
checked against its sha256, so a damaged or swapped bundle is refused the same way everywhere.
Format 1 bundles have no numbers and are unpickled as before (``segmentation.bundle``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from segmentation.checksums import sha256_of
from segmentation.metadata import (
    METADATA_FILE,
    BundleError,
    BundleMetadata,
    ScorerNumbers,
    current_version,
    read_metadata,
    validate_version_name,
)


class BundleView(Protocol):
    """What scoring needs of a bundle, loaded either way."""

    @property
    def path(self) -> Path: ...

    @property
    def metadata(self) -> BundleMetadata: ...

    @property
    def numbers(self) -> ScorerNumbers: ...


@dataclass(frozen=True)
class ServedBundle:
    path: Path
    metadata: BundleMetadata
    numbers: ScorerNumbers


def bundle_dir_of(models_dir: Path, version: str | None) -> Path:
    """The pinned version's folder if given, else the current one's."""
    return models_dir / (validate_version_name(version) if version else current_version(models_dir))


def verified_model_path(bundle_dir: Path, metadata: BundleMetadata) -> Path:
    """The model file, once its sha256 matches the metadata's."""
    if Path(metadata.model_file).name != metadata.model_file:
        raise BundleError(f"{bundle_dir / METADATA_FILE}: model_file must be a plain file name")
    model_path = bundle_dir / metadata.model_file
    try:
        actual_sha256 = sha256_of(model_path)
    except OSError as exc:
        raise BundleError(f"cannot read {model_path}: {exc.strerror}") from None
    if actual_sha256 != metadata.model_sha256:
        raise BundleError(
            f"{model_path} does not match its metadata (sha256 {actual_sha256[:12]}..., "
            f"expected {metadata.model_sha256[:12]}...): refusing to load it"
        )
    return model_path


def read_served_bundle(models_dir: Path, version: str | None = None) -> ServedBundle | None:
    """Read and verify a bundle for scoring without unpickling it; None for a format 1 bundle,
    which has no numbers in its metadata (``segmentation.bundle.load_bundle`` unpickles it)."""
    bundle_dir = bundle_dir_of(models_dir, version)
    metadata = read_metadata(bundle_dir)
    verified_model_path(bundle_dir, metadata)
    if metadata.scorer is None:
        return None
    return ServedBundle(path=bundle_dir, metadata=metadata, numbers=metadata.scorer)


def verified_bundle(models_dir: Path, version: str | None = None) -> BundleView:
    """A bundle verified exactly as the service loads it, by a reload as by ``segment-promote``:
    its metadata and numbers with the model file's sha256 checked; a format 1 bundle, which has
    no numbers, unpickled and checked against its metadata (``segmentation.bundle``)."""
    served = read_served_bundle(models_dir, version)
    if served is not None:
        return served
    from segmentation.bundle import load_bundle  # imported here: scikit-learn, for format 1

    return load_bundle(models_dir, version)
