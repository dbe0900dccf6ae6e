"""segment-promote against the real server: a held-back model made live under load, with no
request failing, and a refused promotion leaving the served model alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from segmentation.metadata import MODEL_FILE, current_version, list_versions
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV, REPO_ROOT
from tests.e2e.load import Load, streaming
from tests.real_server import start_server
from tests.retraining_data import shifted_mall
from tests.service.conftest import API_KEY, AUTH
from training.train import TrainingOptions, train

pytestmark = pytest.mark.e2e


def segment_promote(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SEGMENT_API_KEY": API_KEY}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from training.versions import promote_main; raise SystemExit(promote_main())",
            *args,
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the load"
        time.sleep(0.05)


def test_segment_promote_makes_a_held_back_model_live_with_no_failed_request(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"

    def options(data: Path, **more: object) -> TrainingOptions:
        settings: dict[str, object] = {"k": 5, "stability_samples": 0, **more}
        return TrainingOptions(source=DataSource(str(data)), models_dir=models, **settings)  # type: ignore[arg-type]

    old = train(options(CLASSIC_CSV))
    new = train(options(shifted_mall(tmp_path / "shifted.csv"), max_moved=0.0))
    assert current_version(models) == old.metadata.version
    broken = models / new.metadata.version / MODEL_FILE

    server = start_server(models, tmp_path / "server.log", SEGMENT_API_KEYS=API_KEY)
    try:
        server.wait_for()
        url = server.url
        # Long enough for two segment-promote processes (each imports the ML stack).
        with streaming(Load(url, seconds=180, per_thread=3000)) as load:
            wait_until(lambda: load.total >= 40)
            # A damaged bundle is refused before anything moves; the old model keeps serving.
            original = broken.read_bytes()
            broken.write_bytes(original + b"\0")
            refused = segment_promote(
                new.metadata.version, "--models-dir", str(models), "--reload", url
            )
            assert refused.returncode == 2
            assert "does not match its metadata" in refused.stderr
            assert current_version(models) == old.metadata.version
            broken.write_bytes(original)

            promoted = segment_promote(
                new.metadata.version, "--models-dir", str(models), "--reload", url
            )
            assert promoted.returncode == 0, promoted.stderr
            assert f"the service at {url} now serves {new.metadata.version}" in promoted.stdout
            served = httpx.get(f"{url}/model", headers=AUTH, timeout=10).json()["version"]
            assert served == new.metadata.version
            wait_until(lambda: load.versions[new.metadata.version] >= 40)
    finally:
        output = server.stop()
    assert "Traceback" not in output, output[-3000:]
    assert load.errors == []
    assert load.statuses == Counter({200: load.total}), load.statuses
    assert {old.metadata.version, new.metadata.version} <= set(load.versions), load.versions
    assert len(list_versions(models)) == 2
