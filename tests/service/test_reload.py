"""POST /admin/reload and SIGHUP: a new bundle replaces the old one only once it is verified."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
from pathlib import Path

import pytest

from segmentation import bundle as bundle_module
from segmentation.bundle import Bundle, promote_version
from segmentation.metadata import METADATA_FILE, MODEL_FILE
from tests.conftest import TrainFn
from tests.service.conftest import API_KEY, AUTH, ClientFactory
from tests.service.helpers import CUSTOMER, assert_error
from tests.service.metrics_text import parse_metrics, value

pytestmark = pytest.mark.anyio


def tampered_copy(models: Path, bundle: Bundle, name: str) -> str:
    """A copy of ``bundle`` named ``name`` whose model file no longer matches its metadata."""
    copy = models / name
    shutil.copytree(bundle.path, copy)
    metadata = (copy / METADATA_FILE).read_text().replace(bundle.metadata.version, name)
    (copy / METADATA_FILE).write_text(metadata)
    (copy / MODEL_FILE).write_bytes((copy / MODEL_FILE).read_bytes()[:-7])
    return name


async def test_reload_serves_a_newly_promoted_bundle(
    tmp_path: Path, train_into: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    old = train_into(models, k=3)
    async with make_client(models_dir=models, api_keys=(API_KEY,)) as client:
        assert (await client.post("/admin/reload")).status_code == 401
        new = train_into(models, k=4)
        assert (await client.get("/model", headers=AUTH)).json()["version"] == old.metadata.version
        response = await client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {
            "status": "reloaded",
            "model_version": new.metadata.version,
            "previous_version": old.metadata.version,
            "changed": True,
            "other_workers_signalled": False,
        }
        assert (await client.get("/model", headers=AUTH)).json()["k"] == 4
        scored = await client.post("/segment", json=CUSTOMER, headers=AUTH)
        assert scored.json()["model_version"] == new.metadata.version
        again = (await client.post("/admin/reload", headers=AUTH)).json()
        assert (again["changed"], again["previous_version"]) == (False, new.metadata.version)


async def test_a_bundle_that_fails_verification_is_refused_and_the_old_one_keeps_serving(
    tmp_path: Path,
    train_into: TrainFn,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = tmp_path / "models"
    old = train_into(models)
    async with make_client(models_dir=models) as client:
        promote_version(models, tampered_copy(models, old, "v-tampered"))
        refused = await client.post("/admin/reload")
        error = assert_error(
            refused,
            409,
            "reload_failed",
            f"the bundle was refused, still serving {old.metadata.version}: ",
        )
        assert "v-tampered/model.joblib does not match its metadata" in error["message"]
        assert str(tmp_path) not in refused.text
        assert (await client.get("/health/ready")).json()["model_version"] == old.metadata.version
        served = await client.post("/segment", json=CUSTOMER)
        assert (served.status_code, served.json()["model_version"]) == (200, old.metadata.version)
    logged = [r for r in caplog.records if r.name == "service.model.reload"]
    assert logged
    assert logged[-1].levelno == logging.ERROR
    assert "does not match its metadata" in logged[-1].getMessage()
    # The log keeps the full path for the operator.
    registry_log = [r for r in caplog.records if r.name == "service.model.registry"]
    assert any(str(models) in r.getMessage() for r in registry_log)


async def test_a_service_started_without_a_model_becomes_ready_on_reload(
    tmp_path: Path, train_into: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    async with make_client(models_dir=models) as client:
        assert (await client.get("/health/ready")).status_code == 503
        failed = await client.post("/admin/reload")
        assert_error(failed, 409, "reload_failed", "still serving no model: no current model")
        bundle = train_into(models)
        reloaded = (await client.post("/admin/reload")).json()
        assert (reloaded["model_version"], reloaded["previous_version"]) == (
            bundle.metadata.version,
            None,
        )
        assert (await client.get("/health/ready")).status_code == 200


async def test_a_pinned_version_is_reloaded_as_pinned(
    tmp_path: Path, train_into: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    pinned = train_into(models, k=3)
    async with make_client(models_dir=models, model_version=pinned.metadata.version) as client:
        train_into(models, k=4)  # becomes CURRENT, but the pin wins
        reloaded = (await client.post("/admin/reload")).json()
    assert (reloaded["model_version"], reloaded["changed"]) == (pinned.metadata.version, False)


async def test_concurrent_reloads_are_serialised_and_requests_keep_being_served(
    tmp_path: Path, train_into: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    train_into(models, k=3)
    async with make_client(models_dir=models) as client:
        train_into(models, k=4)
        results = await asyncio.gather(
            *(client.post("/admin/reload") for _ in range(4)),
            *(client.post("/segment", json=CUSTOMER) for _ in range(20)),
        )
    assert all(r.status_code == 200 for r in results)
    reloads = [r.json() for r in results[:4]]
    # Serialised: exactly one of them saw the version change.
    assert sum(r["changed"] for r in reloads) == 1


async def test_sighup_reloads_the_model(
    tmp_path: Path, train_into: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    train_into(models, k=3)
    async with make_client(models_dir=models) as client:
        new = train_into(models, k=4)
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(200):
            if (await client.get("/model")).json()["version"] == new.metadata.version:
                break
            await asyncio.sleep(0.02)
        assert (await client.get("/model")).json()["version"] == new.metadata.version
        metrics = parse_metrics((await client.get("/metrics")).text)
    assert value(metrics, "segment_model_reloads_total", trigger="signal", outcome="success") == 1
    # The handler is removed with the app: SIGHUP is back to its default.
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


def edit_metadata(models: Path, bundle: Bundle, name: str, **changes: object) -> str:
    """A copy of ``bundle`` named ``name`` with metadata fields changed (model file untouched)."""
    copy = models / name
    shutil.copytree(bundle.path, copy)
    metadata = json.loads((copy / METADATA_FILE).read_text())
    metadata.update(version=name, **changes)
    (copy / METADATA_FILE).write_text(json.dumps(metadata))
    return name


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("model_file", "does not match its metadata (sha256"),
        ("sklearn_version", "was trained with scikit-learn 0.0.1 but"),
        ("features", "was fitted on other features than"),
    ],
)
async def test_a_pickle_is_only_loaded_after_it_is_verified(
    tmp_path: Path,
    train_into: TrainFn,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    tamper: str,
    reason: str,
) -> None:
    models = tmp_path / "models"
    good = train_into(models)
    if tamper == "model_file":
        name = tampered_copy(models, good, "v-bad")
    elif tamper == "sklearn_version":
        libraries = {**good.metadata.libraries, "scikit-learn": "0.0.1"}
        name = edit_metadata(models, good, "v-bad", libraries=libraries)
    else:
        features = ["annual_income", "age", "spending_score"]
        name = edit_metadata(models, good, "v-bad", features=features)
    unpickled: list[object] = []
    real_load = bundle_module.joblib.load
    async with make_client(models_dir=models) as client:
        monkeypatch.setattr(
            bundle_module.joblib, "load", lambda *a, **k: unpickled.append(a) or real_load(*a, **k)
        )
        promote_version(models, name)
        refused = await client.post("/admin/reload")
        served = await client.post("/segment", json=CUSTOMER)
    assert_error(refused, 409, "reload_failed", reason)
    assert served.json()["model_version"] == good.metadata.version
    if tamper != "features":  # a feature mismatch can only be seen in the unpickled pipeline
        assert unpickled == [], "a bundle that fails verification is never unpickled"
