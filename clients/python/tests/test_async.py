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


async def test_a_refused_chunk_names_customers_by_their_index_in_the_whole_batch(
    server: Server,
) -> None:
    # The first chunk is refused alone; the four others are still checked, concurrently.
    batch = customers(23)
    batch[0]["age"] = -1
    batch[7]["age"] = 500
    batch[16]["height"] = 180
    before = (server.requests("/segment", 422), server.requests("/segment", 200))
    async with AsyncSegmentationClient(server.url, max_batch=5, max_concurrency=3) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.segment(batch)
    after = (server.requests("/segment", 422), server.requests("/segment", 200))
    assert (after[0] - before[0], after[1] - before[1]) == (3, 2)
    error = caught.value
    assert [d.field for d in error.details] == [
        "customers[0].age",
        "customers[7].age",
        "customers[16].height",
    ]
    assert (error.total, error.truncated) == (3, False)
    assert "3 of 23 customers are invalid" in error.message
    with (
        SegmentationClient(server.url, max_batch=5) as sync_client,
        pytest.raises(InvalidRequestError) as blocking,
    ):
        sync_client.segment(batch)
    assert (error.details, error.total, error.message) == (
        blocking.value.details,
        blocking.value.total,
        blocking.value.message,
    )


async def test_a_refused_later_chunk_is_counted_over_every_chunk(server: Server) -> None:
    # 60 customers, 12 chunks: every customer from the 45th on is bad.
    batch = [
        {**customer, "age": 500} if number >= 45 else customer
        for number, customer in enumerate(customers(60))
    ]
    async with AsyncSegmentationClient(server.url, max_batch=5, max_concurrency=4) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.segment(batch)
    error = caught.value
    assert [d.field for d in error.details] == [f"customers[{i}].age" for i in range(45, 60)]
    assert (error.total, error.truncated) == (15, False)
    assert error.message == (
        "customers[45].age: value 500 is outside the valid range 0 to 120 "
        "(and 14 more problems); 15 of 60 customers are invalid"
    )


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
