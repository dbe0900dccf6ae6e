"""Every answer the web page uses names the version it came from (a body field or the
X-Model-Version header), ?version=V pins each of them, and a version no longer served is a 404
naming ``version``: how a page notices a reload."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import TrainFn
from tests.service.conftest import ClientFactory
from tests.service.helpers import assert_error

pytestmark = pytest.mark.anyio

# Each GET the page makes, and the body field that names the version (None: the header only).
GETS = {
    "/model": "version",
    "/segments": "model_version",
    "/segments/0": None,
    "/segments/history": "model_version",
    "/drift": "model_version",
    "/model/sample": "model_version",
}


@pytest.fixture
def two_versions(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn
) -> tuple[Path, str, str]:
    old = trained_copy(tmp_path / "models", k=3).metadata.version
    new = train_into(tmp_path / "models", k=4).metadata.version
    return tmp_path / "models", old, new


def served_version(response: httpx.Response, field: str | None) -> str:
    assert response.status_code == 200, response.text
    header = response.headers["X-Model-Version"]
    if field is not None:
        assert response.json()[field] == header
    return header


@pytest.mark.parametrize(("path", "field"), GETS.items())
async def test_every_get_names_its_version_and_can_be_pinned(
    two_versions: tuple[Path, str, str],
    tmp_path: Path,
    make_client: ClientFactory,
    path: str,
    field: str | None,
) -> None:
    models, old, new = two_versions
    async with make_client(
        models_dir=models, extra_versions=(old,), state_dir=tmp_path / "state"
    ) as client:
        current = await client.get(path)
        pinned = await client.get(path, params={"version": old})
        gone = await client.get(path, params={"version": "20200101T000000Z-00000000"})
    assert served_version(current, field) == new
    assert served_version(pinned, field) == old
    error = assert_error(gone, 404, "not_found", "'20200101T000000Z-00000000' is not served")
    assert error["details"][0]["field"] == "query.version"


async def test_pinned_answers_are_the_pinned_versions_own(
    two_versions: tuple[Path, str, str], tmp_path: Path, make_client: ClientFactory
) -> None:
    models, old, _ = two_versions
    async with make_client(
        models_dir=models, extra_versions=(old,), state_dir=tmp_path / "state"
    ) as client:
        segments = (await client.get("/segments", params={"version": old})).json()
        drift = (await client.get("/drift", params={"version": old})).json()
    assert len(segments["segments"]) == 3
    assert len(drift["segments"]) == 3


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"age": 31, "annual_income": 72, "spending_score": 81}'),
        ("text/csv", b"age,annual_income,spending_score\n31,72,81\n"),
    ],
)
async def test_scoring_answers_name_their_version_json_and_csv(
    two_versions: tuple[Path, str, str],
    tmp_path: Path,
    make_client: ClientFactory,
    content_type: str,
    body: bytes,
) -> None:
    models, old, new = two_versions
    async with make_client(
        models_dir=models, extra_versions=(old,), state_dir=tmp_path / "state"
    ) as client:
        headers = {"Content-Type": content_type}
        current = await client.post("/segment", content=body, headers=headers)
        pinned = await client.post(f"/segment?version={old}", content=body, headers=headers)
        gone = await client.post("/segment?version=v-gone", content=body, headers=headers)
    assert current.headers["X-Model-Version"] == new
    assert pinned.headers["X-Model-Version"] == old
    if content_type == "application/json":
        assert current.json()["model_version"] == new
        assert pinned.json()["model_version"] == old
    error = assert_error(gone, 404, "not_found", "'v-gone' is not served")
    assert error["details"][0]["field"] == "query.version"
