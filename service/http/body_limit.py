"""Refuses request bodies over SEGMENT_MAX_BODY_BYTES with 413, before they are parsed.

A declared ``Content-Length`` over the limit is refused without parsing a byte. A chunked body
(no length) is counted as it arrives and refused as soon as it passes the limit, so memory for
one request stays bounded by the limit whatever the client sends.

Many clients (Python's urllib, Java's HttpURLConnection) write the whole body before they read
the answer. Answering and closing while they still write makes the kernel reset the connection,
and they report a reset instead of the 413. So, like nginx's lingering close, the rest of the
body is read and thrown away first, up to ``DRAIN_FACTOR`` times the limit and
``DRAIN_SECONDS``; a body beyond that bound gets the 413 with ``Connection: close`` at once,
and such a client may see a reset.
"""

from __future__ import annotations

import anyio

from service.http.asgi import Message, Receive, Scope, Send, header
from service.http.errors import (
    BodyTooLarge,
    BodyTooLargeClosing,
    Refuse,
    api_error_response,
)

DRAIN_FACTOR = 4
DRAIN_SECONDS = 5.0


class BodyLimit:
    """Applied by the gateway to every request before it reaches a handler."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def guard(
        self, scope: Scope, receive: Receive, send: Send, refuse: Refuse = api_error_response
    ) -> Receive | None:
        """The receive to read the body with, or None when the request was refused with 413
        (in the error shape of ``refuse``: the protocol the request speaks)."""
        declared = header(scope, b"content-length")
        if declared is None:
            return self.counting(receive)
        # The server holds a body to its declared length, so only the declaration is checked.
        if declared.isdigit() and int(declared) > self.max_bytes:
            size = int(declared)
            drained = size <= self.drain_bound and await self.drain(receive, 0)
            refusal = self.refusal(f"the request body is {size:,} bytes", drained=drained)
            await refuse(refusal)(scope, receive, send)
            return None
        return receive

    @property
    def drain_bound(self) -> int:
        return DRAIN_FACTOR * self.max_bytes

    def refusal(self, size: str, *, drained: bool) -> BodyTooLarge:
        # Part of an undrained body is still unread: the connection cannot carry another request.
        kind = BodyTooLarge if drained else BodyTooLargeClosing
        return kind(
            f"{size}, over the limit of {self.max_bytes:,} bytes per request; send smaller batches"
        )

    async def drain(self, receive: Receive, received: int) -> bool:
        """Read and discard the rest of the body; False if the bound came first."""
        with anyio.move_on_after(DRAIN_SECONDS):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return False
                received += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
                if received > self.drain_bound:
                    return False
        return False

    def counting(self, receive: Receive) -> Receive:
        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    complete = not message.get("more_body", False)
                    drained = complete or await self.drain(receive, received)
                    # Raised inside the handler's body read, so the error handlers answer 413.
                    raise self.refusal("the request body is larger", drained=drained)
            return message

        return receive_counted
