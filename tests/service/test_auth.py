"""API keys: who may call what, how keys are compared, and which keys are refused at start-up."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from service.app import create_app
from service.http import auth
from service.settings import Settings, describe_settings_error, get_settings
from tests.service.conftest import API_KEY, AUTH, OTHER_API_KEY, ClientFactory
from tests.service.helpers import CUSTOMER, assert_error

pytestmark = pytest.mark.anyio

PROTECTED = [
    ("POST", "/segment"),
    ("GET", "/segments"),
    ("GET", "/segments/0"),
    ("GET", "/model"),
    ("GET", "/drift"),
    ("POST", "/drift/reset"),
    ("POST", "/admin/reload"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/no-such-path"),
    ("GET", "/health/live/"),  # only the exact health paths are open
]


async def call(
    client: httpx.AsyncClient, method: str, path: str, **kwargs: object
) -> httpx.Response:
    if method == "POST" and path == "/segment":
        kwargs.setdefault("json", CUSTOMER)
    return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_every_endpoint_but_the_health_checks_needs_a_key(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, api_keys=(API_KEY,)) as client:
        for method, path in PROTECTED:
            missing = await call(client, method, path)
            assert_error(missing, 401, "unauthorized", "needs an API key")
            assert missing.headers["www-authenticate"].startswith("Bearer")
            wrong = await call(client, method, path, headers={"X-API-Key": OTHER_API_KEY})
            assert_error(wrong, 403, "forbidden", "the API key is not valid")
            allowed = await call(client, method, path, headers=AUTH)
            assert allowed.status_code not in (401, 403), (method, path)
        for path in ("/health/live", "/health/ready"):
            assert (await client.get(path)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {API_KEY}"},
        {"Authorization": f"bearer   {API_KEY}"},
        {"X-API-Key": API_KEY},
        {"X-API-Key": OTHER_API_KEY},
        {"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": OTHER_API_KEY},
    ],
)
async def test_either_header_and_any_configured_key_is_accepted(
    trained_models: Path, make_client: ClientFactory, headers: dict[str, str]
) -> None:
    keys = (API_KEY, OTHER_API_KEY)
    async with make_client(models_dir=trained_models, api_keys=keys) as client:
        assert (await client.post("/segment", json=CUSTOMER, headers=headers)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": f"Basic {API_KEY}"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"X-API-Key": ""}, 401),
        ({"Authorization": f"Bearer {API_KEY}x"}, 403),
        ({"X-API-Key": API_KEY[:-1]}, 403),
    ],
)
async def test_malformed_or_near_miss_credentials_are_refused(
    trained_models: Path, make_client: ClientFactory, headers: dict[str, str], status: int
) -> None:
    async with make_client(models_dir=trained_models, api_keys=(API_KEY,)) as client:
        assert (await client.get("/segments", headers=headers)).status_code == status


async def test_without_configured_keys_the_api_is_open(client: httpx.AsyncClient) -> None:
    assert (await client.post("/segment", json=CUSTOMER)).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_metrics_and_docs_can_be_opened_by_settings(
    trained_models: Path, make_client: ClientFactory
) -> None:
    settings = {"models_dir": trained_models, "api_keys": (API_KEY,)}
    async with make_client(**settings, metrics_public=True) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 401
        assert (await client.get("/segments")).status_code == 401
    async with make_client(**settings, docs_public=True) as client:
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/metrics")).status_code == 401


async def test_keys_never_appear_in_responses_or_logs(
    trained_models: Path, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_client(models_dir=trained_models, api_keys=(API_KEY,)) as client:
        wrong = await client.get("/segments", headers={"Authorization": f"Bearer {OTHER_API_KEY}"})
        right = await client.post("/segment", json=CUSTOMER, headers=AUTH)
        reload = await client.post("/admin/reload", headers={"X-API-Key": API_KEY})
    assert right.status_code == reload.status_code == 200
    for response in (wrong, right, reload):
        assert API_KEY not in response.text
        assert OTHER_API_KEY not in response.text
        assert not any(
            API_KEY in value or OTHER_API_KEY in value for value in response.headers.values()
        )
    assert caplog.records, "the requests were logged"
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        assert API_KEY not in text
        assert OTHER_API_KEY not in text


async def test_keys_are_compared_in_constant_time_against_every_key(
    trained_models: Path, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    keys = (API_KEY, OTHER_API_KEY, "third-key-0f1e2d3c4b5a6978")
    async with make_client(models_dir=trained_models, api_keys=keys) as client:
        for headers in ({"X-API-Key": API_KEY}, {"X-API-Key": "not-a-key-at-all-000000"}):
            compared.clear()
            await client.get("/segments", headers=headers)
            # Every configured key is compared, whether the first matched or none did, and
            # always as fixed-length digests so the key's length does not show either.
            assert len(compared) == len(keys)
            assert {len(a) for a, _ in compared} | {len(b) for _, b in compared} == {32}


def test_keys_are_read_from_a_file_too(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# rotated 2026-11\n\n{OTHER_API_KEY}\n  {API_KEY}  \n")
    settings = Settings(api_keys=(API_KEY,), api_keys_file=key_file)
    assert settings.configured_api_keys() == (API_KEY, OTHER_API_KEY)
    assert API_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is empty"),
        (" , ", "is empty"),
        (f"{API_KEY},", "key 2 is empty"),
        ("changeme", "placeholder"),
        ("CHANGE_ME-0123456789abcdef", "placeholder"),
        ("my-secret-token-value-123", "placeholder"),
        ("<your-api-key>", "template"),
        ("${API_KEY}", "template"),
        ("short-9f8e7d", "use at least 16"),
        ("a" * 32, "repetitive"),
        ("key with spaces 0123456789", "printable ASCII"),
    ],
)
def test_placeholder_short_or_empty_keys_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("SEGMENT_API_KEYS", value)
    with pytest.raises(ValidationError) as refused:
        get_settings()
    described = describe_settings_error(refused.value)
    assert described.startswith("SEGMENT_API_KEYS key")
    assert message in described
    if value.strip(" ,"):
        assert value.strip(" ,") not in described
        assert value.strip(" ,") not in str(refused.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it"),
        ("# only a comment\n\n", "holds no key"),
        (f"{API_KEY}\nreplace-me-with-a-real-key\n", "line 2 looks like a placeholder"),
    ],
)
def test_a_bad_key_file_is_refused_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, message: str
) -> None:
    key_file = tmp_path / "keys"
    if content is not None:
        key_file.write_text(content)
    monkeypatch.setenv("SEGMENT_API_KEYS_FILE", str(key_file))
    with pytest.raises(ValidationError) as refused:
        get_settings()
    assert message in describe_settings_error(refused.value)


async def test_openapi_documents_the_key_requirement(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, api_keys=(API_KEY,)) as client:
        schema = (await client.get("/openapi.json", headers=AUTH)).json()
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyHeader"}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if path.startswith("/health/"):
                assert "security" not in operation
                assert "401" not in operation["responses"]
            else:
                assert operation["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
                assert {"401", "403"} <= set(operation["responses"]), path
    async with make_client(models_dir=trained_models) as client:
        open_schema = (await client.get("/openapi.json")).json()
    assert "securitySchemes" not in open_schema["components"]


async def test_health_checks_stay_open_behind_a_proxy_prefix(trained_models: Path) -> None:
    app = create_app(Settings(models_dir=trained_models, api_keys=(API_KEY,)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, root_path="/api")
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/api/health/live")).status_code == 200
            assert (await client.get("/api/health/ready")).status_code == 200
            assert (await client.get("/api/segments")).status_code == 401
            assert (await client.get("/api/segments", headers=AUTH)).status_code == 200
