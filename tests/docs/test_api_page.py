"""The request examples of docs/api.md, docs/client.md, the client's README, the README and
Getting started, run against a real server serving the model `make run` trains, each in the
environment its page names (the Arrow one with [serve] alone: no httpx; the client's examples
with the client alone, segment_frame with its Arrow extra): what the pages show is what they
print or answer. The retry example runs against a server that has no model until it has refused
the example more often than the default policy would retry, counted by the server itself."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from segment_client import RetryPolicy

from tests.conftest import REPO_ROOT
from tests.docs.conftest import VERSION, blocks, page_section, same_but_versions
from tests.environments import CLIENT, PROJECT, installed_with, run_python
from tests.real_server import free_port, start_server
from tests.service.metrics_text import parse_metrics, value
from tests.shell import paste

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


def shown_json(text: str) -> Any:
    """A page's JSON answer, where ``...`` stands for what is left out."""
    text = re.sub(r"^# ?", "", text, flags=re.M)  # an answer shown as shell comments
    text = re.sub(r",\s*\.\.\.(?=\s*[}\]])", "", text)
    return json.loads(text.replace("[...]", "[]"), parse_float=ShownNumber)


class ShownNumber(str):
    """A decimal as the page writes it: its digits say how closely it must match."""


def agrees(shown: Any, real: Any, where: str = "answer") -> None:
    """What the page shows is in the real answer: every key shown, lists from the start,
    numbers to the digits shown, versions whatever their timestamp."""
    if isinstance(shown, dict):
        assert isinstance(real, dict), where
        for key, value in shown.items():
            if key != "...":
                assert key in real, f"{where}.{key}"
                agrees(value, real[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(real, list), where
        assert len(shown) <= len(real), where
        for index, value in enumerate(shown):
            agrees(value, real[index], f"{where}[{index}]")
    elif isinstance(shown, ShownNumber):
        digits = len(shown.split(".")[1])
        assert round(real, digits) == float(shown), f"{where}: page {shown}, real {real}"
    elif isinstance(shown, str) and VERSION.search(shown):
        assert isinstance(real, str), where
        assert VERSION.sub("V", real) == VERSION.sub("V", shown), f"{where}: {real!r}"
    else:
        assert real == shown, f"{where}: page {shown!r}, real {real!r}"


def commands_and_answers(text: str) -> list[tuple[str, str, str]]:
    """Each curl block of a page with the answer block that follows it (json or text)."""
    found = re.findall(
        r"```sh\n(curl .*?|printf .*?)```(?:\n(?!```)[^\n]*)*?\n```(json|text)\n(.*?)```",
        text,
        re.S,
    )
    return [(command, kind, answer) for command, kind, answer in found]


@pytest.fixture(scope="module")
def served(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_server(default_model / "models", tmp_path_factory.mktemp("api") / "log")
    try:
        server.wait_for()
        yield server.url
    finally:
        server.stop()


def ask(command: str, url: str, folder: Path) -> str:
    command = command.replace(DOCUMENTED_URL, url).replace("localhost:8000", url)
    return paste(command, folder)


def test_the_api_pages_curl_examples_answer_what_they_show(served: str, tmp_path: Path) -> None:
    pairs = commands_and_answers(PAGE.read_text())
    assert len(pairs) == 6  # three answers, an unknown version and two refusals
    for command, kind, answer in pairs:
        printed = ask(command, served, tmp_path)
        if kind == "json":
            agrees(shown_json(answer), json.loads(printed))
        else:
            assert printed == answer


def test_the_readme_and_getting_started_examples_answer_what_they_show(
    served: str, tmp_path: Path
) -> None:
    readme = page_section(REPO_ROOT / "README.md", "The API in five lines")
    [block] = blocks(readme, "sh")
    command = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
    comment = "\n".join(line for line in block.splitlines() if line.startswith("#"))
    answer = json.loads(ask(command, served, tmp_path))
    agrees(shown_json(comment), answer)
    [index_command] = [
        b for b in blocks((REPO_ROOT / "docs" / "index.md").read_text(), "sh") if "curl" in b
    ]
    assert json.loads(ask(index_command, served, tmp_path)) == answer


def test_the_clients_first_example_runs_with_the_client_alone(served: str, tmp_path: Path) -> None:
    page = (REPO_ROOT / "docs" / "client.md").read_text()
    example = blocks(page, "python")[0]
    shown = next(b for b in blocks(page, "text") if b.startswith("1 "))
    client_only = installed_with(CLIENT)
    assert {"pandas", "numpy", "pyarrow"}.isdisjoint(client_only)
    printed = run_python(example.replace(DOCUMENTED_URL, served), client_only, tmp_path)
    assert printed == shown


def client_example(after: str) -> tuple[str, list[str]]:
    """The python block of docs/client.md that follows ``after``, and the text blocks between it
    and the next python block (what it prints)."""
    page = (REPO_ROOT / "docs" / "client.md").read_text()
    rest = page[page.index(after) :]
    [example] = blocks(rest, "python")[:1]
    after_example = rest[rest.index(example) + len(example) :]
    until_next = after_example.split("```python", 1)[0]
    return example, blocks(until_next, "text")


def test_the_clients_async_example_prints_what_it_shows(served: str, tmp_path: Path) -> None:
    example, [shown] = client_example("The async client")
    assert "AsyncSegmentationClient" in example
    assert "max_concurrency=4" in example
    printed = run_python(example.replace(DOCUMENTED_URL, served), installed_with(CLIENT), tmp_path)
    assert printed == shown


def test_the_clients_error_example_prints_what_it_shows_for_both_errors(
    served: str, tmp_path: Path
) -> None:
    example, [refused, unavailable] = client_example("\n## Errors\n")
    assert "except InvalidRequestError" in example
    assert "except UnavailableError" in example
    client_only = installed_with(CLIENT)
    printed = run_python(example.replace(DOCUMENTED_URL, served), client_only, tmp_path)
    assert printed == refused
    nobody = f"http://127.0.0.1:{free_port()}"
    printed = run_python(example.replace(DOCUMENTED_URL, nobody), client_only, tmp_path)
    assert printed == unavailable


def requests_answered(url: str, status: int) -> int:
    """POST /segment requests the server answered with ``status``, from its own /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = value(
        parse_metrics(text),
        "segment_http_requests_total",
        method="POST",
        route="/segment",
        status=str(status),
    )
    return int(found or 0)


def test_the_clients_retry_example_retries_until_the_service_has_a_model(
    default_model: Path, tmp_path: Path
) -> None:
    """The example against a real server that has no model yet (503 model_unavailable, which
    the client retries): the model arrives only after the server has answered 503 more often
    than the default policy's 3 retries allow, so the example prints its answer only if its
    own RetryPolicy(retries=5) is what retries."""
    example, [shown] = client_example("\n## Retries\n")
    assert "RetryPolicy(retries=5, max_delay=10)" in example
    refusals_before_the_model = 4
    assert RetryPolicy().retries < refusals_before_the_model  # the default would give up
    models = tmp_path / "models"
    shutil.copytree(default_model / "models", models)
    current = (models / "CURRENT").read_text()
    (models / "CURRENT").unlink()
    server = start_server(models, tmp_path / "server.log")
    seen_when_served: list[int] = []

    def serve_the_model_after_the_refusals() -> None:
        deadline = time.monotonic() + 60
        while requests_answered(server.url, 503) < refusals_before_the_model:
            assert time.monotonic() < deadline, "the example never retried"
            time.sleep(0.02)
        (models / "CURRENT").write_text(current)
        reloaded = httpx.post(f"{server.url}/admin/reload", timeout=30)
        assert reloaded.json()["status"] == "reloaded", reloaded.text
        seen_when_served.append(requests_answered(server.url, 503))

    try:
        server.wait_for("/health/live")
        assert requests_answered(server.url, 503) == 0
        with ThreadPoolExecutor(1) as pool:
            serving = pool.submit(serve_the_model_after_the_refusals)
            printed = run_python(
                example.replace(DOCUMENTED_URL, server.url), installed_with(CLIENT), tmp_path
            )
            serving.result(timeout=60)
        refused, answered = requests_answered(server.url, 503), requests_answered(server.url, 200)
    finally:
        server.stop()
    assert printed == shown
    # Every attempt before the model was there was refused and retried; the first one after
    # it was answered; none was left over (5 retries at most: 6 attempts).
    assert seen_when_served == [refused]
    assert refusals_before_the_model <= refused <= 5
    assert answered == 1


def test_the_clients_segment_frame_lines_answer_a_frame(served: str, tmp_path: Path) -> None:
    """The page's two lines, given a client and a DataFrame, where the client is installed with
    its Arrow extra (as the page says) and pandas."""
    example, _ = client_example("## Whole tables: `segment_frame`")
    assert example.startswith("answer = client.segment_frame(customers_df)")
    lines = example.strip().splitlines()
    program = "\n".join(
        [
            "import pandas as pd",
            "from segment_client import SegmentationClient",
            "customers_df = pd.DataFrame({'customer_id': ['A', 'B'], 'age': [31, 58],",
            "    'annual_income': [72, 88], 'spending_score': [81, 15], 'region': ['N', 'S']})",
            f"with SegmentationClient({served!r}) as client:",
            *(f"    {line}" for line in lines[:-1]),
            f"    print({lines[-1]})",
            "    print(list(answer.columns), len(answer))",
        ]
    )
    environment = installed_with(CLIENT, ("arrow",)) | installed_with("pandas")
    version, columns = run_python(program, environment, tmp_path).splitlines()
    assert VERSION.fullmatch(version)
    assert version == httpx.get(f"{served}/health/ready").json()["model_version"]
    expected = ["customer_id", "segment_id", "segment_name", "distance", "atypical"]
    assert columns == f"{expected} 2"


def test_the_client_readmes_example_runs_with_the_client_alone(served: str, tmp_path: Path) -> None:
    readme = (REPO_ROOT / "clients" / "python" / "README.md").read_text()
    [example] = blocks(readme, "python")
    printed = run_python(example.replace(DOCUMENTED_URL, served), installed_with(CLIENT), tmp_path)
    assignment, current = printed.splitlines()
    customer, segment_id, name = assignment.split(" ", 2)
    answer = httpx.post(
        f"{served}/segment",
        json={"customer_id": "C-1", "age": 31, "annual_income": 72, "spending_score": 81},
    ).json()
    assert (customer, int(segment_id), name) == (
        "C-1",
        answer["results"][0]["segment_id"],
        answer["results"][0]["segment_name"],
    )
    assert current == answer["model_version"]
