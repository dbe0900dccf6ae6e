"""A training run that dies, whenever it dies, never costs the model in use.

A real ``segment-train`` process is stopped with SIGKILL at each moment that matters: while
reading, while fitting, while writing the bundle, just before and just after ``CURRENT`` moves.
Afterwards ``CURRENT`` names a complete, loadable bundle (the old one, or the new one once the
pointer has moved), every version that can be selected loads, and nothing half-written is
selectable. A full disk fails with a clear message and leaves nothing behind.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segmentation import bundle as bundle_module
from segmentation.bundle import load_bundle
from segmentation.metadata import current_version, list_versions
from tests.conftest import REPO_ROOT, TrainFn
from training.cli import main

# Runs segment-train with one function replaced by a version that signals the test through a
# marker file and then waits to be killed, before or after doing its real work.
PAUSED_TRAINING = """
import importlib, os, sys, time
module_name, attribute = os.environ["PAUSE_AT"].rsplit(".", 1)
module = importlib.import_module(module_name)
real = getattr(module, attribute)
def paused(*args, **kwargs):
    result = real(*args, **kwargs) if os.environ["PAUSE_WHEN"] == "after" else None
    open(os.environ["PAUSE_MARKER"], "w").close()
    time.sleep(600)
    return result
setattr(module, attribute, paused)
from training.cli import main
sys.exit(main(sys.argv[1:]))
"""

MOMENTS = [
    ("reading", "training.train.load_customers", "before", False),
    ("fitting", "training.train.fixed_k", "before", False),
    ("writing the model file", "segmentation.bundle._fsync_file", "before", False),
    ("writing the metadata", "segmentation.bundle._write_file", "after", False),
    ("before the pointer moves", "segmentation.bundle.promote_version", "before", False),
    ("after the pointer moved", "segmentation.bundle.promote_version", "after", True),
]


def train_quickly(models: Path, data: Path) -> int:
    """segment-train in this process: k = 3, no stability refits, no progress lines."""
    args = ["--data", str(data), "--models-dir", str(models), "--k", "3"]
    return main([*args, "--stability-samples", "0", "--quiet"])


def kill_training_at(
    models: Path, data: Path, target: str, when: str, tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    marker = tmp_path / f"paused-{target}-{when}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSED_TRAINING,
            "--data",
            str(data),
            "--models-dir",
            str(models),
            "--k",
            "3",
            "--stability-samples",
            "0",
            "--quiet",
            "--seed",
            "11",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PAUSE_AT": target, "PAUSE_WHEN": when, "PAUSE_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else b""
                raise AssertionError(f"training ended before pausing:\n{output.decode()}")
            assert time.monotonic() < deadline, f"training never reached {target}"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    return subprocess.CompletedProcess(process.args, process.returncode, output)


@pytest.mark.parametrize(
    ("moment", "target", "when", "pointer_moved"), MOMENTS, ids=[m[0] for m in MOMENTS]
)
def test_a_training_run_killed_at_any_moment_leaves_a_servable_model(
    trained_copy: TrainFn,
    sample_csv: Path,
    tmp_path: Path,
    moment: str,
    target: str,
    when: str,
    pointer_moved: bool,
) -> None:
    models = tmp_path / "models"
    old = trained_copy(models, k=4)
    kill_training_at(models, sample_csv, target, when, tmp_path)

    current = current_version(models)
    versions = list_versions(models)
    if pointer_moved:
        assert current != old.metadata.version, moment
    else:
        assert current == old.metadata.version, moment
    # Whatever can be selected is complete and verifies; the service would load CURRENT.
    for version in versions:
        assert load_bundle(models, version).metadata.version == version
    assert load_bundle(models).metadata.version == current
    # Half-written work lives only in hidden staging folders, which no selection can name.
    hidden = [p.name for p in models.iterdir() if p.name.startswith(".")]
    assert all(name.startswith((".staging-", ".current-")) for name in hidden), hidden
    # And the next run goes through.
    assert train_quickly(models, sample_csv) == 0


def disk_full(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def full_while_pickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def dump(model: object, path: Path) -> None:
        Path(path).write_bytes(b"half a pickle")
        raise disk_full(path)

    monkeypatch.setattr(bundle_module.joblib, "dump", dump)


def full_when_syncing_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Delayed allocation: a file system may report the full disk only at fsync.
    def fsync_file(path: Path) -> None:
        raise disk_full(path)

    monkeypatch.setattr(bundle_module, "_fsync_file", fsync_file)


def full_while_writing_the_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def write_file(path: Path, content: str | bytes) -> None:
        path.write_bytes(b"{")
        raise disk_full(path)

    monkeypatch.setattr(bundle_module, "_write_file", write_file)


def full_while_writing_current(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        target = os.readlink(f"/proc/self/fd/{descriptor}")
        if Path(target).name.startswith(".current-"):
            raise disk_full(target)
        real_fsync(descriptor)

    monkeypatch.setattr(bundle_module.os, "fsync", fsync)


FULL_DISKS = {
    "while pickling the model": full_while_pickling,
    "when syncing the model file": full_when_syncing_the_model,
    "while writing the metadata": full_while_writing_the_metadata,
    "while writing CURRENT": full_while_writing_current,
}


@pytest.mark.parametrize("moment", FULL_DISKS)
def test_a_full_disk_fails_clearly_and_leaves_nothing_behind(
    trained_copy: TrainFn,
    sample_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    moment: str,
) -> None:
    models = tmp_path / "models"
    old = trained_copy(models, k=4)
    before = sorted(p.name for p in models.iterdir())
    capsys.readouterr()

    FULL_DISKS[moment](monkeypatch)
    assert train_quickly(models, sample_csv) == 2
    error = capsys.readouterr().err
    assert error.startswith("segment-train: error: "), error
    assert "No space left on device" in error
    assert len(error.strip().splitlines()) == 1, error
    monkeypatch.undo()
    assert sorted(p.name for p in models.iterdir()) == before, moment
    assert load_bundle(models).metadata.version == old.metadata.version
