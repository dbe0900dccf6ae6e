"""Which requests come from the service's own web page.

The page at /ui tries customers and scores files a marketer drops on it; those are not the
customers the business sees, so they are answered as usual but never counted as customers seen:
not by drift, not by the segment history. Metrics of requests still count them (they are load).
"""

from __future__ import annotations

from service.http.asgi import Scope, header

SOURCE_HEADER = "X-Segment-Source"
PAGE_SOURCE = "ui"
_SOURCE_HEADER = SOURCE_HEADER.lower().encode("ascii")


def from_page(scope: Scope) -> bool:
    """True for a request marked ``X-Segment-Source: ui`` (the value in any letter case)."""
    value = header(scope, _SOURCE_HEADER)
    return value is not None and value.strip().lower() == PAGE_SOURCE.encode("ascii")
