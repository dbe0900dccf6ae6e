"""Requests marked ``X-Segment-Source: ui`` (the web page's own) are answered but never counted
as customers seen: a real server, every body type of POST /segment."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.ipc
import pytest

from tests.real_server import start_server
from tests.service.helpers import CUSTOMER

pytestmark = pytest.mark.e2e

ROWS = [CUSTOMER, {"age": 52, "annual_income": 30, "spending_score": 12}]


def _arrow_body() -> bytes:
    table = pa.table({name: [float(row[name]) for row in ROWS] for name in CUSTOMER})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


# (headers, body) of each body type, each with two customers.
BODIES = {
    "objects": ({"Content-Type": "application/json"}, None, {"customers": ROWS}),
    "split": (
        {"Content-Type": "application/json"},
        None,
        {"columns": list(CUSTOMER), "data": [list(row.values()) for row in ROWS]},
    ),
    "csv": (
        {"Content-Type": "text/csv"},
        b"age,annual_income,spending_score\n31,72,81\n52,30,12\n",
        None,
    ),
    "arrow": ({"Content-Type": "application/vnd.apache.arrow.stream"}, _arrow_body(), None),
}


@pytest.fixture(scope="module")
def server(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("page-traffic")
    running = start_server(trained_models, root / "server.log", SEGMENT_STATE_DIR=str(root))
    try:
        running.wait_for()
        yield running.url
    finally:
        output = running.stop()
    assert "Traceback" not in output, output


def _post(client: httpx.Client, kind: str, marked: str | None) -> None:
    headers, content, json = BODIES[kind]
    extra = {"X-Segment-Source": marked} if marked else {}
    response = client.post("/segment", headers={**headers, **extra}, content=content, json=json)
    assert response.status_code == 200, response.text


def _observations(client: httpx.Client) -> int:
    report = client.get("/drift").json()
    return int(report["observations"])


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize("marked", ["ui", "UI", "Ui"])
def test_page_requests_are_answered_but_not_seen_by_drift(
    server: str, kind: str, marked: str
) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        before = _observations(client)
        for _ in range(3):
            _post(client, kind, marked)
        assert _observations(client) == before
        _post(client, kind, None)
        assert _observations(client) == before + len(ROWS)


def test_another_source_is_counted(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        before = _observations(client)
        _post(client, "objects", "crm")
        assert _observations(client) == before + len(ROWS)


def test_request_metrics_still_count_page_requests(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:

        def answered() -> float:
            text = client.get("/metrics").text
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("segment_http_requests_total{")
                and 'route="/segment"' in line
                and 'status="200"' in line
            )

        before = answered()
        _post(client, "objects", "ui")
        assert answered() == before + 1
