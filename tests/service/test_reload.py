"""POST /admin/reload and SIGHUP: a new bundle replaces the old one only once it is verified."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest

from segmentation import bundle as bundle_module
from segmentation.bundle import Bundle, promote_version
from segmentation.metadata import METADATA_FILE, MODEL_FILE
from service.model import reload as reload_module
from service.model.registry import ModelRegistry, ServedRecord
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
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    old = trained_copy(models, k=3)
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
    trained_copy: TrainFn,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = tmp_path / "models"
    old = trained_copy(models)
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
    tmp_path: Path, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    async with make_client(models_dir=models) as client:
        assert (await client.get("/health/ready")).status_code == 503
        failed = await client.post("/admin/reload")
        assert_error(failed, 409, "reload_failed", "still serving no model: no current model")
        bundle = trained_copy(models)
        reloaded = (await client.post("/admin/reload")).json()
        assert (reloaded["model_version"], reloaded["previous_version"]) == (
            bundle.metadata.version,
            None,
        )
        assert (await client.get("/health/ready")).status_code == 200


async def test_a_pinned_version_is_reloaded_as_pinned(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    pinned = trained_copy(models, k=3)
    async with make_client(models_dir=models, model_version=pinned.metadata.version) as client:
        train_into(models, k=4)  # becomes CURRENT, but the pin wins
        reloaded = (await client.post("/admin/reload")).json()
    assert (reloaded["model_version"], reloaded["changed"]) == (pinned.metadata.version, False)


async def test_concurrent_reloads_are_serialised_and_requests_keep_being_served(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    trained_copy(models, k=3)
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
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    trained_copy(models, k=3)
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
        (
            "features",
            "features ['annual_income', 'age', 'spending_score'] are not the schema's "
            "['age', 'annual_income', 'spending_score']",
        ),
        ("scorer", "scorer.centroids must be 3 rows of 3"),
        ("format", "bundle format 5 is not supported"),
    ],
)
async def test_a_bundle_that_fails_verification_is_refused_and_never_unpickled(
    tmp_path: Path,
    trained_copy: TrainFn,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    tamper: str,
    reason: str,
) -> None:
    models = tmp_path / "models"
    good = trained_copy(models, k=3)
    if tamper == "model_file":
        name = tampered_copy(models, good, "v-bad")
    elif tamper == "features":
        features = ["annual_income", "age", "spending_score"]
        name = edit_metadata(models, good, "v-bad", features=features)
    elif tamper == "scorer":
        numbers = good.numbers
        short = numbers.model_copy(update={"centroids": numbers.centroids[:2]})
        name = edit_metadata(models, good, "v-bad", scorer=short.model_dump())
    else:
        name = edit_metadata(models, good, "v-bad", format_version=5)
    unpickled = watch_unpickling(monkeypatch)
    async with make_client(models_dir=models) as client:
        promote_version(models, name)
        refused = await client.post("/admin/reload")
        served = await client.post("/segment", json=CUSTOMER)
    assert_error(refused, 409, "reload_failed", reason)
    assert served.json()["model_version"] == good.metadata.version
    assert unpickled == []


async def test_the_service_scores_with_the_bundles_numbers_whatever_scikit_learn_wrote_it(
    tmp_path: Path,
    trained_copy: TrainFn,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pickle is for training and offline tools; serving never needs its scikit-learn."""
    models = tmp_path / "models"
    good = trained_copy(models, k=3)
    libraries = {**good.metadata.libraries, "scikit-learn": "0.0.1"}
    name = edit_metadata(models, good, "v-other-sklearn", libraries=libraries)
    unpickled = watch_unpickling(monkeypatch)
    promote_version(models, name)
    async with make_client(models_dir=models) as client:
        scored = await client.post("/segment", json=CUSTOMER)
    assert scored.status_code == 200
    assert scored.json()["model_version"] == name
    expected = good.pipeline.predict(pd.DataFrame([CUSTOMER])[good.metadata.features])
    assert scored.json()["results"][0]["segment_id"] == int(expected[0])
    assert unpickled == []


