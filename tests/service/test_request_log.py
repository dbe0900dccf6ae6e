"""One JSON log line per request, with a request id, and never the payload."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path

import pytest

from service.http.request_log import request_id_from
from service.operations.log_format import JsonFormatter, logging_config
from tests.service.conftest import API_KEY, AUTH, ClientFactory
from tests.service.helpers import CUSTOMER

pytestmark = pytest.mark.anyio

PAYLOAD_MARKER = "C-PAYLOAD-7f3e"


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "service.requests"
    ]


async def test_each_request_is_one_json_line_with_what_an_operator_needs(
    trained_models: Path, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    batch = {"customers": [{"customer_id": PAYLOAD_MARKER, **CUSTOMER}] * 3}
    async with make_client(models_dir=trained_models, api_keys=(API_KEY,)) as client:
        scored = await client.post(
            "/segment", json=batch, headers={**AUTH, "X-Request-ID": "req-42.a"}
        )
        one = await client.get("/segments/1", headers=AUTH)
        invalid = await client.post("/segment", json={"age": "old"}, headers=AUTH)
        refused = await client.get("/model")
    assert scored.headers["x-request-id"] == "req-42.a"
    generated = [r.headers["x-request-id"] for r in (one, invalid, refused)]
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in generated)
    assert len(set(generated)) == 3

    lines = request_lines(caplog)
    assert len(lines) == 4
    first, second, third, fourth = lines
    assert first["request_id"] == "req-42.a"
    assert (first["method"], first["route"], first["status"]) == ("POST", "/segment", 200)
    assert first["batch_size"] == 3
    assert first["model_version"] == scored.json()["model_version"]
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] > 0
    assert (first["level"], first["logger"]) == ("info", "service.requests")
    assert (second["route"], second["status"], second["request_id"]) == (
        "/segments/{segment_id}",
        200,
        generated[0],
    )
    assert (third["status"], third["batch_size"]) == (422, None)
    assert (fourth["route"], fourth["status"]) == ("/model", 401)
    everything = json.dumps(lines)
    assert PAYLOAD_MARKER not in everything
    assert "old" not in everything.replace("model", "")
    assert API_KEY not in everything


@pytest.mark.parametrize("sent", ["a" * 129, "two words", "bad\x7fchar", 'line\\nbreak"quote', ""])
async def test_an_unsafe_request_id_is_replaced(
    sent: str, trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models) as http:
        response = await http.get("/health/live", headers={"X-Request-ID": sent})
    returned = response.headers["x-request-id"]
    assert returned != sent
    assert len(returned) == 32


def test_the_server_log_configuration_writes_json_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = logging_config("info", "json")
    assert config["formatters"]["service"] == {"()": "service.operations.log_format.JsonFormatter"}
    assert config["handlers"]["stdout"]["stream"] == "ext://sys.stdout"
    assert logging_config("info", "text")["formatters"]["service"]["format"]
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.request_id = "r1"
    try:
        raise ValueError("inner")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "boom now"
    assert line["request_id"] == "r1"
    assert "ValueError: inner" in line["exception"]
    assert line["time"].endswith("+00:00")


def test_generated_request_ids_are_unique_here_and_in_a_forked_worker() -> None:
    scope: dict[str, object] = {"type": "http", "headers": []}
    ours = [request_id_from(scope) for _ in range(1_000)]
    assert len(set(ours)) == len(ours)
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ours)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writer, request_id_from(scope).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    theirs = os.read(reader, 64).decode()
    os.close(reader)
    assert re.fullmatch(r"[0-9a-f]{32}", theirs)
    assert theirs[:16] != ours[0][:16], "a forked worker draws its own random prefix"
