"""The shell blocks of docs/operations.md, pasted as the page shows them against a real server
with an API key (the key its Authentication block makes), and its tables of metrics and of
operator endpoints asked of that server: the answers have the shown shape and statuses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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
from tests.real_server import ServerProcess, free_port, start_server
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
    # info: the request log lines the page shows are written
    server = start_server(
        models, folder / "server.log", SEGMENT_API_KEYS=key, SEGMENT_LOG_LEVEL="info"
    )
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
    assert len(names) == 15
    # As many customers as drift needs before it gives a PSI (SEGMENT_DRIFT_MIN_OBSERVATIONS).
    customers = [{"age": 30, "annual_income": 60, "spending_score": 50}] * 500
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


def test_the_request_log_line_is_what_the_server_writes(keyed: Keyed) -> None:
    [shown_text] = [
        b for b in blocks(page_section(PAGE, "Request logs"), "json") if '"logger"' in b
    ]
    shown = json.loads(shown_text)
    customers = [{"age": 30, "annual_income": 60, "spending_score": 50}] * shown["batch_size"]
    headers = {"Authorization": f"Bearer {keyed.key}", "X-Request-ID": shown["request_id"]}
    answer = httpx.post(
        f"{keyed.server.url}/segment", json={"customers": customers}, headers=headers, timeout=30
    )
    assert answer.headers["X-Request-ID"] == shown["request_id"]
    deadline = time.monotonic() + 10
    while not (lines := request_lines(keyed, shown["request_id"])):
        assert time.monotonic() < deadline, keyed.server.output()[-2000:]
        time.sleep(0.05)
    [written] = lines
    assert list(written) == list(shown)  # the same fields, in the same order
    for field in ("level", "logger", "request_id", "method", "route", "status", "batch_size"):
        assert written[field] == shown[field], field
    assert re.fullmatch(r"POST /segment 200 [\d.]+ms", written["message"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", written["time"])
    assert written["model_version"] == answer.json()["model_version"]
    assert isinstance(written["duration_ms"], float)


def request_lines(keyed: Keyed, request_id: str) -> list[dict[str, Any]]:
    found = []
    for line in keyed.server.output().splitlines():
        if line.startswith("{") and f'"request_id": "{request_id}"' in line:
            found.append(json.loads(line))
    return found


@dataclass
class Prometheus:
    url: str
    config: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def prometheus(keyed: Keyed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Debian's Prometheus (`make ops-deps`) scraping the keyed server with the page's
    scrape_configs as written, but for where the key file and the server are; every second
    (the page leaves Prometheus' own interval, a minute, which a test cannot wait for)."""
    [shown] = blocks(page_section(PAGE, "Metrics"), "yaml")
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "segment-api-key").write_text(keyed.key)
    host = keyed.server.url.removeprefix("http://")
    config = "global: {scrape_interval: 1s}\n" + shown.replace(
        "/etc/prometheus/segment-api-key", str(folder / "segment-api-key")
    ).replace('"segmentation:8000"', f'"{host}"')
    assert config.count(str(folder)) == 1
    assert config.count(host) == 1
    (folder / "prometheus.yml").write_text(config)
    port = free_port()
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process, folder / "prometheus.log")
        yield Prometheus(url, folder / "prometheus.yml", process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until Prometheus says it is ready: before that its query API answers 503 while the
    storage starts, which on a loaded machine outlasted the first queries (seen in CI)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    raise AssertionError(f"prometheus not ready within 60s: {log.read_text()}")


def query(prometheus: Prometheus, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expression}, timeout=10)
    assert answer.status_code == 200, (expression, answer.text)
    body = answer.json()
    assert body["status"] == "success", (expression, body)
    return body["data"]["result"]  # type: ignore[no-any-return]


def until_scraped(prometheus: Prometheus, expression: str, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := query(prometheus, expression):
                return found
        except httpx.TransportError:
            pass  # still starting
        time.sleep(0.2)
    raise AssertionError(f"{expression}: nothing within {timeout}s")


def test_the_scrape_config_is_valid_and_scrapes_the_service(
    keyed: Keyed, prometheus: Prometheus
) -> None:
    checked = subprocess.run(
        ["promtool", "check", "config", str(prometheus.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # up is 1 only when the scrape got a 200: the credentials file's key was accepted
    [up] = until_scraped(prometheus, 'up{job="customer-segmentation"}')
    assert up["value"][1] == "1"


def shown_queries() -> list[str]:
    [block] = blocks(page_section(PAGE, "Metrics"), "promql")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def test_the_queries_are_valid_promql_on_served_metrics(
    keyed: Keyed, prometheus: Prometheus, tmp_path: Path
) -> None:
    queries = shown_queries()
    assert len(queries) == 5
    rules = "groups:\n  - name: page\n    rules:\n" + "".join(
        f"      - record: page:query{index}\n        expr: {json.dumps(expression)}\n"
        for index, expression in enumerate(queries)
    )
    (tmp_path / "rules.yml").write_text(rules)
    checked = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # every metric a query names is one the service serves (a typo would just answer nothing)
    served = {
        name
        for name, _ in parse_metrics(
            keyed.paste('curl -s localhost:8000/metrics -H "Authorization: Bearer $KEY"')
        )
    }
    for expression in queries:
        for name in re.findall(r"\bsegment_\w+", expression):
            assert name in served, (expression, name)
    # and each is evaluated by Prometheus on what it scraped from the server
    until_scraped(prometheus, "segment_model_info")
    for expression in queries:
        query(prometheus, expression)
    [served_version] = query(prometheus, queries[2])
    assert (
        served_version["metric"]["model_version"]
        == httpx.get(f"{keyed.server.url}/health/ready").json()["model_version"]
    )
