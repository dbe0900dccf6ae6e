"""Bundle save, selection and verification: nothing unverified is ever unpickled."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn

from segmentation import bundle as bundle_module
from segmentation.bundle import load_bundle, promote_version, save_bundle
from segmentation.checksums import sha256_of
from segmentation.comparison import describe_left_out
from segmentation.metadata import (
    CURRENT_POINTER,
    METADATA_FILE,
    MODEL_FILE,
    BundleError,
    current_version,
    list_versions,
)
from tests.conftest import TrainFn


def test_saved_bundle_loads_back_identically(train_into: TrainFn, tmp_path: Path) -> None:
    saved = train_into()
    loaded = load_bundle(tmp_path / "models")
    assert loaded.metadata == saved.metadata
    assert loaded.path == saved.path
    assert (loaded.kmeans.cluster_centers_ == saved.kmeans.cluster_centers_).all()
    metadata = saved.metadata
    assert metadata.model_sha256 == sha256_of(saved.path / MODEL_FILE)
    assert metadata.libraries["scikit-learn"] == sklearn.__version__
    assert set(metadata.libraries) >= {"python", "scikit-learn", "numpy", "pandas", "joblib"}
    assert metadata.version.startswith(metadata.created_at.strftime("%Y%m%dT%H%M%SZ"))


def test_metadata_carries_the_pipelines_numbers_bit_for_bit(trained_copy: TrainFn) -> None:
    """The service scores with these numbers, so they must be exactly the pickle's."""
    bundle = trained_copy(k=4)
    numbers = bundle.metadata.scorer
    assert numbers is not None
    assert numbers.features == bundle.metadata.features
    assert np.array_equal(numbers.mean, bundle.scaler.mean_)
    assert np.array_equal(numbers.scale, bundle.scaler.scale_)
    assert np.array_equal(numbers.centroids, bundle.kmeans.cluster_centers_)
    on_disk = json.loads((bundle.path / METADATA_FILE).read_text())["scorer"]
    assert np.array_equal(on_disk["centroids"], bundle.kmeans.cluster_centers_)


def test_metadata_records_what_training_saw(train_into: TrainFn, tmp_path: Path) -> None:
    metadata = train_into(k=3, seed=11).metadata
    assert metadata.k == 3
    assert metadata.seed == 11
    assert metadata.training_data.rows == 300
    assert metadata.training_data.sha256 == sha256_of(tmp_path / "train.csv")
    assert set(metadata.feature_stats) == {"age", "annual_income", "spending_score"}
    assert metadata.metrics.inertia > 0
    assert metadata.metrics.silhouette is not None
    assert 0 < metadata.metrics.silhouette < 1
    assert metadata.metrics.silhouette_sample_size is None


