"""The 413 for an oversized body reaches clients that write the whole body before reading.

Python's urllib (like Java's HttpURLConnection) sends every byte before it reads the answer; a
server that answers and closes early makes the kernel reset the connection, and the client sees
a reset instead of the documented 413. Tested on a real server process, declared and chunked.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.http.body_limit import DRAIN_FACTOR
from tests.real_server import ServerProcess, start_server

pytestmark = pytest.mark.e2e

LIMIT = 2 * 1024 * 1024
OVER = 3 * LIMIT  # over the limit, within the drain bound


@pytest.fixture(scope="module")
def server(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("body-limit") / "server.log"
    running: ServerProcess = start_server(trained_models, log, SEGMENT_MAX_BODY_BYTES=str(LIMIT))
    try:
        running.wait_for()
        yield running.url
    finally:
        output = running.stop()
        assert "Traceback" not in output, output[-3000:]


def body(size: int) -> bytes:
    row = b'{"age": 31, "annual_income": 72, "spending_score": 81},'
    rows = row * (size // len(row) + 1)
    return b'{"customers": [' + rows[: size - 40].rstrip(b",") + b"]}"


def chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def urllib_post(url: str, request: urllib.request.Request) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_urllib_reads_the_413_for_a_declared_length(server: str) -> None:
    request = urllib.request.Request(
        f"{server}/segment", data=body(OVER), headers={"Content-Type": "application/json"}
    )
    status, answer = urllib_post(server, request)
    assert status == 413
    assert answer["error"]["code"] == "body_too_large"  # type: ignore[index]
    assert f"over the limit of {LIMIT:,} bytes" in answer["error"]["message"]  # type: ignore[index]


def test_urllib_reads_the_413_for_a_chunked_body(server: str) -> None:
    request = urllib.request.Request(
        f"{server}/segment",
        data=chunks(body(OVER)),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    status, answer = urllib_post(server, request)
    assert status == 413
    assert answer["error"]["code"] == "body_too_large"  # type: ignore[index]


@pytest.mark.parametrize("chunked", [False, True])
def test_httpx_reads_the_413_and_the_connection_stays_usable(server: str, chunked: bool) -> None:
    data = body(OVER)
    with httpx.Client(base_url=server, timeout=30) as client:
        refused = client.post("/segment", content=chunks(data) if chunked else data)
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "body_too_large"
        # The whole body was drained, so the same client goes on working.
        fine = client.post("/segment", json={"age": 31, "annual_income": 72, "spending_score": 81})
        assert fine.status_code == 200


def test_beyond_the_drain_bound_the_413_closes_the_connection(server: str) -> None:
    """Documented: past the bound the server does not read on; a client that is still writing
    may then see a reset, and one that reads first (httpx here, chunked) gets the 413."""
    data = body(DRAIN_FACTOR * LIMIT + 2 * LIMIT)
    with httpx.Client(base_url=server, timeout=30) as client:
        try:
            refused = client.post("/segment", content=chunks(data))
        except httpx.TransportError:
            return  # the reset the documentation allows
        assert refused.status_code == 413
        assert refused.headers["connection"] == "close"
