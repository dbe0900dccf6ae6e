"""The async client against the real server process."""

from __future__ import annotations

import time

import httpx
import pytest
from client_support import API_KEY, FAST_BACKOFF, Server, customers
from segment_client import (
    AsyncSegmentationClient,
    AuthenticationError,
    InvalidRequestError,
    RetryPolicy,
    SegmentationClient,
    UnavailableError,
)

from tests.real_server import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


class CountingTransport(httpx.AsyncHTTPTransport):
    """Counts the requests the client tried to send, including the ones that never connected."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        return await super().handle_async_request(request)


async def test_scores_like_the_sync_client(server: Server) -> None:
    batch = customers(4)
    async with AsyncSegmentationClient(server.url) as client:
        result = await client.segment(batch)
        one = await client.segment_one(batch[0])
        listed = await client.segments()
        assert (await client.ready()).is_ready
        assert (await client.model()).version == result.model_version
    with SegmentationClient(server.url) as sync_client:
        assert result == sync_client.segment(batch)
    assert one == result.results[0]
    assert {s.id for s in result.segments} <= {s.id for s in listed.segments}


async def test_chunks_concurrently_and_keeps_order(server: Server) -> None:
    batch = customers(23)
    before = server.requests("/segment", 200)
    async with AsyncSegmentationClient(server.url, max_batch=5, max_concurrency=3) as client:
        result = await client.segment(batch)
    assert server.requests("/segment", 200) - before == 5
    assert [r.customer_id for r in result.results] == [c["customer_id"] for c in batch]
    assert len({r.model_version for r in result.results}) == 1


async def test_a_refused_chunk_fails_the_batch_once(server: Server) -> None:
    batch = customers(23)
    batch[0]["age"] = -1
    before = server.requests("/segment", 422)
    async with AsyncSegmentationClient(server.url, max_batch=5) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.segment(batch)
    assert server.requests("/segment", 422) - before == 1
    assert caught.value.details[0].field == "customers[0].age"


async def test_api_key(keyed_server: Server) -> None:
    async with AsyncSegmentationClient(keyed_server.url, api_key=API_KEY) as client:
        assert len((await client.segment(customers(3))).results) == 3
    async with AsyncSegmentationClient(keyed_server.url) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.segment(customers(3))
    assert caught.value.status == 401


async def test_503_is_retried_then_raised(modelless_server: Server) -> None:
    before = modelless_server.requests("/segment", 503)
    policy = RetryPolicy(retries=3, backoff=FAST_BACKOFF)
    async with AsyncSegmentationClient(modelless_server.url, retry=policy) as client:
        with pytest.raises(UnavailableError) as caught:
            await client.segment(customers(2))
    assert modelless_server.requests("/segment", 503) - before == 4
    assert caught.value.attempts == 4
    assert caught.value.code == "model_unavailable"


async def test_connection_errors_are_retried_with_backoff() -> None:
    transport = CountingTransport()
    policy = RetryPolicy(retries=2, backoff=0.05, multiplier=2, jitter=0)
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    async with AsyncSegmentationClient(closed, retry=policy, transport=transport) as client:
        with pytest.raises(UnavailableError) as caught:
            await client.segment(customers(1))
    assert transport.attempts == 3
    assert time.monotonic() - started >= 0.05 + 0.1
    error = caught.value
    assert (error.status, error.code, error.attempts) == (None, "connection_error", 3)
    assert isinstance(error.__cause__, httpx.ConnectError)
