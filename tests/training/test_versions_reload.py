"""segment-promote --reload against a real server pinned by SEGMENT_MODEL_VERSION: the pin wins
over CURRENT, and the command says so and fails rather than report the pinned version as
served; the promotion itself stands."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.metadata import current_version
from tests.conftest import TrainFn
from tests.real_server import start_server
from tests.service.conftest import API_KEY
from training.versions import EXIT_BAD_INPUT, promote_main

pytestmark = pytest.mark.e2e


def test_a_pinned_service_is_named_as_the_reason_it_still_serves_the_old_model(
    train_into: TrainFn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = tmp_path / "models"
    pinned = train_into(models).metadata.version
    promoted = train_into(models, promote=False, k=4).metadata.version
    assert current_version(models) == pinned
    capsys.readouterr()
    server = start_server(
        models, tmp_path / "server.log", SEGMENT_MODEL_VERSION=pinned, SEGMENT_API_KEYS=API_KEY
    )
    try:
        server.wait_for()
        monkeypatch.setenv("SEGMENT_API_KEY", API_KEY)
        arguments = [promoted, "--models-dir", str(models), "--reload", server.url]
        assert promote_main(arguments) == EXIT_BAD_INPUT
    finally:
        server.stop()
    captured = capsys.readouterr()
    assert f"promoted {promoted} (was {pinned}): it is now the current model" in captured.out
    assert "now serves" not in captured.out
    assert (
        f"segment-promote: error: the service at {server.url} reloaded and still serves "
        f"{pinned}, not {promoted}: a service started with SEGMENT_MODEL_VERSION={pinned} serves "
        "that version whatever CURRENT names (so does one reading another models folder than "
        f"{models}, its own CURRENT). {promoted} is promoted all the same: CURRENT in {models} "
        "names it. To serve it there, restart the service without SEGMENT_MODEL_VERSION, or "
        f"with SEGMENT_MODEL_VERSION={promoted}\n"
    ) in captured.err
    assert current_version(models) == promoted
