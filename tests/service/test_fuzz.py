"""Property-based fuzzing of the app's own OpenAPI schema with schemathesis.

Every operation gets generated requests, valid and invalid; every response must be documented
(status, content type, headers, body schema) and none may be a 5xx. Runs are derandomised, so
CI sees the same cases every time.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import API_KEY, AUTH

# Generated cases per operation and mode; POST /segment, the one with a real body, gets most.
EXAMPLES = {"POST /segment": 350, "GET /segments/{segment_id}": 60}
DEFAULT_EXAMPLES = 40
MINIMUM_TOTAL = 1000
WRONG_KEY = "Bearer not-the-configured-key-0000"
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # An invalid request must be refused with a 4xx. 413 is how a body or batch over its
            # documented limit is refused, which schemathesis does not count by default.
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422]
            },
            # Which features a customer needs depends on the loaded model, which a static schema
            # cannot say, so a schema-valid body may rightly get a 422: that check is left out.
            "positive_data_acceptance": {"enabled": False},
        }
    }
)


def fuzz(
    operation: APIOperation,
    mode: GenerationMode,
    examples: int,
    calls: Counter[str],
    statuses: Counter[int],
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        calls[label] += 1
        # One case in ten goes without a key, or with a wrong one: refusals must conform too.
        headers = AUTH
        if calls[label] % 10 == 0:
            headers = {"Authorization": "" if calls[label] % 20 else WRONG_KEY}
        response = case.call_and_validate(headers=headers)
        statuses[response.status_code] += 1

    try:
        run()
    except Unsatisfiable:
        # An operation without parameters or body has no invalid request to generate.
        if mode is GenerationMode.POSITIVE:
            raise


def test_the_api_conforms_to_its_schema_under_fuzzing(trained_models: Path) -> None:
    settings = Settings(
        models_dir=trained_models, api_keys=(API_KEY,), max_batch=20, max_body_bytes=65536
    )
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(settings), headers=AUTH, config=CONFIG
    )
    calls: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            examples = EXAMPLES.get(
                f"{operation.method.upper()} {operation.path}", DEFAULT_EXAMPLES
            )
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, mode, examples, calls, statuses)
    finally:
        asgi.shutdown_lifespans()
    assert sum(calls.values()) >= MINIMUM_TOTAL, calls
    assert len(calls) == operations >= 10, calls
    assert not [status for status in statuses if status >= 500], statuses
    assert {200, 401, 403, 422} <= set(statuses), statuses