@pytest.mark.parametrize("same_sklearn", [True, False])
async def test_a_format_1_bundle_without_numbers_is_unpickled_once_verified(
    tmp_path: Path,
    trained_copy: TrainFn,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    same_sklearn: bool,
) -> None:
    """Bundles written before format 2 keep working: their numbers come from the pickle."""
    models = tmp_path / "models"
    good = trained_copy(models, k=3)
    libraries = dict(good.metadata.libraries)
    if not same_sklearn:
        libraries["scikit-learn"] = "0.0.1"
    name = edit_metadata(models, good, "v-format-1", format_version=1, libraries=libraries)
    metadata = json.loads((models / name / METADATA_FILE).read_text())
    del metadata["scorer"]
    (models / name / METADATA_FILE).write_text(json.dumps(metadata))
    unpickled = watch_unpickling(monkeypatch)
    promote_version(models, name)
    async with make_client(models_dir=models) as client:
        scored = await client.post("/segment", json=CUSTOMER)
        ready = await client.get("/health/ready")
    if same_sklearn:
        assert scored.json()["model_version"] == name
        assert len(unpickled) == 1
    else:
        assert ready.status_code == 503
        assert "was trained with scikit-learn 0.0.1 but" in ready.text
        assert unpickled == [], "a bundle that fails verification is never unpickled"


