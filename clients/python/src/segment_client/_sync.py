"""The blocking client, for scripts, notebooks and threaded services."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

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
from segment_client.errors import NotFoundError
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


class SegmentationClient:
    """Calls the segmentation service, retrying what may pass and splitting large batches.

    Use it as a context manager (or call ``close()``) so its connections are released::

        with SegmentationClient("http://127.0.0.1:8000", api_key=key) as client:
            result = client.segment(customers)
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
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = make_config(
            base_url,
            api_key=api_key,
            timeout=timeout,
            retry=retry,
            max_batch=max_batch,
            discover_max_batch=discover_max_batch,
            max_concurrency=1,
        )
        self._http = httpx.Client(
            base_url=self._config.base_url,
            headers=self._config.headers(dict(headers or {})),
            timeout=self._config.timeout,
            transport=transport,
        )
        self._limit: int | None = None

    def __enter__(self) -> SegmentationClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def segment(
        self,
        customers: Iterable[CustomerLike],
        *,
        version: str | None = None,
        explain: bool | None = None,
    ) -> SegmentResult:
        """Assign every customer to a segment; results come back in order, from one version.

        A batch over the batch limit is sent in chunks, one after the other. ``version`` pins a
        model version; ``explain`` turns the per-customer explanation on or off (None: the
        service's default). When the service refuses a chunk, the other chunks are still
        checked, and one InvalidRequestError names the customers by their index in the whole
        batch and counts the problems of all of it.
        """
        batch = encode_batch(customers, self.batch_limit())
        assembler = BatchAssembler(version, explain)
        refusals = Refusals(batch.sizes, rows=False)
        for index, body in enumerate(batch.bodies):
            with refusals.sending(index):
                while True:
                    params = assembler.params()
                    result = self._post_segment(body, params, assembler)
                    if assembler.accept(index, result, params):
                        break
            if refusals.stopped:
                break
        refusals.raise_if_any()
        return assembler.merged()

    def segment_one(
        self, customer: CustomerLike, *, version: str | None = None, explain: bool | None = None
    ) -> Assignment:
        """The segment of a single customer."""
        return self.segment([customer], version=version, explain=explain).results[0]

    def segment_frame(
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
        limit = self.batch_limit()
        refusals = Refusals(chunk_sizes(table.num_rows, limit), rows=True)
        for index, body in enumerate(slices(table, limit)):
            params = assembler.params()
            with refusals.sending(index):
                try:
                    response = self._request(
                        "POST", "/segment", params=params, content=body, content_type=ARROW_STREAM
                    )
                except NotFoundError as exc:
                    raise assembler.pin_refused(exc, version) from exc
                assembler.accept(index, response.content)
            if refusals.stopped:
                break
        refusals.raise_if_any()
        return assembler.merged(as_pandas)

    def segments(self) -> SegmentList:
        """Profiles of every segment of the model being served."""
        return self._get(SegmentList, "/segments")

    def segment_profile(self, segment_id: int) -> SegmentProfile:
        """One segment's profile; NotFoundError for an unknown id."""
        return self._get(SegmentProfile, f"/segments/{int(segment_id)}")

    def model(self) -> ModelInfo:
        """Metadata of the model bundle being served."""
        return self._get(ModelInfo, "/model")

    def lineage(self, version: str | None = None) -> Lineage | None:
        """How the served model's (or ``version``'s) segment ids follow the model it replaced;
        None for a model trained before alignment."""
        params = {"version": version} if version else None
        return (self._get(ModelInfo, "/model", params)).lineage

    def comparison(self, against: str | None = None, version: str | None = None) -> Comparison:
        """What changes for customers: the comparison the served model (or ``version``) recorded
        at training against the model it replaced, or, with ``against``, one computed by the
        service against that served version on the model's stored training sample."""
        params = {
            key: value for key, value in (("against", against), ("version", version)) if value
        }
        return self._get(Comparison, "/model/comparison", params or None)

    def models(self) -> ModelVersions:
        """The model versions the service holds (NotFoundError on services without GET /models)."""
        return self._get(ModelVersions, "/models")

    def live(self) -> Liveness:
        """Liveness, asked once: a probe should report, not retry."""
        return parse(Liveness, self._request("GET", "/health/live", retry=NO_RETRIES))

    def ready(self) -> Readiness:
        """Readiness, asked once; a service without a model answers ``not_ready``, not an error."""
        response = self._request("GET", "/health/ready", retry=NO_RETRIES, answers=(503,))
        return parse(Readiness, response)

    def batch_limit(self) -> int:
        """Most customers per request: ``max_batch``, or lower if discovered from the service."""
        if self._limit is not None:
            return self._limit
        if not self._config.discover_max_batch:
            self._limit = self._config.max_batch
            return self._limit
        try:
            openapi = self._http.get("/openapi.json")
        except httpx.HTTPError:
            return self._config.max_batch  # not cached: ask again once the service is up
        self._limit = batch_limit(self._config.max_batch, openapi)
        return self._limit

    def _post_segment(
        self, body: bytes, params: dict[str, str], assembler: BatchAssembler
    ) -> SegmentResult:
        try:
            response = self._request("POST", "/segment", params=params, content=body)
        except NotFoundError as exc:
            raise assembler.pin_refused(exc, params) from exc
        return parse(SegmentResult, response)

    def _get(self, model: type[ModelT], path: str, params: dict[str, str] | None = None) -> ModelT:
        return parse(model, self._request("GET", path, params=params))

    def _request(
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
                response = self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                time.sleep(retrier.after_transport_error(exc))
                continue
            if response.status_code in answers:
                return response
            delay = retrier.after_response(response)
            if delay is None:
                return response
            time.sleep(delay)
