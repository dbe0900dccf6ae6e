"""The blocking client against the real server process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx
import pytest
from client_support import (
    API_KEY,
    FAST_BACKOFF,
    Server,
    Servers,
    customers,
)
from segment_client import (
    AuthenticationError,
    BatchTooLargeError,
    Customer,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RetryPolicy,
    SegmentationClient,
    SegmentResult,
    UnavailableError,
    VersionMismatchError,
)

from segmentation.bundle import promote_version
from tests.real_server import free_port

pytestmark = pytest.mark.e2e


def subset_of(typed: Any, raw: Any) -> bool:
    """Every field the typed result holds equals the server's JSON (which may hold more)."""
    if isinstance(typed, dict):
        return isinstance(raw, dict) and all(
            key in raw and subset_of(val, raw[key]) for key, val in typed.items()
        )
    if isinstance(typed, list):
        return (
            isinstance(raw, list)
            and len(typed) == len(raw)
            and all(subset_of(t, r) for t, r in zip(typed, raw, strict=True))
        )
    return bool(typed == raw)


def test_typed_results_are_what_the_server_returned(server: Server) -> None:
    batch = customers(5)
    raw = httpx.post(f"{server.url}/segment", json={"customers": batch}, timeout=10).json()
    with SegmentationClient(server.url) as client:
        result = client.segment(batch)
    assert isinstance(result, SegmentResult)
    assert subset_of(result.model_dump(mode="json", exclude_unset=True), raw)
    assert [r.customer_id for r in result.results] == [c["customer_id"] for c in batch]
    assert result.model_version == raw["model_version"]
    first = result.results[0]
    assert result.profile(first.segment_id).name == first.segment_name


@dataclass
class DataclassCustomer:
    customer_id: int
    age: float
    annual_income: float
    spending_score: float
    gender: str | None = None


class TupleCustomer(NamedTuple):
    age: float
    annual_income: float
    spending_score: float


def test_customers_may_be_typed_objects(server: Server) -> None:
    as_mapping = {"customer_id": 1, "age": 22, "annual_income": 20, "spending_score": 85}
    typed = [
        Customer(customer_id=1, age=22, annual_income=20, spending_score=85),
        DataclassCustomer(customer_id=1, age=22, annual_income=20, spending_score=85),
        TupleCustomer(age=22, annual_income=20, spending_score=85),
        {"CustomerID": 1, "Age": 22, "Annual Income (k$)": 20, "Spending Score (1-100)": 85},
    ]
    with SegmentationClient(server.url) as client:
        expected = client.segment_one(as_mapping)
        results = client.segment(typed).results
    assert {(r.segment_id, r.distance) for r in results} == {
        (expected.segment_id, expected.distance)
    }
    assert [r.customer_id for r in results] == [1, 1, None, 1]


def test_read_endpoints(server: Server) -> None:
    with SegmentationClient(server.url) as client:
        assert client.live().status == "alive"
        ready = client.ready()
        assert ready.is_ready
        model = client.model()
        assert model.version == ready.model_version
        assert model.k == 5
        assert model.features == ["age", "annual_income", "spending_score"]
        assert model.k_choice.startswith("k is the number of segments: it was set to 5 when")
        assert "runner_up_change" in model.model_fields_set  # the service sends it: null here,
        assert model.runner_up_change is None  # since k was fixed, so there is no runner-up
        assert "k_steps" in model.model_fields_set  # and empty: nor a split tree
        assert model.k_steps == []
        listed = client.segments()
        assert [s.id for s in listed.segments] == list(range(5))
        assert client.segment_profile(2) == listed.segments[2]


def test_models_endpoint_if_the_server_has_it(server: Server) -> None:
    with SegmentationClient(server.url) as client:
        try:
            versions = client.models()
        except NotFoundError:
            pytest.skip("this server has no GET /models yet")
        assert client.model().version in versions.versions


def test_explain_flag_is_accepted(server: Server) -> None:
    with SegmentationClient(server.url) as client:
        result = client.segment(customers(3), explain=False)
    assert all(r.explanation is None for r in result.results)


def test_an_unknown_version_is_never_answered_by_another(server: Server) -> None:
    # An upgraded server answers 404 naming its versions; one without pinning ignores the
    # parameter, and the client notices the answer came from another version.
    with (
        SegmentationClient(server.url) as client,
        pytest.raises((NotFoundError, VersionMismatchError)),
    ):
        client.segment(customers(2), version="19990101T000000Z-00000000")