def test_current_points_at_the_newest_promoted_bundle(train_into: TrainFn, tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = train_into(seed=1)
    second = train_into(seed=2)
    assert current_version(models) == second.metadata.version
    assert list_versions(models) == sorted([first.metadata.version, second.metadata.version])
    promote_version(models, first.metadata.version)
    assert load_bundle(models).metadata.version == first.metadata.version
    assert load_bundle(models, second.metadata.version).metadata.seed == 2


def test_promote_refuses_an_unknown_version(trained_copy: TrainFn, tmp_path: Path) -> None:
    trained_copy()
    with pytest.raises(BundleError, match="no bundle 'nope'"):
        promote_version(tmp_path / "models", "nope")


def test_failed_save_leaves_no_partial_bundle_and_keeps_current(
    trained_copy: TrainFn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    good = trained_copy()
    before = sorted(p.name for p in models.iterdir())

    def broken_dump(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_module.joblib, "dump", broken_dump)
    with pytest.raises(OSError, match="No space left"):
        save_bundle(models, good.pipeline, good.metadata, {"report.html": "report"})
    assert sorted(p.name for p in models.iterdir()) == before
    assert current_version(models) == good.metadata.version


def test_two_bundles_in_the_same_second_get_distinct_versions(
    train_into: TrainFn, tmp_path: Path
) -> None:
    good = train_into()
    again = save_bundle(
        tmp_path / "models", good.pipeline, good.metadata, {}, now=good.metadata.created_at
    )
    assert again.metadata.version == f"{good.metadata.version}-1"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("model_bytes", "does not match its metadata"),
        ("sklearn_version", "was trained with scikit-learn 0.0.1"),
        ("format_version", "bundle format 99 is not supported"),
        ("newer_format", "bundle format 5 is not supported"),
        ("metadata_json", "cannot read"),
        ("metadata_schema", "is not valid bundle metadata: k"),
        ("model_missing", "cannot read"),
        ("metadata_missing", "does not exist"),
        ("wrong_object", "holds a dict, not a Pipeline"),
        ("model_file_path", "must be a plain file name"),
        ("scorer_mismatch", "the metadata's scorer numbers are not the model's"),
        ("scorer_missing", "a format 4 bundle needs 'scorer'"),
        ("scorer_not_finite", "scorer numbers must be finite, and scale positive"),
        ("scorer_scale_zero", "scorer numbers must be finite, and scale positive"),
        ("scorer_features", "scorer.features .* != the schema's"),
    ],
)
def test_damaged_bundles_are_refused(
    trained_copy: TrainFn, tmp_path: Path, damage: str, expected: str
) -> None:
    models = tmp_path / "models"
    bundle_dir = trained_copy().path
    metadata_path = bundle_dir / METADATA_FILE
    metadata = json.loads(metadata_path.read_text())
    model_path = bundle_dir / MODEL_FILE
    if damage == "model_bytes":
        model_path.write_bytes(model_path.read_bytes() + b"\0")
    elif damage == "sklearn_version":
        metadata["libraries"]["scikit-learn"] = "0.0.1"
    elif damage == "format_version":
        metadata["format_version"] = 99
    elif damage == "newer_format":
        # A newer format may carry fields this program does not know: the version is the reason.
        metadata["format_version"] = 5
        metadata["k_selection"]["evidence_of_the_future"] = 1.0
    elif damage == "metadata_json":
        metadata_path.write_text("{not json")
    elif damage == "metadata_schema":
        metadata["k"] = "many"
    elif damage == "model_missing":
        model_path.unlink()
    elif damage == "metadata_missing":
        metadata_path.unlink()
    elif damage == "wrong_object":
        joblib.dump({"not": "a pipeline"}, model_path)
        metadata["model_sha256"] = sha256_of(model_path)
    elif damage == "model_file_path":
        metadata["model_file"] = "../elsewhere.joblib"
    elif damage == "scorer_mismatch":
        metadata["scorer"]["centroids"][0][0] += 1e-12
    elif damage == "scorer_missing":
        del metadata["scorer"]
    elif damage == "scorer_not_finite":
        metadata["scorer"]["mean"][1] = float("nan")
    elif damage == "scorer_scale_zero":
        metadata["scorer"]["scale"][0] = 0.0
    elif damage == "scorer_features":
        metadata["scorer"]["features"].reverse()
    if damage.startswith("scorer") or damage in {
        "sklearn_version",
        "format_version",
        "newer_format",
        "metadata_schema",
        "wrong_object",
        "model_file_path",
    }:
        metadata_path.write_text(json.dumps(metadata))
    with pytest.raises(BundleError, match=expected):
        load_bundle(models)


def test_a_bundle_from_before_the_silhouette_evidence_still_loads(
    trained_copy: TrainFn, tmp_path: Path
) -> None:
    bundle_dir = trained_copy(k=None, k_range=(2, 6)).path
    metadata_path = bundle_dir / METADATA_FILE
    metadata = json.loads(metadata_path.read_text())
    for field in ("gap_k", "silhouette", "reference_silhouette"):
        del metadata["k_selection"]["structure_test"][field]
    metadata_path.write_text(json.dumps(metadata))
    loaded = load_bundle(tmp_path / "models")
    assert loaded.metadata.k_selection.structure_test is not None
    assert loaded.metadata.k_selection.structure_test.gap_k is None


