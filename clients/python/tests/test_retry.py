"""Retry decisions that the real server cannot be made to show: timeouts, Retry-After, proxies.

A silent TCP listener stands in for a hung server; httpx.MockTransport for a proxy's answers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from client_support import FAST_BACKOFF
from segment_client import (
    ClientError,
    InvalidInputError,
    RequestTimeoutError,
    RetryPolicy,
    SegmentationClient,
    SegmentationError,
    ServerError,
    UnavailableError,
)
from segment_client.retry import Retrier, retry_after_seconds

from tests.real_server import free_port

ONE = [{"age": 30, "annual_income": 50, "spending_score": 50}]
OK = {
    "model_version": "v1",
    "results": [{"segment_id": 0, "segment_name": "A", "distance": 0.5, "model_version": "v1"}],
    "segments": [],
}


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """Accepts connections and never answers; yields its URL and the connections it took."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
        for connection in accepted:
            connection.close()


def stub(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering with ``responses`` in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return httpx.MockTransport(handle), seen


def test_timeouts_are_retried_then_raised(silent_server: tuple[str, list[socket.socket]]) -> None:
    url, accepted = silent_server
    policy = RetryPolicy(retries=1, backoff=FAST_BACKOFF)
    started = time.monotonic()
    client = SegmentationClient(url, timeout=0.2, retry=policy)
    with client, pytest.raises(RequestTimeoutError) as caught:
        client.segment(ONE)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 3
    assert caught.value.attempts == 2
    assert caught.value.code == "timeout"
    assert len(accepted) == 2
    assert isinstance(caught.value, UnavailableError)


def test_connection_errors_are_retried_then_raised() -> None:
    attempts = 0

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return super().handle_request(request)

    policy = RetryPolicy(retries=2, backoff=FAST_BACKOFF)
    closed = f"http://127.0.0.1:{free_port()}"
    client = SegmentationClient(closed, retry=policy, transport=Counting())
    with client, pytest.raises(UnavailableError) as caught:
        client.model()
    assert attempts == 3
    assert caught.value.code == "connection_error"
    assert "GET /model" in caught.value.message


def test_retry_after_replaces_the_backoff() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {"code": "busy"}})
    transport, seen = stub(busy, httpx.Response(200, json=OK))
    started = time.monotonic()
    client = SegmentationClient("http://stub", retry=RetryPolicy(backoff=30), transport=transport)
    with client:
        assert client.segment(ONE).model_version == "v1"
    assert time.monotonic() - started < 5
    assert len(seen) == 2
    waits = Retrier(RetryPolicy(backoff=0.01), "GET /model")
    later = httpx.Response(503, headers={"Retry-After": "2"})
    assert waits.after_response(later) == 2


def test_a_retry_after_beyond_max_delay_ends_the_retries() -> None:
    transport, seen = stub(httpx.Response(503, headers={"Retry-After": "120"}))
    policy = RetryPolicy(retries=5, max_delay=2)
    client = SegmentationClient("http://stub", retry=policy, transport=transport)
    with client, pytest.raises(UnavailableError) as caught:
        client.segment(ONE)
    assert len(seen) == 1
    assert "Retry-After" in caught.value.message


def test_proxy_errors_are_retried_and_read_without_the_error_shape() -> None:
    page = httpx.Response(502, text="<html>Bad Gateway</html>")
    transport, seen = stub(page, page, httpx.Response(200, json=OK))
    policy = RetryPolicy(retries=3, backoff=FAST_BACKOFF)
    with SegmentationClient("http://stub", retry=policy, transport=transport) as client:
        assert client.segment(ONE).results[0].segment_name == "A"
    assert len(seen) == 3

    transport, seen = stub(page)
    client = SegmentationClient("http://stub", retry=policy, transport=transport)
    with client, pytest.raises(UnavailableError) as caught:
        client.segment(ONE)
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (502, "http_502", 4)
    assert "Bad Gateway" in caught.value.message


@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (httpx.Response(500, json={"error": {"code": "internal_error"}}), ServerError),
        (httpx.Response(429, text="slow down"), ClientError),
        (httpx.Response(409, json={"error": {"code": "reload_failed"}}), ClientError),
    ],
)
def test_other_failures_are_not_retried(
    response: httpx.Response, error_type: type[SegmentationError]
) -> None:
    transport, seen = stub(response)
    client = SegmentationClient("http://stub", transport=transport)
    with client, pytest.raises(error_type) as caught:
        client.segments()
    assert len(seen) == 1
    assert caught.value.status == response.status_code


def test_a_bad_url_is_not_retried() -> None:
    client = SegmentationClient("ftp://127.0.0.1")
    with client, pytest.raises(SegmentationError) as caught:
        client.segments()
    assert caught.value.code == "transport_error"
    assert not isinstance(caught.value, UnavailableError)


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(backoff=0.5, multiplier=2, max_delay=3, jitter=0.5)
    assert [policy.delay(n, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(2, 0.999) == pytest.approx(0.5, abs=0.001)
    assert RetryPolicy(jitter=0).delay(1, 0.9) == RetryPolicy().backoff


@pytest.mark.parametrize(
    "options",
    [{"retries": -1}, {"jitter": 2}, {"multiplier": 0.5}, {"statuses": frozenset({429})}],
)
def test_unsafe_policies_are_refused_naming_the_option(options: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        RetryPolicy(**options)  # type: ignore[arg-type]
    [option] = options
    assert raised.value.field == option
    assert raised.value.details[0].field == option


def test_retry_after_accepts_seconds_and_dates() -> None:
    def after(value: str) -> float | None:
        return retry_after_seconds(httpx.Response(503, headers={"Retry-After": value}))

    assert after("3") == 3
    assert after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert after("soon") is None
    assert retry_after_seconds(httpx.Response(503)) is None