def test_4xx_is_raised_typed_and_never_retried(server: Server) -> None:
    bad = [*customers(2), {"customer_id": "bad", "age": 500, "annual_income": 10, "height": 1}]
    before = server.requests("/segment", 422)
    with SegmentationClient(server.url, retry=RetryPolicy(retries=3)) as client:
        with pytest.raises(InvalidRequestError) as caught:
            client.segment(bad)
        with pytest.raises(NotFoundError) as missing:
            client.segment_profile(99)
    assert server.requests("/segment", 422) - before == 1
    error = caught.value
    assert (error.status, error.code) == (422, "invalid_request")
    assert {d.field for d in error.details} == {
        "customers[2].age",
        "customers[2].height",
        "customers[2].spending_score",
    }
    assert error.request_id
    assert (error.total, error.truncated) == (3, False)
    assert missing.value.status == 404
    assert missing.value.code == "not_found"


def test_a_batch_with_more_problems_than_listed_says_how_many_in_all(
    keyed_server: Server,
) -> None:
    # The keyed server keeps the default batch limit, so the 150 customers go in one request.
    bad = [{**customer, "age": 500} for customer in customers(150)]
    with (
        SegmentationClient(keyed_server.url, api_key=API_KEY) as client,
        pytest.raises(InvalidRequestError) as caught,
    ):
        client.segment(bad)
    error = caught.value
    assert len(error.details) == 100
    assert error.details[-1].field == "customers[99].age"
    assert (error.total, error.truncated) == (150, True)


def test_a_refused_chunk_names_customers_by_their_index_in_the_whole_batch(
    server: Server,
) -> None:
    # Five chunks of at most 5: the first, the second and the fourth are refused; every chunk
    # is checked, and one error speaks of the 23 customers the caller sent.
    batch = customers(23)
    batch[0]["age"] = -1
    batch[7]["age"] = 500
    batch[16]["height"] = 180
    before = (server.requests("/segment", 422), server.requests("/segment", 200))
    with (
        SegmentationClient(server.url, max_batch=5) as client,
        pytest.raises(InvalidRequestError) as caught,
    ):
        client.segment(batch)
    after = (server.requests("/segment", 422), server.requests("/segment", 200))
    assert (after[0] - before[0], after[1] - before[1]) == (3, 2)
    error = caught.value
    assert [d.field for d in error.details] == [
        "customers[0].age",
        "customers[7].age",
        "customers[16].height",
    ]
    assert (error.total, error.truncated) == (3, False)
    assert error.message == (
        "customers[0].age: value -1 is outside the valid range 0 to 120 (and 2 more problems); "
        "3 of 23 customers are invalid"
    )
    assert error.request_id


def test_a_chunked_batch_is_refused_in_the_words_of_one_request(
    server: Server, keyed_server: Server
) -> None:
    # 150 bad customers: 30 chunks of 5 on the main server, one request on the keyed one.
    bad = [{**customer, "age": 500} for customer in customers(150)]
    with (
        SegmentationClient(keyed_server.url, api_key=API_KEY) as client,
        pytest.raises(InvalidRequestError) as whole,
    ):
        client.segment(bad)
    with (
        SegmentationClient(server.url, max_batch=5) as client,
        pytest.raises(InvalidRequestError) as chunked,
    ):
        client.segment(bad)
    error = chunked.value
    assert len(error.details) == 100
    assert error.details[-1].field == "customers[99].age"
    assert (error.total, error.truncated) == (150, True)
    assert (error.details, error.total, error.message) == (
        whole.value.details,
        whole.value.total,
        whole.value.message,
    )


def test_a_batch_cut_short_after_a_refusal_says_which_customers_were_not_checked(
    server: Server,
) -> None:
    class LosesTheServerAfterTwoChunks(httpx.HTTPTransport):
        """Sends the third POST and those after it to a closed port: the network goes away."""

        posts = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            self.posts += 1
            if self.posts > 2:
                request.url = request.url.copy_with(port=free_port())
            return super().handle_request(request)

    batch = customers(23)
    batch[6]["age"] = 500
    transport = LosesTheServerAfterTwoChunks()
    client = SegmentationClient(
        server.url, max_batch=5, retry=RetryPolicy(retries=0), transport=transport
    )
    with client, pytest.raises(InvalidRequestError) as caught:
        client.segment(batch)
    error = caught.value
    assert [d.field for d in error.details] == ["customers[6].age"]
    assert error.total == 1
    assert error.message.startswith(
        "customers[6].age: value 500 is outside the valid range 0 to 120; "
        "1 of 23 customers are invalid; "
        "customers[10] to customers[22] were not checked (connection_error: "
    )
    assert isinstance(error.__cause__, UnavailableError)


