"""The promotion gate (segment-train --max-moved) and segment-promote: a model that moves too
many customers is written but not made current, and promoting it is all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segmentation import bundle as bundle_module
from segmentation.bundle import load_bundle
from segmentation.metadata import CURRENT_POINTER, MODEL_FILE, current_version, list_versions
from tests.conftest import CLASSIC_CSV
from tests.retraining_data import shifted_mall
from training.cli import main as train_main
from training.versions import promote_main

TRAIN = ["--k", "5", "--stability-samples", "0", "--quiet"]


@pytest.fixture
def held_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, str]:
    """A models folder whose current model is the mall's, and a shifted one held back."""
    models = tmp_path / "models"
    assert train_main(["--data", str(CLASSIC_CSV), "--models-dir", str(models), *TRAIN]) == 0
    old = current_version(models)
    shifted = str(shifted_mall(tmp_path / "shifted.csv"))
    args = ["--data", shifted, "--models-dir", str(models), "--max-moved", "0.01", *TRAIN]
    assert train_main(args) == 0
    [new] = [v for v in list_versions(models) if v != old]
    assert current_version(models) == old
    out = capsys.readouterr().out
    comparison = load_bundle(models, new).metadata.comparison
    assert comparison is not None
    assert comparison.moved_share > 0.01
    assert f"bundle written to {models / new} (not promoted)" in out
    assert (
        f"NOT PROMOTED: {comparison.moved:,} of {comparison.customers:,} training customers "
        f"({comparison.moved_share:.1%}) would change segment against {old}, more than "
        "--max-moved 0.01 allows" in out
    )
    assert f"segment-promote {new}" in out
    return models, old, new


def test_the_gate_holds_back_a_model_and_segment_promote_makes_it_current(
    held_back: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    models, old, new = held_back
    assert promote_main([new, "--models-dir", str(models)]) == 0
    assert current_version(models) == new
    assert f"promoted {new} (was {old}): it is now the current model" in capsys.readouterr().out


def test_a_loose_gate_promotes(tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert train_main(["--data", str(CLASSIC_CSV), "--models-dir", str(models), *TRAIN]) == 0
    shifted = str(shifted_mall(tmp_path / "shifted.csv"))
    assert (
        train_main(["--data", shifted, "--models-dir", str(models), "--max-moved", "0.9", *TRAIN])
        == 0
    )
    newest = sorted(list_versions(models), key=lambda v: (models / v).stat().st_mtime)[-1]
    assert current_version(models) == newest


def test_promote_refuses_a_bundle_a_reload_would_refuse(
    held_back: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    models, old, new = held_back
    model = models / new / MODEL_FILE
    model.write_bytes(model.read_bytes() + b"\0")
    assert promote_main([new, "--models-dir", str(models)]) == 2
    assert "does not match its metadata" in capsys.readouterr().err
    assert current_version(models) == old
    assert promote_main(["no-such-version", "--models-dir", str(models)]) == 2
    assert current_version(models) == old


def _fail(*_: object, **__: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["write", "fsync", "replace", "fsync_dir"])
def test_a_failure_at_the_switch_leaves_one_whole_model_current(
    held_back: tuple[Path, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    step: str,
) -> None:
    models, old, new = held_back
    if step == "write":
        monkeypatch.setattr(bundle_module.os, "fdopen", _fail)
    elif step == "fsync":
        monkeypatch.setattr(bundle_module.os, "fsync", _fail)
    elif step == "replace":
        monkeypatch.setattr(bundle_module.os, "replace", _fail)
    else:
        monkeypatch.setattr(bundle_module, "_fsync_dir", _fail)
    assert promote_main([new, "--models-dir", str(models)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.undo()
    # Either the old model or the new one is current, whole: never a torn pointer, never a
    # temporary file left behind.
    current = current_version(models)
    assert current == (new if step == "fsync_dir" else old)
    load_bundle(models)
    assert [p.name for p in models.iterdir() if p.name.startswith(".")] == []
    assert (models / CURRENT_POINTER).read_text() == current + "\n"
    assert os.listdir(models / new)  # the held-back bundle is still there to promote
