"""docs/clients.md, run against a real server serving the model `make run` trains: the MLflow
switch is one URL, its example runs with the service's install alone and prints what the page
shows, its error example answers as shown, and the tritonclient and KServe examples run, as
written, in the clients' own environment (``tests.protocol_clients``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, page_section, same_but_versions
from tests.environments import PROJECT, installed_with, run_python
from tests.protocol_clients import run_in_clients
from tests.real_server import start_server
from tests.shell import paste

pytestmark = pytest.mark.e2e

PAGE = REPO_ROOT / "docs" / "clients.md"
DOCUMENTED = "127.0.0.1:8000"
MLFLOW = "MLflow's scoring protocol"
V2 = "The Open Inference Protocol (KServe, Triton)"


@pytest.fixture(scope="module")
def server(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running = start_server(default_model / "models", tmp_path_factory.mktemp("clients") / "log")
    try:
        running.wait_for()
        yield running.url.removeprefix("http://")
    finally:
        running.stop()


def test_the_mlflow_switch_is_a_diff_of_one_url() -> None:
    [diff] = blocks(page_section(PAGE, MLFLOW), "diff")
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+")]
    assert len(removed) == len(added) == 1
    old, new = (re.sub(r"https?://[^/]+", "HOST", line) for line in (removed[0], added[0]))
    assert old == new
    assert new.endswith('/invocations"')
    [example] = blocks(page_section(PAGE, MLFLOW), "python")
    assert added[0] in example, "the example is the switched caller"


def test_the_mlflow_example_prints_what_the_page_shows(server: str, tmp_path: Path) -> None:
    section = page_section(PAGE, MLFLOW)
    [example] = blocks(section, "python")
    [shown] = blocks(section, "text")
    printed = run_python(
        example.replace(DOCUMENTED, server), installed_with(PROJECT, ("serve",)), tmp_path
    )
    same_but_versions(shown, printed)


def test_the_mlflow_error_example_answers_as_shown(server: str, tmp_path: Path) -> None:
    section = page_section(PAGE, MLFLOW)
    [command] = blocks(section, "sh")
    [shown] = blocks(section, "json")
    printed = paste(command.replace("localhost:8000", server), tmp_path)
    assert json.loads(printed) == json.loads(shown)


@pytest.mark.parametrize("which", [0, 1], ids=["tritonclient", "kserve"])
@pytest.mark.protocol_clients
def test_the_v2_client_examples_print_what_the_page_shows(
    server: str, tmp_path: Path, which: int
) -> None:
    section = page_section(PAGE, V2)
    example = blocks(section, "python")[which]
    shown = blocks(section, "text")[which]
    script = tmp_path / "example.py"
    script.write_text(example.replace(DOCUMENTED, server))
    printed = run_in_clients([str(script)], tmp_path)
    same_but_versions(shown, printed)
