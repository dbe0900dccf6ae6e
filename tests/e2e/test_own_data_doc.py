"""docs/own-data.md exactly as written: every shell block pasted in order, and its requests sent
to a real server serving the model the page just trained.

The blocks run in a scratch folder holding the project's shipped samples under ``data/``, as
they would from the repository's root. Where the page says to start ``segment-serve``, the test
starts the real server on a free port and points the page's ``curl`` commands at it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from segmentation.metadata import current_version, list_versions, read_metadata
from tests.conftest import REPO_ROOT
from tests.real_server import ServerProcess, start_server
from tests.shell import paste

pytestmark = pytest.mark.e2e

PAGE = REPO_ROOT / "docs" / "own-data.md"
SAMPLES = ("sample_orders.csv", "sample_retail_customers.csv")
DOCUMENTED_URL = "http://127.0.0.1:8000"
RFM_NAMES = {"Champions", "Loyal", "At risk", "Hibernating", "New", "Promising", "Needs attention"}


def sections() -> dict[str, list[str]]:
    """The page's shell blocks, by the section (## heading) they are in."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^## ", PAGE.read_text(), flags=re.M)[1:]:
        title = part.splitlines()[0]
        found[title] = re.findall(r"```sh\n(.*?)```", part, re.DOTALL)
    return found


def served_by(folder: Path, models: str, tmp_path: Path) -> ServerProcess:
    server = start_server(folder / models, tmp_path / f"{models}.log")
    server.wait_for()
    return server


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    for name in SAMPLES:
        (work / "data" / name).write_bytes((REPO_ROOT / "data" / name).read_bytes())
    return work


def answers(printed: str) -> list[dict[str, object]]:
    """The JSON answers curl printed, one after the other (curl adds no newline)."""
    decoder, found, position = json.JSONDecoder(), [], 0
    while (start := printed.find("{", position)) >= 0:
        answer, position = decoder.raw_decode(printed, start)
        found.append(answer)
    return found


def test_orders_to_served_rfm_segments_as_the_page_shows(folder: Path, tmp_path: Path) -> None:
    train, score, request = sections()["From orders to RFM segments"]
    assert "SEGMENT_MODELS_DIR=models-rfm segment-serve" in PAGE.read_text()
    paste(train, folder)
    printed = paste(score, folder)
    assert '\n"customer_id","recency_days","frequency",' in printed  # head's first line
    scored = pd.read_csv(folder / "rfm-segments.csv")
    assert len(scored) == 500
    assert set(scored["segment_name"]) <= RFM_NAMES
    server = served_by(folder, "models-rfm", tmp_path)
    try:
        [answer] = answers(paste(request.replace(DOCUMENTED_URL, server.url), folder))
    finally:
        server.stop()
    [result] = answer["results"]  # type: ignore[misc]
    assert result["customer_id"] == "C-1"
    assert result["segment_name"] in RFM_NAMES


def test_a_table_with_categorical_columns_as_the_page_shows(folder: Path, tmp_path: Path) -> None:
    train, schema_and_train, requests = sections()["A customer table with categorical columns"]
    paste(train, folder)
    paste(schema_and_train, folder)
    models = folder / "models-retail"
    assert len(list_versions(models)) == 2  # the schema file's model is the current one
    metadata = read_metadata(models / current_version(models)).model_dump(mode="json")
    features = metadata["feature_schema"]["features"]
    assert [f["name"] for f in features] == [
        "tenure_months",
        "orders_per_year",
        "average_basket",
        "channel",
        "loyalty_tier",
    ]
    assert features[3]["levels"] == ["online", "store", "both"]
    server = served_by(folder, "models-retail", tmp_path)
    try:
        good, bad = answers(paste(requests.replace(DOCUMENTED_URL, server.url), folder))
    finally:
        server.stop()
    assert good["results"][0]["customer_id"] == "R-1"  # type: ignore[index]
    message = "channel: value 'fax' is not one of 'online', 'store', 'both'"
    assert bad["error"]["message"] == message  # type: ignore[index]
    assert message in PAGE.read_text()
