"""What POST /segment does with a body: decode it, score it, encode the answer.

A large body is handled in a worker thread, one at a time per worker process (a FIFO
``CapacityLimiter``): while it is parsed and scored the event loop keeps answering everyone else,
and batches queue in arrival order rather than freezing the loop for each other. Small bodies
(a single customer) are handled inline: a thread hop would cost more than the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread

from segmentation.assigner import Scored
from service.http.arrow_body import ARROW_STREAM
from service.http.batches import Batch
from service.http.request_body import accepts, decode_batch
from service.model.segment_model import SegmentModel

CSV = "text/csv; charset=utf-8"
JSON = "application/json"
# Bodies at least this long are decoded and scored off the event loop (about 300 customers).
OFFLOAD_BYTES = 16 * 1024
# Batches handled at once per worker process; the rest wait their turn, in order.
BATCH_THREADS = 1


@dataclass(frozen=True)
class Answered:
    batch: Batch
    scored: Scored
    body: bytes
    media_type: str


def answer(
    model: SegmentModel,
    max_batch: int,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    explain: bool,
) -> Answered:
    batch = decode_batch(body, content_type, model.schema, max_batch)
    scored = model.assigner.score(batch.rows)
    if batch.layout == "arrow" or (batch.layout != "csv" and accepts(accept, ARROW_STREAM)):
        return Answered(
            batch, scored, model.arrow_answer(batch.echo(), scored, explain=explain), ARROW_STREAM
        )
    if batch.layout == "csv" or accepts(accept, "text/csv"):
        return Answered(batch, scored, model.csv_answer(batch.echo(), scored, explain=explain), CSV)
    if batch.layout == "split":
        encoded = model.respond_split(batch.customer_ids, batch.index, scored, explain=explain)
        return Answered(batch, scored, encoded, JSON)
    encoded = model.respond(batch.customer_ids or [None] * len(batch), scored, explain=explain)
    return Answered(batch, scored, encoded, JSON)


async def answer_request(
    limiter: anyio.CapacityLimiter,
    model: SegmentModel,
    max_batch: int,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    explain: bool,
) -> Answered:
    work = partial(answer, model, max_batch, body, content_type, accept, explain)
    if len(body) < OFFLOAD_BYTES:
        return work()
    return await anyio.to_thread.run_sync(work, limiter=limiter)
