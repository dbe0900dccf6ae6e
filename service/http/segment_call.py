"""What a scoring request does with its body, whichever protocol it speaks: decode, check,
score, encode.

Each protocol (``POST /segment``'s own formats, MLflow's ``/invocations``, the Open Inference
Protocol's ``infer``) is a :class:`ScoringCall`: it only decodes its body into columns and
encodes the assignments in its own wire format. The one check of the schema, the one scorer, and
(in the gateway) the API keys, limits, version pinning, metrics, drift and the log line are the
same for all of them.

A large body is handled in a worker thread, one at a time per worker process (a FIFO
``CapacityLimiter``): while it is parsed and scored the event loop keeps answering everyone else,
and batches queue in arrival order rather than freezing the loop for each other. Small bodies
(a single customer) are handled inline: a thread hop would cost more than the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol

import anyio
import anyio.to_thread

from segmentation.assigner import Scored
from segmentation.schema import FeatureSchema
from service.http.batches import Batch, Decoded, checked
from service.model.segment_model import SegmentModel

# Bodies at least this long are decoded and scored off the event loop (about 300 customers).
OFFLOAD_BYTES = 16 * 1024
# Batches handled at once per worker process; the rest wait their turn, in order.
BATCH_THREADS = 1


@dataclass(frozen=True)
class Encoded:
    """An answer in a protocol's wire format."""

    body: bytes
    media_type: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


class ScoringCall(Protocol):
    """One scoring request of one protocol, its query and path already read."""

    @property
    def protocol(self) -> str:
        """The protocol's name in metrics: segment, mlflow or v2."""

    @property
    def version(self) -> str | None:
        """The bundle version the request pins, if any."""

    @property
    def marks_invalid_rows(self) -> bool:
        """Answer every row, failing ones with their reason, rather than refusing the body
        (the batch then carries :class:`~service.http.batches.RowMarks`)."""

    def decode(self, body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
        """The body's customers as columns under the schema's names (not yet checked)."""

    def encode(self, model: SegmentModel, batch: Batch, scored: Scored) -> Encoded:
        """The answer to the checked and scored customers (and to the marked ones)."""


@dataclass(frozen=True)
class Answered:
    batch: Batch
    scored: Scored
    encoded: Encoded


def answer(call: ScoringCall, model: SegmentModel, max_batch: int, body: bytes) -> Answered:
    """Decode, check, score, encode: one way for every protocol and body format."""
    decoded = call.decode(body, model.schema, max_batch)
    batch = checked(decoded, model.schema, mark_invalid_rows=call.marks_invalid_rows)
    scored = model.assigner.score(batch.rows)
    return Answered(batch, scored, call.encode(model, batch, scored))


async def answer_request(
    limiter: anyio.CapacityLimiter,
    call: ScoringCall,
    model: SegmentModel,
    max_batch: int,
    body: bytes,
) -> Answered:
    work = partial(answer, call, model, max_batch, body)
    if len(body) < OFFLOAD_BYTES:
        return work()
    return await anyio.to_thread.run_sync(work, limiter=limiter)
