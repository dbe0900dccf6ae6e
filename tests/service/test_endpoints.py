"""GET endpoints, health checks, model selection, and a service that has no valid model."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import httpx
import pytest

from segmentation import bundle as bundle_module
from segmentation import served_bundle
from segmentation.bundle import load_bundle
from segmentation.metadata import METADATA_FILE, MODEL_FILE, REPORT_FILE
from segmentation.profile_text import profile_texts
from segmentation.sources import DataSource
from service.model import registry as registry_module
from tests.conftest import TrainFn
from tests.service.conftest import ClientFactory
from tests.service.helpers import CUSTOMER, assert_error
from tests.training.test_k_auto_planted import planted_csv
from training.train import TrainingOptions, rename_segments, train

pytestmark = pytest.mark.anyio


async def test_segments_lists_every_profile(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    metadata = load_bundle(trained_models).metadata
    response = await client.get("/segments")
    assert response.status_code == 200
    texts = profile_texts(metadata)
    assert response.json() == {
        "model_version": metadata.version,
        "segments": [
            {**s.model_dump(mode="json"), "profile_text": texts[s.id]} for s in metadata.segments
        ],
    }


async def test_one_segment_and_unknown_ids(client: httpx.AsyncClient, trained_models: Path) -> None:
    metadata = load_bundle(trained_models).metadata
    response = await client.get("/segments/2")
    assert response.status_code == 200
    assert response.json() == {
        **metadata.segments[2].model_dump(mode="json"),
        "profile_text": profile_texts(metadata)[2],
    }
    assert_error(
        await client.get("/segments/5"),
        404,
        "not_found",
        "segment 5 does not exist; this model has segments 0 to 4",
    )
    assert_error(await client.get("/segments/-1"), 404, "not_found", "segment -1 does not exist")
    error = assert_error(await client.get("/segments/two"), 422, "invalid_request", "segment_id")
    assert error["details"][0]["field"] == "path.segment_id"


async def test_model_returns_the_bundle_metadata(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    version = load_bundle(trained_models).metadata.version
    on_disk = json.loads((trained_models / version / METADATA_FILE).read_text())
    response = await client.get("/model")
    assert response.status_code == 200
    served = response.json()
    assert served["created_at"].rstrip("Z") == on_disk.pop("created_at").rstrip("Z")
    served.pop("created_at")
    # The fields the service adds: how k was chosen in words, and no runner-up nor split tree
    # for a fixed k.
    assert served.pop("k_choice") == (
        "k is the number of segments: it was set to 5 when the model was trained, and no other "
        "k was tried."
    )
    assert served.pop("runner_up_change") is None
    assert served.pop("k_steps") == []
    assert served == on_disk


async def test_health(client: httpx.AsyncClient, trained_models: Path) -> None:
    live = await client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["model_version"] == load_bundle(trained_models).metadata.version


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("empty_dir", "no current model"),
        ("tampered", "does not match its metadata"),
        ("unknown_pin", "bundle 'v-missing' not found"),
        ("garbage_pickle", "does not match its metadata"),
    ],
)
async def test_without_a_valid_model_the_service_stays_up_but_not_ready(
    tmp_path: Path, trained_copy: TrainFn, make_client: ClientFactory, damage: str, reason: str
) -> None:
    models = tmp_path / "models"
    pin = None
    if damage == "empty_dir":
        models.mkdir()
    else:
        bundle_dir = trained_copy().path
        if damage == "tampered":
            (bundle_dir / MODEL_FILE).write_bytes((bundle_dir / MODEL_FILE).read_bytes()[:-10])
        elif damage == "garbage_pickle":
            (bundle_dir / MODEL_FILE).write_bytes(b"\x80\x04garbage")
        else:
            pin = "v-missing"
    async with make_client(models_dir=models, model_version=pin) as client:
        assert (await client.get("/health/live")).status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        assert reason in ready.json()["reason"]
        if damage in {"tampered", "garbage_pickle"}:
            # The version refused is named, as a path inside the models folder.
            assert f"{bundle_dir.name}/{MODEL_FILE} {reason}" in ready.json()["reason"]
        for response in (
            await client.post("/segment", json=CUSTOMER),
            await client.get("/segments"),
            await client.get("/segments/0"),
            await client.get("/model"),
        ):
            assert_error(response, 503, "model_unavailable", "no model is loaded: ")
            assert reason in response.json()["error"]["message"]
            # Callers (with or without a key) never learn where the server keeps its files.
            assert str(tmp_path) not in response.text
        assert str(tmp_path) not in ready.text


async def test_an_unexpected_load_failure_names_the_version_and_no_path(
    tmp_path: Path,
    trained_copy: TrainFn,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = trained_copy().metadata.version
    secret_path = tmp_path / "models" / version / "model.joblib"

    def broken(models_dir: Path, version: str | None) -> None:
        raise MemoryError(f"cannot map {secret_path}")

    monkeypatch.setattr(registry_module, "_load_model", broken)
    async with make_client(models_dir=tmp_path / "models") as client:
        expected = (
            f"no model is loaded: bundle {version!r}: unexpected error while loading the "
            "model (MemoryError); see the server log"
        )
        assert_error(await client.get("/model"), 503, "model_unavailable", expected)
        refused = await client.post("/admin/reload")
        assert_error(refused, 409, "reload_failed", f"bundle {version!r}: unexpected error")
        assert str(tmp_path) not in refused.text
    # The operator finds the whole story, path included, in the log.
    assert any(str(secret_path) in (r.exc_text or "") for r in caplog.records)


async def test_a_pinned_version_is_served_instead_of_current(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    old = trained_copy(k=3)
    new = train_into(k=4)
    async with make_client(models_dir=tmp_path / "models") as client:
        assert (await client.get("/model")).json()["version"] == new.metadata.version
    async with make_client(models_dir=tmp_path / "models", model_version=old.metadata.version) as c:
        assert (await c.get("/model")).json()["k"] == 3
        result = (await c.post("/segment", json=CUSTOMER)).json()
        assert result["model_version"] == old.metadata.version


async def test_the_bundle_is_loaded_once_not_per_request_and_never_unpickled(
    trained_models: Path, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[object] = []
    unpickled: list[object] = []
    real_read = served_bundle.read_metadata
    monkeypatch.setattr(
        served_bundle, "read_metadata", lambda *a, **k: loads.append(a) or real_read(*a, **k)
    )
    monkeypatch.setattr(bundle_module.joblib, "load", lambda *a, **k: unpickled.append(a))
    async with make_client(models_dir=trained_models) as client:
        for _ in range(5):
            assert (await client.post("/segment", json=CUSTOMER)).status_code == 200
        await client.get("/segments")
    assert (len(loads), unpickled) == (1, [])


async def test_openapi_documents_every_route_with_examples(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths) >= {
        "/segment",
        "/segments",
        "/segments/{segment_id}",
        "/model",
        "/health/live",
        "/health/ready",
    }
    post = paths["/segment"]["post"]
    body = post["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/SegmentRequest"}
    assert set(body["examples"]) == {"one customer", "batch", "other column names", "split layout"}
    # The examples are the served model's own fields, under their names and their aliases.
    assert set(body["examples"]["one customer"]["value"]) == {
        "customer_id",
        "age",
        "annual_income",
        "spending_score",
    }
    assert set(body["examples"]["other column names"]["value"]) == {
        "CustomerID",
        "Age",
        "Annual Income (k$)",
        "Spending Score (1-100)",
    }
    components = schema["components"]["schemas"]
    assert {
        "SegmentRequest",
        "Customer",
        "CustomerBatch",
        "SplitRequest",
        "SplitResponse",
        "ErrorResponse",
    } <= set(components)
    answers = post["responses"]["200"]["content"]
    assert set(answers["application/json"]["examples"]) == {"customer objects", "split layout"}
    assert set(answers) == {"application/json", "text/csv", "application/vnd.apache.arrow.stream"}
    assert set(post["responses"]) >= {"200", "400", "413", "415", "422", "503"}
    refs = json.dumps(schema)
    for name in {part.split('"')[0] for part in refs.split("#/components/schemas/")[1:]}:
        assert name in components, f"dangling reference to {name}"


async def test_request_examples_are_accepted(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    examples = schema["paths"]["/segment"]["post"]["requestBody"]["content"]["application/json"]
    for example in examples["examples"].values():
        assert (await client.post("/segment", json=example["value"])).status_code == 200


async def test_model_says_what_the_runner_up_k_changes_in_the_names_served_now(
    tmp_path: Path, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    """The report's runner-up sentence, on GET /model, with the segments' names of the version
    served: renamed segments are named as they are now, and nothing else in it changes."""
    models = tmp_path / "models"
    trained = trained_copy(models, k=None, k_range=(2, 7))
    tree = trained.metadata.k_selection.split_tree
    assert tree is not None
    assert tree.runner_up is not None
    report = (trained.path / REPORT_FILE).read_text()
    [before] = re.findall(r"<p>Runner-up: (.*?)\.</p>", report)
    before = html.unescape(before)
    assert before.startswith(f"k = {tree.runner_up} ")
    async with make_client(models_dir=models) as client:
        assert (await client.get("/model")).json()["runner_up_change"] == before

    old = {p.id: p.name for p in trained.metadata.segments}
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"segments": {str(i): {"name": f"Renamed {i}"} for i in old}}))
    renamed = rename_segments(models, names)
    assert renamed is not None
    async with make_client(models_dir=models) as client:
        served = (await client.get("/model")).json()
    assert served["version"] == renamed.metadata.version
    expected = before
    for segment, name in old.items():
        expected = expected.replace(f"'{name}'", f"'Renamed {segment}'")
    assert served["runner_up_change"] == expected
    quoted = re.findall(r"'([^']*)'", served["runner_up_change"])
    assert quoted
    assert set(quoted) <= {f"Renamed {i}" for i in old}
    # The tree in words names the model's segments the same way: the runner-up's step is its
    # sentence, and no step names a segment as it was called before.
    assert served["runner_up_change"] in served["k_steps"]
    steps = " ".join(served["k_steps"])
    assert not any(f"'{name}'" in steps for name in old.values())


async def test_a_model_without_clear_segments_has_no_runner_up_to_describe(
    tmp_path: Path, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    data = planted_csv(tmp_path / "one.csv", [(45, 70, 50)], [900])
    train(TrainingOptions(source=DataSource(str(data)), models_dir=models, k=None, k_range=(2, 6)))
    async with make_client(models_dir=models) as client:
        served = (await client.get("/model")).json()
    assert served["k_selection"]["structure"] == "none"
    assert served["k_selection"]["split_tree"] is not None
    assert served["runner_up_change"] is None
