"""The shell blocks of docs/operations.md, pasted as the page shows them against a real server
with an API key (the key its Authentication block makes), and its tables of metrics and of
operator endpoints asked of that server: the answers have the shown shape and statuses."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import REPO_ROOT, SAMPLE_CSV
from tests.docs.conftest import blocks, page_section
from tests.docs.test_api_page import agrees, shown_json
from tests.real_server import ServerProcess, start_server
from tests.service.metrics_text import parse_metrics, value
from tests.shell import paste

pytestmark = pytest.mark.e2e

PAGE = REPO_ROOT / "docs" / "operations.md"


@dataclass
class Keyed:
    server: ServerProcess
    key: str
    folder: Path

    def paste(self, block: str) -> str:
        block = block.replace("localhost:8000", self.server.url)
        return paste(block, self.folder, KEY=self.key, SEGMENT_API_KEYS=self.key)


def the_pages_key(folder: Path) -> str:
    """A key made as the Authentication block makes it."""
    [block] = blocks(page_section(PAGE, "Authentication"), "sh")
    export = block.splitlines()[0]
    assert export.startswith("export SEGMENT_API_KEYS=")
    return paste(f'{export}\nprintf %s "$SEGMENT_API_KEYS"', folder)


def keyed_server(models: Path, folder: Path) -> Keyed:
    key = the_pages_key(folder)
    server = start_server(models, folder / "server.log", SEGMENT_API_KEYS=key)
    server.wait_for()
    return Keyed(server, key, folder)


@pytest.fixture(scope="module")
def keyed(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    running = keyed_server(default_model / "models", tmp_path_factory.mktemp("operations"))
    try:
        yield running
    finally:
        running.server.stop()


def status(keyed: Keyed, method: str, path: str, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, keyed.server.url + path, headers=headers, timeout=30).status_code


def test_the_authentication_block_answers_with_the_key_and_refuses_without(
    keyed: Keyed,
) -> None:
    [block] = blocks(page_section(PAGE, "Authentication"), "sh")
    # the export makes a new key; the server holds the one the same line made before
    curl = block.splitlines()[1]
    answer = json.loads(keyed.paste(curl))
    assert answer["segments"]
    assert status(keyed, "GET", "/segments") == 401
    assert status(keyed, "GET", "/segments", key="not-the-configured-key-0123456789") == 403


def test_the_body_too_large_answer_is_what_the_page_shows(keyed: Keyed) -> None:
    section = page_section(PAGE, "Limits and errors")
    [command] = blocks(section, "sh")
    [shown] = blocks(section, "json")
    agrees(json.loads(shown), json.loads(keyed.paste(command)))


def test_every_metric_in_the_table_is_served(keyed: Keyed) -> None:
    section = page_section(PAGE, "Metrics")
    names = re.findall(r"^\| `(segment_[a-z_]+)` \|", section, re.M)
    assert len(names) == 14
    customers = [{"age": 30, "annual_income": 60, "spending_score": 50}] * 3
    headers = {"Authorization": f"Bearer {keyed.key}"}
    scored = httpx.post(
        f"{keyed.server.url}/segment", json={"customers": customers}, headers=headers
    )
    assert scored.status_code == 200
    metrics = keyed.paste('curl -s localhost:8000/metrics -H "Authorization: Bearer $KEY"')
    served = {name for name, _ in parse_metrics(metrics)}
    for name in names:
        kind = re.search(rf"^\| `{name}` \| (\w+) \|", section, re.M)
        assert kind is not None
        expected = f"{name}_bucket" if kind[1] == "histogram" else name
        assert expected in served, name


def test_the_operator_endpoints_need_a_key_as_the_table_says(keyed: Keyed) -> None:
    rows = re.findall(
        r"^\| `(GET|POST) ([^`]+)`(?:, `[^`]+`)* \| (never|yes[^|]*) \|",
        page_section(PAGE, "Endpoints for operators"),
        re.M,
    )
    assert len(rows) == 7
    for method, path, needs in rows:
        if path == "/admin/reload":
            continue  # reloading is the reload test's own server's
        if needs == "never":
            assert status(keyed, method, path) == 200, path
        else:
            assert status(keyed, method, path) == 401, path
            assert status(keyed, method, path, key=keyed.key) == 200, path


def shapes(shown: Any, real: Any, where: str = "report") -> None:
    """Every key shown is answered, with a value of the shown kind (``"..."`` stands for more)."""
    if isinstance(shown, dict):
        assert isinstance(real, dict), where
        for key, item in shown.items():
            assert key in real, f"{where}.{key}"
            shapes(item, real[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(real, list), where
        shown = [item for item in shown if item != "..."]
        assert len(real) >= len(shown), where
        for index, item in enumerate(shown):
            shapes(item, real[index], f"{where}[{index}]")
    elif isinstance(shown, bool) or shown is None:
        assert real is None or isinstance(real, type(shown)), where
    elif isinstance(shown, int | float):
        assert isinstance(real, int | float), where
        assert not isinstance(real, bool), where
    else:
        assert isinstance(real, str), where


def test_the_drift_block_answers_the_shown_report_after_unusual_customers(
    default_model: Path, tmp_path: Path
) -> None:
    """On a server of its own: the page's report has seen its 1,200 customers and no reset."""
    keyed = keyed_server(default_model / "models", tmp_path)
    try:
        drift_report_as_shown(keyed)
    finally:
        keyed.server.stop()


