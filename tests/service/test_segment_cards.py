"""GET /segments and /segments/{id} carry each segment's plain-language profile, made when the
bundle loads (the bundle itself stores none, so bundles written before get it too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segmentation.metadata import METADATA_FILE, current_version, read_metadata
from segmentation.profile_text import profile_texts
from tests.service.conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_every_segment_has_its_sentence(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    bundle_dir = trained_models / current_version(trained_models)
    stored = json.loads((bundle_dir / METADATA_FILE).read_text())
    assert all("profile_text" not in segment for segment in stored["segments"])
    expected = profile_texts(read_metadata(bundle_dir))
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        listed = (await client.get("/segments")).json()["segments"]
        one = (await client.get(f"/segments/{listed[0]['id']}")).json()
    assert {s["id"]: s["profile_text"] for s in listed} == expected
    assert all(text.startswith("Customers ") for text in expected.values())
    assert one["profile_text"] == expected[listed[0]["id"]]
