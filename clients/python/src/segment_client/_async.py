"""The asyncio/trio client, for async services; sends the chunks of a batch concurrently."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from types import TracebackType
from typing import Any

import anyio
import httpx
from anyio.abc import TaskGroup

from segment_client._batches import BatchAssembler, CustomerLike, encode_batch
from segment_client._core import (
    DEFAULT_MAX_BATCH,
    DEFAULT_TIMEOUT,
    JSON,
    ModelT,
    batch_limit,
    make_config,
    parse,
)
from segment_client._frames import ARROW_STREAM, FrameAssembler, as_arrow, slices
from segment_client._refusals import Refusals, chunk_sizes
from segment_client.errors import InvalidRequestError, NotFoundError, SegmentationError
from segment_client.models import (
    Assignment,
    Comparison,
    Lineage,
    Liveness,
    ModelInfo,
    ModelVersions,
    Readiness,
    SegmentList,
    SegmentProfile,
    SegmentResult,
)
from segment_client.retry import NO_RETRIES, Retrier, RetryPolicy

DEFAULT_MAX_CONCURRENCY = 4


class AsyncSegmentationClient:
    """The async twin of SegmentationClient, with the same methods and options.

    The chunks of a large batch are sent ``max_concurrency`` at a time, after the first chunk
    alone: it fixes the model version the others must match, and a refused request (a bad key)
    fails once instead of once per chunk. A chunk refused for its customers (a 422) does not
    stop the others: they are checked too, so that one InvalidRequestError names every problem
    of the batch by its index in the whole batch, as the blocking client does::

        async with AsyncSegmentationClient(url, api_key=key) as client:
            result = await client.segment(customers)
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        discover_max_batch: bool = False,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = make_config(
            base_url,
            api_key=api_key,
            timeout=timeout,
            retry=retry,
            max_batch=max_batch,
            discover_max_batch=discover_max_batch,
            max_concurrency=max_concurrency,
        )
        self._http = httpx.AsyncClient(
            base_url=self._config.base_url,
            headers=self._config.headers(dict(headers or {})),
            timeout=self._config.timeout,
            transport=transport,
        )
        self._limit: int | None = None

    async def __aenter__(self) -> AsyncSegmentationClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def segment(
        self,
        customers: Iterable[CustomerLike],
        *,
        version: str | None = None,
        explain: bool | None = None,
    ) -> SegmentResult:
        """Assign every customer to a segment; results come back in order, from one version.

        When the service refuses a chunk, the other chunks are still checked, and one
        InvalidRequestError names the customers by their index in the whole batch and counts
        the problems of all of it.
        """
        batch = encode_batch(customers, await self.batch_limit())
        bodies = batch.bodies
        assembler = BatchAssembler(version, explain)
        refusals = Refusals(batch.sizes, rows=False)
        going_on = True
        if bodies:
            try:
                going_on = await self._checked_chunk(assembler, refusals, 0, bodies[0])
            except SegmentationError as exc:
                refusals.raise_with(exc)
                raise
        if going_on and len(bodies) > 1:
            limiter = anyio.Semaphore(self._config.max_concurrency)

            async def score(index: int, body: bytes, group: TaskGroup) -> None:
                async with limiter:
                    if not await self._checked_chunk(assembler, refusals, index, body):
                        group.cancel_scope.cancel()  # the others could not tell more

            try:
                async with anyio.create_task_group() as group:
                    for index, body in enumerate(bodies[1:], start=1):
                        group.start_soon(score, index, body, group)
            except BaseExceptionGroup as errors:
                first = _first_error(errors)
                if isinstance(first, SegmentationError):
                    refusals.raise_with(first)
                raise first from first.__cause__  # the chunk's own error, not the group
        refusals.raise_if_any()
        return assembler.merged()

    async def segment_one(
        self, customer: CustomerLike, *, version: str | None = None, explain: bool | None = None
    ) -> Assignment:
        """The segment of a single customer."""
        return (await self.segment([customer], version=version, explain=explain)).results[0]

    async def segment_frame(
        self, frame: Any, *, version: str | None = None, explain: bool | None = None
    ) -> Any:
        """Score a whole table through the Arrow IPC stream, the service's cheapest format.

        ``frame`` is a pandas DataFrame or a pyarrow Table with the model's feature columns
        (snake_case or classic names; other columns are ignored) and optionally
        ``customer_id``. The answer is the same kind: ``customer_id`` when sent, then
        segment_id, segment_name, distance, atypical (and the explanation columns with
        ``explain=True``), one row per customer in order; the model version is in
        ``DataFrame.attrs["model_version"]`` or the Table's schema metadata. Needs pyarrow
        (``pip install 'segment-client[arrow]'``). A refused slice is reported as ``segment``
        reports a refused chunk, with rows numbered over the whole table (``row 16.age``).
        """
        table, as_pandas = as_arrow(frame)
        assembler = FrameAssembler(version, explain)
        limit = await self.batch_limit()
        refusals = Refusals(chunk_sizes(table.num_rows, limit), rows=True)
        for index, body in enumerate(slices(table, limit)):
            params = assembler.params()
            with refusals.sending(index):
                try:
                    response = await self._request(
                        "POST", "/segment", params=params, content=body, content_type=ARROW_STREAM
                    )
                except NotFoundError as exc:
                    raise assembler.pin_refused(exc, version) from exc
                assembler.accept(index, response.content)
            if refusals.stopped:
                break
        refusals.raise_if_any()
        return assembler.merged(as_pandas)

    async def segments(self) -> SegmentList:
        """Profiles of every segment of the model being served."""
        return await self._get(SegmentList, "/segments")

    async def segment_profile(self, segment_id: int) -> SegmentProfile:
        """One segment's profile; NotFoundError for an unknown id."""
        return await self._get(SegmentProfile, f"/segments/{int(segment_id)}")

    async def model(self) -> ModelInfo:
        """Metadata of the model bundle being served."""
        return await self._get(ModelInfo, "/model")

    async def lineage(self, version: str | None = None) -> Lineage | None:
        """How the served model's (or ``version``'s) segment ids follow the model it replaced;
        None for a model trained before alignment."""
        params = {"version": version} if version else None
        return (await self._get(ModelInfo, "/model", params)).lineage

    async def comparison(
        self, against: str | None = None, version: str | None = None
    ) -> Comparison:
        """What changes for customers: the comparison the served model (or ``version``) recorded
        at training against the model it replaced, or, with ``against``, one computed by the
        service against that served version on the model's stored training sample."""
        params = {
            key: value for key, value in (("against", against), ("version", version)) if value
        }
        return await self._get(Comparison, "/model/comparison", params or None)

    async def models(self) -> ModelVersions:
        """The model versions the service holds (NotFoundError on services without GET /models)."""
        return await self._get(ModelVersions, "/models")

    async def live(self) -> Liveness:
        """Liveness, asked once: a probe should report, not retry."""
        return parse(Liveness, await self._request("GET", "/health/live", retry=NO_RETRIES))

    async def ready(self) -> Readiness:
        """Readiness, asked once; a service without a model answers ``not_ready``, not an error."""
        response = await self._request("GET", "/health/ready", retry=NO_RETRIES, answers=(503,))
        return parse(Readiness, response)

    async def batch_limit(self) -> int:
        """Most customers per request: ``max_batch``, or lower if discovered from the service."""
        if self._limit is not None:
            return self._limit
        if not self._config.discover_max_batch:
            self._limit = self._config.max_batch
            return self._limit
        try:
            openapi = await self._http.get("/openapi.json")
        except httpx.HTTPError:
            return self._config.max_batch  # not cached: ask again once the service is up
        self._limit = batch_limit(self._config.max_batch, openapi)
        return self._limit

    async def _checked_chunk(
        self, assembler: BatchAssembler, refusals: Refusals, index: int, body: bytes
    ) -> bool:
        """Score chunk ``index``, or keep its 422; False when the other chunks need not be sent."""
        try:
            await self._score_chunk(assembler, index, body)
        except InvalidRequestError as exc:
            return refusals.refused(index, exc)
        refusals.passed(index)
        return True

    async def _score_chunk(self, assembler: BatchAssembler, index: int, body: bytes) -> None:
        while True:
            params = assembler.params()
            try:
                response = await self._request("POST", "/segment", params=params, content=body)
            except NotFoundError as exc:
                raise assembler.pin_refused(exc, params) from exc
            if assembler.accept(index, parse(SegmentResult, response), params):
                return

    async def _get(
        self, model: type[ModelT], path: str, params: dict[str, str] | None = None
    ) -> ModelT:
        return parse(model, await self._request("GET", path, params=params))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        retry: RetryPolicy | None = None,
        answers: Collection[int] = (),
        content_type: str = JSON,
    ) -> httpx.Response:
        """Send with retries; a status in ``answers`` is returned like a 2xx."""
        retrier = Retrier(retry or self._config.retry, f"{method} {path}")
        headers = None
        if content is not None:
            headers = {"Content-Type": content_type}
            if content_type != JSON:
                headers["Accept"] = content_type
        while True:
            try:
                response = await self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                await anyio.sleep(retrier.after_transport_error(exc))
                continue
            if response.status_code in answers:
                return response
            delay = retrier.after_response(response)
            if delay is None:
                return response
            await anyio.sleep(delay)


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that failed the batch; the other chunks were only cancelled because of it."""
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first