def drift_report_as_shown(keyed: Keyed) -> None:
    section = page_section(PAGE, "Drift")
    [command] = blocks(section, "sh")
    [shown_text] = blocks(section, "json")
    shown = json.loads(shown_text)
    rng = np.random.default_rng(5)
    customers = [
        {"age": int(a), "annual_income": int(i), "spending_score": int(s)}
        for a, i, s in zip(
            rng.integers(60, 90, 1200),
            rng.integers(0, 20, 1200),
            rng.integers(1, 20, 1200),
            strict=True,
        )
    ]
    headers = {"Authorization": f"Bearer {keyed.key}"}
    url = keyed.server.url
    answer = httpx.post(f"{url}/segment", json={"customers": customers}, headers=headers)
    assert answer.status_code == 200
    report = json.loads(keyed.paste(command))
    shapes(shown, report)
    assert report["status"] == shown["status"] == "drift"
    assert report["drift_detected"] is True
    assert report["observations"] == shown["observations"] == 1200
    assert report["thresholds"] == shown["thresholds"]


def test_the_reload_block_trains_reloads_and_reloads_again_on_a_signal(
    default_model: Path, tmp_path: Path
) -> None:
    [block] = blocks(page_section(PAGE, "Zero-downtime reload"), "sh")
    lines = block.splitlines()
    train, reload, *answer, signal = lines
    assert train.startswith("segment-train --data new_customers.csv")
    shutil.copytree(default_model / "models", tmp_path / "models")
    shutil.copy(SAMPLE_CSV, tmp_path / "new_customers.csv")
    running = keyed_server(tmp_path / "models", tmp_path)
    try:
        before = httpx.get(f"{running.server.url}/health/ready").json()["model_version"]
        paste(
            train, tmp_path, SEGMENT_MODELS_DIR=str(tmp_path / "models")
        )  # the page's "reads SEGMENT_MODELS_DIR too"
        reloaded = json.loads(running.paste(reload))
        agrees(shown_json("\n".join(answer)), reloaded)
        assert reloaded["previous_version"] == before
        assert reloaded["model_version"] != before
        assert signal.startswith("kill -HUP <pid of segment-serve>")
        paste(signal.replace("<pid of segment-serve>", str(running.server.process.pid)), tmp_path)
        headers = {"Authorization": f"Bearer {running.key}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            metrics = parse_metrics(
                httpx.get(f"{running.server.url}/metrics", headers=headers).text
            )
            by_signal = value(
                metrics, "segment_model_reloads_total", trigger="signal", outcome="success"
            )
            if by_signal == 1:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no reload counted after SIGHUP")
    finally:
        log = running.server.stop()
    assert "Traceback" not in log
