"""The promotion gate (segment-train --max-moved) and segment-promote: a model that moves too
many customers is written but not made current, and promoting it is all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segmentation import bundle as bundle_module
from segmentation.bundle import load_bundle
from segmentation.metadata import (
    CURRENT_POINTER,
    MODEL_FILE,
    RefusedValues,
    current_version,
    list_versions,
)
from tests.conftest import CLASSIC_CSV
from tests.retraining_data import (
    RETAIL_TRAIN,
    narrow_basket_schema,
    retail_export,
    shifted_mall,
)
from training.cli import EXIT_HELD_BACK
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
    assert train_main(args) == EXIT_HELD_BACK  # written, held back: a job can tell
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
    # Again: nothing moves, and it does not claim to have promoted anything.
    pointer = (models / CURRENT_POINTER).read_bytes()
    assert promote_main([new, "--models-dir", str(models)]) == 0
    assert (models / CURRENT_POINTER).read_bytes() == pointer
    assert capsys.readouterr().out == f"{new} was already the current model; verified again\n"


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


def test_a_retrain_the_model_in_use_cannot_score_is_held_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA's case: every basket moved out of the old model's range, so no customer can be
    compared; it used to pass --max-moved as "0 of 0 (100.0%)" kept and become current."""
    models = tmp_path / "models"
    old_data = str(retail_export(tmp_path / "crm.csv"))
    assert train_main(["--data", old_data, "--models-dir", str(models), *RETAIL_TRAIN]) == 0
    old = current_version(models)
    pointer = (models / CURRENT_POINTER).read_bytes()
    capsys.readouterr()
    moved = str(retail_export(tmp_path / "moved.csv", basket_times=50, basket_plus=20000))
    args = ["--data", moved, "--models-dir", str(models), "--max-moved", "0.05", *RETAIL_TRAIN]
    assert train_main(args) == EXIT_HELD_BACK
    assert (models / CURRENT_POINTER).read_bytes() == pointer
    assert current_version(models) == old
    [new] = [v for v in list_versions(models) if v != old]
    comparison = load_bundle(models, new).metadata.comparison
    assert comparison is not None
    assert (comparison.customers, comparison.left_out, comparison.left_out_by_old) == (0, 600, 600)
    assert (comparison.kept_share, comparison.moved_share) == (0.0, 0.0)
    [refused] = comparison.refused
    assert refused == RefusedValues(
        model="old", column="basket", problem=refused.problem, customers=600
    )
    assert refused.problem.startswith("outside the valid range 0 to ")
    out = capsys.readouterr().out
    assert "(100.0%); moving" not in out
    assert "training customers keeping their segment: not known, none could be compared\n" in out
    assert (
        "  not compared: 600 of 600 training customers (100.0%), 600 refused by the old model "
        f"(basket {refused.problem}: 600)\n" in out
    )
    assert f"bundle written to {models / new} (not promoted)" in out
    assert (
        f"NOT PROMOTED: 600 of 600 training customers (100.0%) are not known to keep their "
        f"segment against {old}: 0 would change segment and 600 could not be compared, 600 "
        f"refused by the old model (basket {refused.problem}: 600); --max-moved counts those "
        f"not compared as changing, and 0.05 allows at most 5.0%; {old} stays current." in out
    )


def test_customers_left_out_of_a_partial_comparison_count_against_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The model in use refuses the 9 customers with baskets above 200; the other 591 keep
    their segment, so the moved share of those compared is 0 and used to pass any gate."""
    models = tmp_path / "models"
    data = str(retail_export(tmp_path / "crm.csv"))
    narrow = str(narrow_basket_schema(tmp_path / "narrow.toml"))
    first = ["--data", data, "--models-dir", str(models), *RETAIL_TRAIN]
    assert train_main([*first, "--schema", narrow, "--drop-invalid"]) == 0
    old = current_version(models)
    capsys.readouterr()
    assert train_main([*first, "--max-moved", "0.01"]) == EXIT_HELD_BACK
    assert current_version(models) == old
    [held] = [v for v in list_versions(models) if v != old]
    comparison = load_bundle(models, held).metadata.comparison
    assert comparison is not None
    assert comparison.moved_share <= 0.01  # what the gate used to look at alone
    assert comparison.left_out == comparison.left_out_by_old == 9
    assert comparison.customers == 591
    unknown = comparison.moved + 9
    out = capsys.readouterr().out
    assert (
        f"  training customers keeping their segment: {comparison.kept:,} of the 591 compared "
        f"({comparison.kept_share:.1%}); moving: {comparison.moved:,} "
        f"({comparison.moved_share:.1%})\n" in out
    )
    assert (
        "  not compared: 9 of 600 training customers (1.5%), 9 refused by the old model "
        "(basket outside the valid range 0 to 200: 9)\n" in out
    )
    assert (
        f"NOT PROMOTED: {unknown} of 600 training customers ({unknown / 600:.1%}) are not known "
        f"to keep their segment against {old}: {comparison.moved} would change segment and 9 "
        "could not be compared" in out
    )
    # A gate above the share not known to keep their segment lets it through.
    assert train_main([*first, "--max-moved", f"{(unknown + 1) / 600:.3f}"]) == 0
    assert current_version(models) not in (old, held)
