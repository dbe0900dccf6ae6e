"""Renaming segments from the service (PUT /admin/names) with the admin role: a new version
written as segment-names apply writes it, served at once; a real server process."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from segmentation.bundle import load_bundle
from segmentation.metadata import current_version
from service.http.routes.admin import NO_ADMIN_KEYS, READ_ONLY_KEY
from service.settings import Settings, describe_settings_error
from tests.conftest import TrainFn
from tests.real_server import ServerProcess, start_server
from tests.service.conftest import API_KEY, OTHER_API_KEY
from tests.service.helpers import assert_error

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-key-9f8e7d6c5b4a3f2e1d"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AS_READER = {"X-API-Key": API_KEY}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256: what a failed rename must leave as it was."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from segmentation.sources import DataSource
    from tests.conftest import write_sample_csv
    from training.train import TrainingOptions, train

    root = tmp_path_factory.mktemp("rename")
    data = write_sample_csv(root / "customers.csv")
    train(
        TrainingOptions(
            source=DataSource(str(data)), models_dir=root / "models", k=3, stability_samples=0
        )
    )
    return root / "models"


@pytest.fixture(scope="module")
def server(models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("rename-server")
    running = start_server(
        models,
        root / "server.log",
        SEGMENT_API_KEYS=API_KEY,
        SEGMENT_ADMIN_KEYS=ADMIN_KEY,
        SEGMENT_STATE_DIR=str(root / "state"),
    )
    try:
        running.wait_for()
        yield running
    finally:
        output = running.stop()
    assert "Traceback" not in output, output


def client(server: ServerProcess, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=headers, timeout=120)


def test_access_says_who_may_rename(server: ServerProcess) -> None:
    with client(server, AS_ADMIN) as admin, client(server, AS_READER) as reader:
        assert admin.get("/admin/access").json() == {"can_rename": True, "reason": None}
        assert reader.get("/admin/access").json() == {"can_rename": False, "reason": READ_ONLY_KEY}
    with client(server) as anonymous:
        assert_error(anonymous.get("/admin/access"), 401, "unauthorized", "needs an API key")


def test_a_plain_key_may_not_rename_or_reload(server: ServerProcess, models: Path) -> None:
    before = snapshot(models)
    with client(server, AS_READER) as reader:
        segments = reader.get("/segments").json()
        body = {"segments": [{"id": segments["segments"][0]["id"], "name": "Taken over"}]}
        error = assert_error(reader.put("/admin/names", json=body), 403, "forbidden", READ_ONLY_KEY)
        assert "admin role" in error["message"]
        reload = reader.post("/admin/reload")
        assert_error(reload, 403, "forbidden", "reloading needs the admin role")
    assert snapshot(models) == before


@pytest.mark.parametrize(
    ("entries", "field", "message"),
    [
        ([{"id": 0, "name": "   "}], "segments[0].name", "must not be blank"),
        ([{"id": 0, "name": ""}], "segments[0].name", "at least 1 character"),
        (
            [{"id": 0, "name": "Same words"}, {"id": 1, "name": "same WORDS"}],
            "segments[1].name",
            "would both be named",
        ),
        ([{"id": 0, "name": "X", "colour": "red"}], "segments[0].colour", "unknown field"),
        ([{"id": 99, "name": "Nobody"}], "segments[0].id", "segment 99 does not exist"),
        ([{"id": 0, "name": "x" * 501}], "segments[0].name", "at most 500 characters"),
    ],
)
def test_bad_names_are_422s_naming_the_field_and_change_nothing(
    server: ServerProcess, models: Path, entries: list[dict[str, object]], field: str, message: str
) -> None:
    before = snapshot(models)
    with client(server, AS_ADMIN) as admin:
        version = admin.get("/model").json()["version"]
        response = admin.put("/admin/names", json={"segments": entries, "version": version})
    error = assert_error(response, 422, "invalid_request", message)
    assert error["details"][0]["field"] == field
    assert not error["details"][0]["message"].startswith("Value error")  # pydantic's prefix
    assert snapshot(models) == before


def test_a_name_taken_by_an_untouched_segment_is_refused(
    server: ServerProcess, models: Path
) -> None:
    before = snapshot(models)
    with client(server, AS_ADMIN) as admin:
        segments = admin.get("/segments").json()["segments"]
        body = {"segments": [{"id": segments[0]["id"], "name": segments[1]["name"].upper()}]}
        response = admin.put("/admin/names", json=body)
    error = assert_error(response, 422, "invalid_request", "would both be named")
    assert error["details"][0]["field"] == "segments[0].name"
    assert snapshot(models) == before


def test_a_stale_version_is_a_409(server: ServerProcess, models: Path) -> None:
    before = snapshot(models)
    with client(server, AS_ADMIN) as admin:
        body = {"segments": [{"id": 0, "name": "Too late"}], "version": "20200101T000000Z-0"}
        response = admin.put("/admin/names", json=body)
    assert_error(response, 409, "version_conflict", "edited on version 20200101T000000Z-0")
    assert snapshot(models) == before


def test_an_admin_renames_and_the_new_version_is_served(
    server: ServerProcess, models: Path
) -> None:
    with client(server, AS_ADMIN) as admin:
        old = admin.get("/model").json()["version"]
        body = {
            "segments": [
                {
                    "id": 1,
                    "name": "Night owls",
                    "description": "Shop late.",
                    "action": "Late offers",
                }
            ],
            "version": old,
        }
        response = admin.put("/admin/names", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        served = admin.get("/model").json()["version"]
        segments = {s["id"]: s for s in admin.get("/segments").json()["segments"]}
        again = admin.put("/admin/names", json={**body, "segments": [{"id": 1, "name": "Owls"}]})
        unchanged = admin.put(
            "/admin/names", json={"segments": [{"id": 1, "name": "Night owls"}], "version": served}
        )
    assert (result["previous_version"], result["changed"]) == (old, True)
    new = result["model_version"]
    assert new != old
    assert served == new == current_version(models)
    assert segments[1]["name"] == "Night owls"
    assert (segments[1]["description"], segments[1]["action"]) == ("Shop late.", "Late offers")
    assert [s["name"] for s in result["segments"] if s["id"] == 1] == ["Night owls"]
    bundle = load_bundle(models)  # written as segment-names apply writes: same model file
    assert bundle.metadata.derived_from == old
    assert bundle.metadata.model_sha256 == load_bundle(models, old).metadata.model_sha256
    assert "Night owls" in (bundle.path / "report.html").read_text()
    # The first edit was made on the old version: refused now, as two marketers would be.
    assert_error(again, 409, "version_conflict", f"{new} is served now")
    assert unchanged.status_code == 200
    assert (unchanged.json()["changed"], unchanged.json()["model_version"]) == (False, new)
    with client(server, AS_ADMIN) as admin:
        reload = admin.post("/admin/reload")
    assert reload.status_code == 200, reload.text


def test_without_admin_keys_nobody_renames_and_reload_is_as_before(
    models: Path, tmp_path: Path
) -> None:
    running = start_server(
        models, tmp_path / "server.log", SEGMENT_API_KEYS=f"{API_KEY},{OTHER_API_KEY}"
    )
    before = snapshot(models)
    try:
        running.wait_for()
        with client(running, AS_READER) as reader:
            access = reader.get("/admin/access").json()
            refused = reader.put("/admin/names", json={"segments": [{"id": 0, "name": "X"}]})
            reload = reader.post("/admin/reload")
    finally:
        running.stop()
    assert access == {"can_rename": False, "reason": NO_ADMIN_KEYS}
    assert_error(refused, 403, "forbidden", NO_ADMIN_KEYS)
    assert reload.status_code == 200, reload.text
    assert snapshot(models) == before


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"SEGMENT_ADMIN_KEYS": "changeme-changeme-1234"}, "SEGMENT_ADMIN_KEYS key 1"),
        ({"SEGMENT_ADMIN_KEYS": ""}, "SEGMENT_ADMIN_KEYS key 1 is empty"),
        ({"SEGMENT_ADMIN_KEYS_FILE": "/nonexistent/keys"}, "SEGMENT_ADMIN_KEYS_FILE"),
    ],
)
def test_admin_keys_are_checked_as_api_keys_are(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert message in describe_settings_error(refused.value)


def test_admin_keys_from_a_file_are_valid_keys_for_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "admin-keys"
    keys.write_text(f"# editors\n{ADMIN_KEY}\n")
    monkeypatch.setenv("SEGMENT_API_KEYS", API_KEY)
    monkeypatch.setenv("SEGMENT_ADMIN_KEYS_FILE", str(keys))
    settings = Settings()
    assert settings.configured_admin_keys() == (ADMIN_KEY,)
    assert set(settings.configured_api_keys()) == {API_KEY, ADMIN_KEY}


def test_a_server_that_cannot_write_versions_says_so(trained_copy: TrainFn, tmp_path: Path) -> None:
    bundle = trained_copy(tmp_path / "models", k=3)
    running = start_server(
        tmp_path / "models",
        tmp_path / "server.log",
        SEGMENT_ADMIN_KEYS=ADMIN_KEY,
        SEGMENT_MODEL_VERSION=bundle.metadata.version,
    )
    try:
        running.wait_for()
        with client(running, AS_ADMIN) as admin:
            access = admin.get("/admin/access").json()
            refused = admin.put("/admin/names", json={"segments": [{"id": 0, "name": "X"}]})
    finally:
        running.stop()
    assert access["can_rename"] is False
    assert "SEGMENT_MODEL_VERSION" in access["reason"]
    assert_error(refused, 409, "rename_unavailable", "SEGMENT_MODEL_VERSION")
