"""What the docs tests share: the model `make run` trains, and the blocks of a page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SAMPLE_CSV
from tests.shell import paste

# A bundle version as pages show it; each run trains its own, with its own timestamp.
VERSION = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{8}\b")


def page_section(page: Path, title: str) -> str:
    """The text of the ``## title`` section of a page."""
    text = page.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def same_but_versions(shown: str, printed: str) -> None:
    assert VERSION.sub("V", printed).rstrip("\n") == VERSION.sub("V", shown).rstrip("\n")


@pytest.fixture(scope="session")
def default_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with data/sample_customers.csv and the model `make train` fits on it, in
    models/, trained by docs/training.md's first command as written (its output in
    ``trained.txt``); copy the folder before changing it."""
    folder = tmp_path_factory.mktemp("default-model")
    (folder / "data").mkdir()
    shutil.copy(SAMPLE_CSV, folder / "data" / SAMPLE_CSV.name)
    [command] = blocks((REPO_ROOT / "docs" / "training.md").read_text(), "sh")[:1]
    assert command.split("#")[0].split() == ["segment-train", "--data", "data/sample_customers.csv"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "segment-train --data $(SAMPLE_DATA) --models-dir" in makefile  # models by default
    (folder / "trained.txt").write_text(paste(command, folder))
    return folder
