"""What the service tests share: a valid customer and the check of the one error shape."""

from __future__ import annotations

from typing import Any

import httpx

CUSTOMER = {"age": 31, "annual_income": 72, "spending_score": 81}


def assert_error(response: httpx.Response, status: int, code: str, text: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "total", "truncated"}
    # At most 100 problems are listed; the total counts them all, and the flag says so.
    assert len(error["details"]) <= 100
    assert error["total"] >= len(error["details"])
    assert error["truncated"] == (error["total"] > len(error["details"]))
    assert body["error"]["code"] == code
    assert text in body["error"]["message"], body["error"]
    return body["error"]  # type: ignore[no-any-return]
