"""Refuses request bodies over SEGMENT_MAX_BODY_BYTES with 413, before they are parsed.

A declared ``Content-Length`` over the limit is refused without reading a byte. A chunked body
(no length) is counted as it arrives and refused as soon as it passes the limit, so memory for
one request stays bounded by the limit whatever the client sends.
"""

from __future__ import annotations

from service.http.asgi import ASGIApp, Message, Receive, Scope, Send, header
from service.http.errors import BodyTooLarge, api_error_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None:
            # The server holds a body to its declared length, so only the declaration is checked.
            if declared.isdigit() and int(declared) > self.max_bytes:
                refusal = self.refusal(f"the request body is {int(declared):,} bytes")
                await api_error_response(refusal)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self.app(scope, self.counting(receive), send)

    def refusal(self, size: str) -> BodyTooLarge:
        return BodyTooLarge(
            f"{size}, over the limit of {self.max_bytes:,} bytes per request; send smaller batches"
        )

    def counting(self, receive: Receive) -> Receive:
        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the handler's body read, so the error handlers answer 413.
                    raise self.refusal("the request body is larger")
            return message

        return receive_counted