def watch_unpickling(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every joblib.load from now on, recorded."""
    calls: list[object] = []
    real_load = bundle_module.joblib.load
    monkeypatch.setattr(
        bundle_module.joblib, "load", lambda *a, **k: calls.append(a) or real_load(*a, **k)
    )
    return calls


async def test_ready_says_when_current_names_a_refused_bundle_until_a_reload_succeeds(
    tmp_path: Path, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    good = trained_copy(models)
    old = good.metadata.version
    scorer = good.numbers.model_dump()
    scorer["mean"][0] = float("nan")
    async with make_client(models_dir=models) as client:
        assert (await client.get("/health/ready")).json()["reason"] is None
        promote_version(models, edit_metadata(models, good, "v-bad", scorer=scorer))
        assert (await client.post("/admin/reload")).status_code == 409
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "model_version": old,
            "reason": "CURRENT names 'v-bad', refused: v-bad/metadata.json: scorer numbers must "
            f"be finite, and scale positive; serving {old!r}",
        }
        promote_version(models, old)
        assert (await client.post("/admin/reload")).status_code == 200
        assert (await client.get("/health/ready")).json()["reason"] is None


async def signals_handled(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    """The signal reloads logged, once there are ``count`` of them."""
    for _ in range(200):
        handled = [r.getMessage() for r in caplog.records if "(signal)" in r.getMessage()]
        if len(handled) >= count:
            return handled
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} signals not handled: {handled}")


async def test_the_signal_a_worker_asked_for_reloads_it_once_and_an_operators_again(
    tmp_path: Path,
    train_into: TrainFn,
    trained_copy: TrainFn,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker answering POST /admin/reload asks the supervisor to signal every worker, and
    is signalled too; here it is its own supervisor, so that signal comes back to it."""
    monkeypatch.setattr(reload_module, "_supervisor", os.getpid)
    models = tmp_path / "models"
    trained_copy(models, k=3)
    caplog.set_level(logging.INFO, logger="service.model.reload")

    async with make_client(models_dir=models) as client:
        new = train_into(models, k=4).metadata.version
        answer = (await client.post("/admin/reload")).json()
        assert (answer["model_version"], answer["other_workers_signalled"]) == (new, True)
        assert await signals_handled(caplog, 1) == [
            f"model reload (signal) not needed: this worker asked for it, and already serves {new}"
        ]
        os.kill(os.getpid(), signal.SIGHUP)  # an operator's: a reload, as always
        assert (await signals_handled(caplog, 2))[
            1
        ] == f"model reloaded (signal): serving {new}, was {new}"
        metrics = parse_metrics((await client.get("/metrics")).text)
    assert value(metrics, "segment_model_reloads_total", trigger="api", outcome="success") == 1
    assert value(metrics, "segment_model_reloads_total", trigger="signal", outcome="success") == 1


async def test_a_signal_the_supervisor_never_sent_does_not_swallow_an_operators(
    tmp_path: Path,
    train_into: TrainFn,
    trained_copy: TrainFn,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The supervisor skips a worker that is busy: the one that asked then never gets its own
    signal, and a flag left waiting for it made the next SIGHUP an operator sent a no-op."""
    monkeypatch.setattr(reload_module, "_supervisor", lambda: 999_999)
    monkeypatch.setattr(reload_module.os, "kill", lambda pid, sig: None)  # never delivered
    models = tmp_path / "models"
    trained_copy(models, k=3)
    caplog.set_level(logging.INFO, logger="service.model.reload")
    clock = [1000.0]
    monkeypatch.setattr(reload_module.time, "monotonic", lambda: clock[0])
    async with make_client(models_dir=models) as client:
        new = train_into(models, k=4).metadata.version
        assert (await client.post("/admin/reload")).json()["other_workers_signalled"] is True
        clock[0] += reload_module.OWN_SIGNAL_WAIT + 1
        monkeypatch.undo()  # the real os.kill, for the operator's signal
        os.kill(os.getpid(), signal.SIGHUP)
        assert await signals_handled(caplog, 1) == [
            f"model reloaded (signal): serving {new}, was {new}"
        ]


def nan_copy(models: Path, bundle: Bundle, name: str) -> str:
    """A copy of ``bundle`` named ``name`` that is refused: a NaN among its numbers."""
    scorer = bundle.numbers.model_dump()
    scorer["mean"][0] = float("nan")
    return edit_metadata(models, bundle, name, scorer=scorer)


@pytest.mark.parametrize("siblings_serve", ["the good version", "nothing yet", "a lost version"])
async def test_a_worker_starting_where_current_is_refused_serves_what_its_siblings_serve(
    tmp_path: Path,
    trained_copy: TrainFn,
    caplog: pytest.LogCaptureFixture,
    siblings_serve: str,
) -> None:
    """Two registries sharing one record file stand for two workers of one supervisor: the
    second starts after the first (uvicorn replacing a worker that died)."""
    models = tmp_path / "models"
    good = trained_copy(models)
    record = ServedRecord(tmp_path / "served-version.json")
    if siblings_serve != "nothing yet":
        ModelRegistry(record=record).load(models, None)
    promote_version(models, nan_copy(models, good, "v-bad"))
    if siblings_serve == "a lost version":
        shutil.rmtree(good.path)
    replacement = ModelRegistry(record=record)
    replacement.load(models, None)
    refusal = (
        "CURRENT names 'v-bad', refused: v-bad/metadata.json: scorer numbers must be finite, "
        "and scale positive"
    )
    messages = [r.getMessage() for r in caplog.records if r.name == "service.model.registry"]
    if siblings_serve == "the good version":
        assert replacement.model is not None
        assert replacement.model.version == good.metadata.version
        serving = f"serving {good.metadata.version!r}"
        assert f"{refusal}; {serving}, the version the other workers serve" in messages
        assert replacement.refused() == f"{refusal}; {serving}"
    else:
        # The first start of a service, or nothing to fall back to: no model, and why.
        assert replacement.model is None
        assert replacement.reason == refusal.partition("refused: ")[2]
        assert replacement.refused() is None
    if siblings_serve == "a lost version":
        assert (
            f"{refusal}; {good.metadata.version!r}, the version the other workers serve, "
            in (messages[-1])
        )
