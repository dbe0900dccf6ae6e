"""Which protocol a path speaks: its scoring endpoint (answered by the gateway) and the shape
its errors are worded in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.http.asgi import Scope
from service.http.errors import Refuse, api_error_response
from service.http.protocols.mlflow import (
    INVOCATIONS_PATH,
    MLFLOW_PATHS,
    mlflow_refusal,
    start_invocations,
)
from service.http.protocols.open_inference import (
    V2_PREFIX,
    infer_route,
    start_infer,
    v2_refusal,
)
from service.http.protocols.segment import SEGMENT_PATH, start_segment
from service.http.segment_call import ScoringCall


@dataclass(frozen=True)
class Endpoint:
    """A scoring route: ``path`` is its template, which logs and metrics name it by."""

    path: str
    # Reads the query and path parameters (a 4xx names a bad one) into the request's call.
    start: Callable[[Scope, dict[str, str]], ScoringCall]


_EXACT = {
    SEGMENT_PATH: Endpoint(SEGMENT_PATH, lambda scope, _: start_segment(scope)),
    INVOCATIONS_PATH: Endpoint(INVOCATIONS_PATH, start_invocations),
}


def scoring_endpoint(path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The scoring endpoint a POST to ``path`` reaches, with its path parameters."""
    endpoint = _EXACT.get(path)
    if endpoint is not None:
        return endpoint, {}
    if path.startswith(V2_PREFIX):
        found = infer_route(path)
        if found is not None:
            template, params = found
            return Endpoint(template, start_infer), params
    return None


def refusal_for(path: str) -> Refuse:
    """How errors on ``path`` are worded: MLflow's and the Open Inference Protocol's paths in
    their protocol's shape, every other path in this service's own."""
    if path.startswith(V2_PREFIX):
        return v2_refusal
    if path in MLFLOW_PATHS:
        return mlflow_refusal
    return api_error_response