def test_a_comparison_from_before_the_left_out_reasons_still_loads(
    trained_copy: TrainFn, tmp_path: Path
) -> None:
    """Comparisons written before 2026-12-07 have no left_out_by_old, left_out_by_new or
    refused (the oldest not even left_out), and said 100% kept of no customers."""
    bundle_dir = trained_copy().path
    metadata_path = bundle_dir / METADATA_FILE
    metadata = json.loads(metadata_path.read_text())
    metadata["comparison"] = {
        "old_version": "20261201T000000Z-0123abcd",
        "new_version": None,
        "data": "the training customers",
        "customers": 0,
        "left_out": 300,
        "kept": 0,
        "kept_share": 1.0,
        "moved": 0,
        "moved_share": 0.0,
        "transitions": [],
        "segments": [],
    }
    metadata_path.write_text(json.dumps(metadata))
    comparison = load_bundle(tmp_path / "models").metadata.comparison
    assert comparison is not None
    assert comparison.left_out == 300
    assert (comparison.left_out_by_old, comparison.left_out_by_new) == (None, None)
    assert comparison.refused == []
    assert (comparison.kept_share, comparison.moved_share) == (0.0, 0.0)
    assert describe_left_out(comparison) == (
        "refused by a model (a value outside its ranges or levels)"
    )
    del metadata["comparison"]["left_out"]
    metadata["comparison"].update(customers=10, kept=9, kept_share=0.9, moved=1, moved_share=0.1)
    metadata_path.write_text(json.dumps(metadata))
    comparison = load_bundle(tmp_path / "models").metadata.comparison
    assert comparison is not None
    assert (comparison.left_out, comparison.kept_share, comparison.moved_share) == (0, 0.9, 0.1)


def test_tampered_model_is_never_unpickled(
    trained_copy: TrainFn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_path = trained_copy().path / MODEL_FILE
    model_path.write_bytes(b"tampered")
    calls: list[object] = []
    monkeypatch.setattr(bundle_module.joblib, "load", lambda *a: calls.append(a))
    with pytest.raises(BundleError):
        load_bundle(tmp_path / "models")
    assert calls == []


def test_no_current_model(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"no current model: .*CURRENT does not exist"):
        load_bundle(tmp_path)


def test_a_models_folder_that_does_not_exist_is_named_as_the_cause(tmp_path: Path) -> None:
    """A mistyped SEGMENT_MODELS_DIR said "CURRENT does not exist (train one)"."""
    with pytest.raises(BundleError, match=r"the models folder .*typo does not exist .*MODELS_DIR"):
        load_bundle(tmp_path / "typo")


@pytest.mark.parametrize("version", ["../outside", "a/b", "", ".hidden", "x" * 200])
def test_version_names_cannot_escape_the_models_dir(tmp_path: Path, version: str) -> None:
    with pytest.raises(BundleError, match="invalid model version"):
        load_bundle(tmp_path, version or "/")


def test_corrupt_pointer_is_refused(tmp_path: Path) -> None:
    (tmp_path / CURRENT_POINTER).write_text("../../etc\n")
    with pytest.raises(BundleError, match="invalid model version"):
        load_bundle(tmp_path)


def test_list_versions_ignores_staging_and_incomplete_folders(
    trained_copy: TrainFn, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    good = trained_copy()
    (models / ".staging-abc").mkdir()
    (models / "half-written").mkdir()
    assert list_versions(models) == [good.metadata.version]
    assert list_versions(tmp_path / "absent") == []


@pytest.mark.parametrize(
    ("umask", "folder", "file"), [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)]
)
def test_a_bundle_and_current_get_the_umasks_modes_not_owner_only(
    trained_copy: TrainFn, tmp_path: Path, umask: int, folder: int, file: int
) -> None:
    """A service running as another user (the image's uid 10001) reads what training wrote."""
    good = trained_copy()
    models = tmp_path / "shared-models"
    before = os.umask(umask)
    try:
        saved = save_bundle(models, good.pipeline, good.metadata, {"report.html": "report"})
    finally:
        os.umask(before)
    assert stat.S_IMODE(saved.path.stat().st_mode) == folder
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in saved.path.iterdir()}
    assert MODEL_FILE in modes
    assert set(modes.values()) == {file}, modes
    assert stat.S_IMODE((models / CURRENT_POINTER).stat().st_mode) == file
