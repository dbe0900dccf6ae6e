"""The page's files and its data: security headers, open without a key, off with SEGMENT_UI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest

from segmentation.bundle import load_bundle
from segmentation.metadata import REPORT_SAMPLE_FILE
from tests.service.conftest import ClientFactory
from tests.service.helpers import assert_error

pytestmark = pytest.mark.anyio

KEY = "ui-key-for-tests-5d2c8e1f"
FILES = {
    "/ui": "text/html",
    "/ui/static/app.js": "text/javascript",
    "/ui/static/app.css": "text/css",
}


@pytest.mark.parametrize(("path", "media_type"), FILES.items())
async def test_the_page_and_its_files_carry_strict_security_headers(
    client: httpx.AsyncClient, path: str, media_type: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("path", "media_type"), FILES.items())
async def test_head_answers_as_get_does_for_link_checkers_and_monitors(
    client: httpx.AsyncClient, path: str, media_type: str
) -> None:
    """HEAD /ui was a 405, which uptime monitors read as the page being down."""
    response = await client.head(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert "content-security-policy" in response.headers


async def test_the_page_has_no_inline_script_or_style_and_no_other_origin(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/ui")).text
    assert "<script>" not in html
    assert "<style" not in html
    assert " style=" not in html
    for needle in ("http://", "https://"):
        assert needle not in html
    assert "https://" not in (await client.get("/ui/static/app.js")).text


async def test_only_the_pages_own_files_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/ui/static/secrets.txt", "/ui/static/..%2F..%2Fsettings.py"):
        response = await client.get(path)
        assert response.status_code == 404


async def test_with_keys_the_page_loads_without_one_but_its_data_does_not(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, api_keys=KEY) as client:
        for path in FILES:
            assert (await client.get(path)).status_code == 200
        assert_error(await client.get("/model/sample"), 401, "unauthorized", "API key")
        allowed = await client.get("/model/sample", headers={"Authorization": f"Bearer {KEY}"})
        assert allowed.status_code == 200


async def test_segment_ui_false_turns_the_page_off(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, ui=False) as client:
        for path in FILES:
            assert (await client.get(path)).status_code == 404


async def test_the_sample_is_the_bundles_stored_one(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    bundle = load_bundle(trained_models)
    stored = pd.read_csv(bundle.path / REPORT_SAMPLE_FILE)
    body = (await client.get("/model/sample")).json()
    assert body["model_version"] == bundle.metadata.version
    assert body["features"] == bundle.metadata.features
    assert body["rows"] == stored[bundle.metadata.features].to_numpy(dtype=float).tolist()
    assert body["segment_ids"] == stored["segment"].tolist()


async def test_a_bundle_without_a_sample_is_a_404_not_a_500(
    tmp_path: Path, trained_copy: object, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    bundle = trained_copy(models)  # type: ignore[operator]
    (bundle.path / REPORT_SAMPLE_FILE).unlink()
    async with make_client(models_dir=models) as client:
        assert_error(
            await client.get("/model/sample"), 404, "not_found", "stores no training sample"
        )
