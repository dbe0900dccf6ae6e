"""docs/api.md's Arrow example, run in the environment the page names ([serve]: no httpx, no
client) against a real server serving the model `make run` trains; it prints what the page
shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, page_section, same_but_versions
from tests.environments import PROJECT, installed_with, run_python
from tests.real_server import start_server

pytestmark = pytest.mark.e2e

PAGE = REPO_ROOT / "docs" / "api.md"
DOCUMENTED_URL = "http://127.0.0.1:8000"


def test_the_arrow_example_runs_with_the_service_install_alone(
    default_model: Path, tmp_path: Path
) -> None:
    section = page_section(PAGE, "Arrow IPC stream in and out")
    assert "pip install\n'.[serve]'" in section or "pip install '.[serve]'" in section
    [example] = blocks(section, "python")
    [shown] = blocks(section, "text")
    serving = installed_with(PROJECT, ("serve",))
    assert "httpx" not in serving  # what the example once needed and [serve] does not bring
    server = start_server(default_model / "models", tmp_path / "server.log")
    try:
        server.wait_for()
        printed = run_python(example.replace(DOCUMENTED_URL, server.url), serving, tmp_path)
    finally:
        server.stop()
    same_but_versions(shown, printed)