def test_large_batches_are_chunked_under_the_limit_in_order(server: Server) -> None:
    batch = customers(23)
    before = server.requests("/segment", 200)
    with SegmentationClient(server.url, max_batch=5) as client:
        result = client.segment(batch)
    assert server.requests("/segment", 200) - before == 5
    assert [r.customer_id for r in result.results] == [c["customer_id"] for c in batch]
    with SegmentationClient(server.url) as client:
        one_by_one = [client.segment_one(customer) for customer in batch]
    assert result.results == one_by_one
    assert [s.id for s in result.segments] == sorted({r.segment_id for r in result.results})


def test_the_batch_limit_can_be_discovered(server: Server) -> None:
    before = server.requests("/segment", 200)
    with SegmentationClient(server.url, discover_max_batch=True) as client:
        assert client.batch_limit() == 5
        assert len(client.segment(customers(12)).results) == 12
    assert server.requests("/segment", 200) - before == 3


def test_a_limit_above_the_servers_is_a_typed_413(server: Server) -> None:
    before = server.requests("/segment", 413)
    client = SegmentationClient(server.url, max_batch=10)
    with client, pytest.raises(BatchTooLargeError) as caught:
        client.segment(customers(10))
    assert server.requests("/segment", 413) - before == 1
    assert caught.value.code == "batch_too_large"
    assert "5" in caught.value.message


def test_api_key(keyed_server: Server) -> None:
    with SegmentationClient(keyed_server.url, api_key=API_KEY) as client:
        assert len(client.segment(customers(2)).results) == 2
        assert client.model().k == 5
    with SegmentationClient(keyed_server.url) as client:
        assert client.ready().is_ready  # health checks need no key
        with pytest.raises(AuthenticationError) as missing:
            client.segment(customers(1))
    client = SegmentationClient(keyed_server.url, api_key="wrong-key-0123456789abc")
    with client, pytest.raises(PermissionDeniedError) as wrong:
        client.segments()
    assert (missing.value.status, missing.value.code) == (401, "unauthorized")
    assert (wrong.value.status, wrong.value.code) == (403, "forbidden")


def test_503_is_retried_then_raised(modelless_server: Server) -> None:
    before = modelless_server.requests("/segment", 503)
    policy = RetryPolicy(retries=2, backoff=FAST_BACKOFF)
    with SegmentationClient(modelless_server.url, retry=policy) as client:
        assert not client.ready().is_ready
        with pytest.raises(UnavailableError) as caught:
            client.segment(customers(1))
    assert modelless_server.requests("/segment", 503) - before == 3
    error = caught.value
    assert (error.status, error.code, error.attempts) == (503, "model_unavailable", 3)
    assert "no current model" in error.message


def test_a_reload_between_chunks_never_mixes_versions(servers: Servers) -> None:
    server, first, second = servers.reloading, servers.first_version, servers.second_version

    class ReloadAfterFirstChunk(httpx.HTTPTransport):
        """Promote the second bundle as soon as the first chunk is answered."""

        posts = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path == "/segment":
                self.posts += 1
                if self.posts == 1:
                    promote_version(servers.reloading_models, second)
                    reload = httpx.post(f"{server.url}/admin/reload", timeout=10)
                    assert reload.json()["model_version"] == second
            return response

    transport = ReloadAfterFirstChunk()
    outcome: SegmentResult | VersionMismatchError
    with SegmentationClient(server.url, max_batch=5, transport=transport) as client:
        try:
            outcome = client.segment(customers(12))
        except VersionMismatchError as exc:
            outcome = exc
    if isinstance(outcome, VersionMismatchError):  # a server without version pinning
        assert first in outcome.message
        assert outcome.code == "version_mismatch"
    else:  # a server that pins: every chunk comes from the first chunk's version
        assert {r.model_version for r in outcome.results} == {first}
        assert outcome.model_version == first
    assert transport.posts >= 3
