"""Typed results: newer fields parse, unknown fields are ignored, unreadable bodies are errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from segment_client import (
    Customer,
    ModelVersions,
    ResponseFormatError,
    SegmentationClient,
    SegmentResult,
)

UPGRADED: dict[str, Any] = {
    "model_version": "v2",
    "results": [
        {
            "customer_id": 7,
            "segment_id": 1,
            "segment_name": "Young, low income, high spending",
            "distance": 1.25,
            "model_version": "v2",
            "atypical": True,
            "explanation": {
                "runner_up_segment_id": 3,
                "runner_up_distance": 1.75,
                "margin": 0.5,
                "confidence": 0.8,
                "contributions": {"age": 0.2, "annual_income": 1.0, "spending_score": 0.05},
                "added_later": "ignored",
            },
            "added_later": [1, 2],
        }
    ],
    "segments": [
        {
            "id": 1,
            "name": "Young, low income, high spending",
            "auto_name": "Young, low income, high spending",
            "size": 10,
            "share": 0.25,
            "centroid": {"age": 25.0},
            "features": {},
            "distance_p99": 2.5,
        }
    ],
}


def test_newer_fields_parse_and_unknown_ones_are_ignored() -> None:
    result = SegmentResult.model_validate(UPGRADED)
    assignment = result.results[0]
    assert assignment.atypical is True
    assert assignment.explanation is not None
    assert assignment.explanation.runner_up_segment_id == 3
    assert assignment.explanation.contributions["annual_income"] == 1.0
    assert result.profile(1).share == 0.25
    with pytest.raises(KeyError):
        result.profile(0)


def test_older_responses_leave_the_newer_fields_empty() -> None:
    older = {
        **UPGRADED,
        "results": [
            {
                k: v
                for k, v in UPGRADED["results"][0].items()
                if k not in {"atypical", "explanation"}
            }
        ],
    }
    assignment = SegmentResult.model_validate(older).results[0]
    assert (assignment.atypical, assignment.explanation) == (None, None)


def served(version: str, *, current: bool) -> dict[str, Any]:
    """One entry of GET /models, as the service writes it."""
    return {
        "version": version,
        "current": current,
        "k": 5,
        "features": ["age", "annual_income", "spending_score"],
        "created_at": "2026-11-27T00:18:03Z",
    }


def test_model_versions_read_the_services_model_list() -> None:
    body = {"current": "v2", "models": [served("v2", current=True), served("v1", current=False)]}
    versions = ModelVersions.model_validate(body)
    assert versions.current == "v2"
    assert versions.versions == ["v2", "v1"]


def test_a_service_without_a_model_has_no_current_version() -> None:
    versions = ModelVersions.model_validate({"current": None, "models": []})
    assert (versions.current, versions.versions) == (None, [])


@pytest.mark.parametrize("body", [["v1", "v2"], {"current": "v2"}, {"models": "v1"}])
def test_other_shapes_are_not_a_model_list(body: Any) -> None:
    with pytest.raises(ValidationError):
        ModelVersions.model_validate(body)


def test_an_unreadable_success_is_a_typed_error() -> None:
    page = httpx.Response(200, text="<html>captive portal</html>")
    transport = httpx.MockTransport(lambda _: page)
    client = SegmentationClient("http://stub", transport=transport)
    with client, pytest.raises(ResponseFormatError, match="not a SegmentList"):
        client.segments()


def test_a_customer_takes_any_fields_and_numpy_values_as_plain_json() -> None:
    import numpy as np

    customer = Customer(customer_id="R-1", tenure_months=np.int64(30), member=np.bool_(True))
    assert customer.model_dump(exclude_none=True) == {
        "customer_id": "R-1",
        "tenure_months": 30,
        "member": True,
    }
    assert type(customer.model_dump()["tenure_months"]) is int
