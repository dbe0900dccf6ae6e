"""docs/scoring.md's file example, run as written on the model `make run` trains: it prints
what the page shows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, same_but_versions
from tests.shell import paste

PAGE = REPO_ROOT / "docs" / "scoring.md"


def test_the_file_example_prints_what_the_page_shows(default_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    shutil.copytree(default_model, folder)
    text = PAGE.read_text()
    command = next(b for b in blocks(text, "sh") if b.startswith("segment-score --input"))
    shown = next(b for b in blocks(text, "text") if b.startswith("scored "))
    same_but_versions(shown, paste(command, folder))
    scored = pd.read_parquet(folder / "crm_scored.parquet")
    assert len(scored) == 400
    assert int(scored["atypical"].sum()) == 6
