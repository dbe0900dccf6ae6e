"""Chunking, merging and the one-version guarantee, against a stub that can reload at will.

The real server is used for chunking in test_sync/test_async; a stub is needed here to play a
server that supports version pinning (or stops holding a version) exactly between two chunks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
import numpy as np
import pytest
from client_support import customers
from segment_client import (
    AsyncSegmentationClient,
    Customer,
    FieldProblem,
    InvalidInputError,
    NotFoundError,
    SegmentationClient,
    SegmentationError,
    VersionMismatchError,
)
from segment_client._batches import customer_payload, encode_chunks


@dataclass
class StubServer:
    """Scores customer i of a batch into segment ``age % 3``; reloads after ``reload_after``.

    ``pins``: whether the ``version`` query parameter is honoured; ``holds``: versions it can
    still serve when pinned.
    """

    reload_after: int = 1
    pins: bool = True
    holds: tuple[str, ...] = ("A", "B")
    requests: int = 0
    sent: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        params = dict(request.url.params)
        self.sent.append(params)
        version = "A" if self.requests <= self.reload_after else "B"
        pinned = params.get("version")
        if pinned and self.pins:
            if pinned not in self.holds:
                message = f"no model version {pinned!r}; available: {', '.join(self.holds)}"
                error = {"code": "not_found", "message": message, "details": []}
                return httpx.Response(404, json={"error": error})
            version = pinned
        batch = json.loads(request.content)["customers"]
        results = [
            {
                "customer_id": customer.get("customer_id"),
                "segment_id": int(customer["age"]) % 3,
                "segment_name": f"S{int(customer['age']) % 3}",
                "distance": 1.0,
                "model_version": version,
            }
            for customer in batch
        ]
        segment_ids = sorted({r["segment_id"] for r in results})
        segments = [
            {"id": i, "name": f"S{i}", "size": 1, "share": 0.1, "centroid": {}} for i in segment_ids
        ]
        return httpx.Response(
            200, json={"model_version": version, "results": results, "segments": segments}
        )


def test_a_reload_between_chunks_is_pinned_to_the_first_version() -> None:
    stub = StubServer()
    batch = customers(12)
    transport = httpx.MockTransport(stub)
    with SegmentationClient("http://stub", max_batch=5, transport=transport) as client:
        result = client.segment(batch)
    assert {r.model_version for r in result.results} == {"A"} == {result.model_version}
    assert [r.customer_id for r in result.results] == [c["customer_id"] for c in batch]
    # chunk 1, chunk 2 (answered by B), chunk 2 again pinned, chunk 3 pinned
    assert stub.sent == [{}, {}, {"version": "A"}, {"version": "A"}]
    assert [s.id for s in result.segments] == [0, 1, 2]


@pytest.mark.anyio
async def test_async_chunks_in_flight_during_a_reload_are_sent_again_pinned() -> None:
    stub = StubServer()
    batch = customers(23)
    transport = httpx.MockTransport(stub)
    async with AsyncSegmentationClient(
        "http://stub", max_batch=5, max_concurrency=4, transport=transport
    ) as client:
        result = await client.segment(batch)
    assert {r.model_version for r in result.results} == {"A"}
    assert [r.customer_id for r in result.results] == [c["customer_id"] for c in batch]
    assert stub.sent[0] == {}
    assert stub.sent.count({"version": "A"}) >= 4


@pytest.mark.parametrize(
    ("stub", "says"),
    [
        (StubServer(pins=False), "does not support version pinning"),
        (StubServer(holds=("B",)), "no longer serves A"),
    ],
)
def test_versions_are_never_mixed(stub: StubServer, says: str) -> None:
    transport = httpx.MockTransport(stub)
    client = SegmentationClient("http://stub", max_batch=5, transport=transport)
    with client, pytest.raises(VersionMismatchError, match=says) as caught:
        client.segment(customers(12))
    assert caught.value.code == "version_mismatch"


@pytest.mark.anyio
async def test_async_versions_are_never_mixed() -> None:
    transport = httpx.MockTransport(StubServer(pins=False))
    async with AsyncSegmentationClient("http://stub", max_batch=5, transport=transport) as client:
        with pytest.raises(VersionMismatchError):
            await client.segment(customers(23))


def test_an_explicit_version_the_server_lacks_is_its_404() -> None:
    transport = httpx.MockTransport(StubServer(holds=("A",)))
    client = SegmentationClient("http://stub", transport=transport)
    with client, pytest.raises(NotFoundError, match="available: A"):
        client.segment(customers(2), version="C")


def test_explain_is_sent_only_when_chosen() -> None:
    stub = StubServer()
    with SegmentationClient("http://stub", transport=httpx.MockTransport(stub)) as client:
        client.segment(customers(1))
        client.segment(customers(1), explain=False)
        client.segment(customers(1), explain=True, version="A")
    assert stub.sent == [{}, {"explain": "false"}, {"explain": "true", "version": "A"}]


@dataclass
class Row:
    customer_id: str
    age: float
    annual_income: float
    spending_score: float
    gender: str | None = None


class TupleRow(NamedTuple):
    age: float
    annual_income: float
    spending_score: float


@pytest.mark.parametrize(
    "customer",
    [
        {"customer_id": "x", "age": 30, "annual_income": 50, "spending_score": 60},
        Customer(customer_id="x", age=30, annual_income=50, spending_score=60),
        Row(customer_id="x", age=30, annual_income=50, spending_score=60),
    ],
)
def test_customers_of_every_kind_become_the_same_json(customer: Any) -> None:
    payload = customer_payload(customer, 0)
    assert payload == {"customer_id": "x", "age": 30, "annual_income": 50, "spending_score": 60}
    named = customer_payload(TupleRow(30, 50, 60), 0)
    assert named == {"age": 30, "annual_income": 50, "spending_score": 60}


def test_bad_customers_fail_before_anything_is_sent_naming_the_field() -> None:
    stub = StubServer()
    batch = customers(8)
    batch[7]["age"] = math.nan
    infinite = customers(3)
    infinite[2]["annual_income"] = np.float64("inf")
    cases: list[tuple[Any, str, str]] = [
        ([{"age": 1}, "age=1"], "customers[1]", "a str is not a customer"),
        (batch, "customers[7].age", "nan cannot be sent as JSON"),
        (infinite, "customers[2].annual_income", "cannot be sent as JSON"),
        ({"age": 1}, "customers", "segment_one"),
        ([], "customers", "no customers"),
    ]
    with SegmentationClient("http://stub", transport=httpx.MockTransport(stub)) as client:
        for sent, where, words in cases:
            with pytest.raises(InvalidInputError) as raised:
                client.segment(sent)
            assert isinstance(raised.value, SegmentationError)
            assert raised.value.field == where
            assert raised.value.details == (FieldProblem(where, raised.value.details[0].message),)
            assert words in raised.value.message
            assert raised.value.message.startswith(f"{where}: ")
    assert stub.requests == 0


def test_client_refusals_are_still_the_builtin_kinds_callers_caught() -> None:
    with pytest.raises(ValueError, match=r"customers\[0\]\.age"):
        encode_chunks([{"age": math.nan}], 5)
    with pytest.raises(TypeError, match=r"customers\[0\]: a int is not a customer"):
        encode_chunks([1], 5)


def test_chunks_stay_under_the_limit_and_numpy_numbers_are_plain_json() -> None:
    rows = [{"age": np.int64(30), "annual_income": np.float64(50.5)} for _ in range(23)]
    bodies = encode_chunks(rows, 5)
    chunks = [json.loads(body)["customers"] for body in bodies]
    assert [len(chunk) for chunk in chunks] == [5, 5, 5, 5, 3]
    assert chunks[0][0] == {"age": 30, "annual_income": 50.5}
