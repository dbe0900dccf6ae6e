"""Names, descriptions and actions chosen by people, at training time or on an existing bundle."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from segmentation.bundle import Bundle, load_bundle
from segmentation.metadata import (
    CURRENT_POINTER,
    MODEL_FILE,
    REPORT_FILE,
    current_version,
    list_versions,
)
from service.app import create_app
from service.settings import Settings
from tests.conftest import TrainFn
from training.cli import names_main
from training.names import NamesError, apply_names, load_names

NAMES_YAML = """
segments:
  0:
    name: Budget regulars
    description: Shop often, spend little.
    action: Loyalty points on everyday items.
  "{auto}":
    name: Big spenders
"""


def write(tmp_path: Path, text: str, name: str = "names.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_names_by_id_and_by_automatic_name_at_training(train_into: TrainFn, tmp_path: Path) -> None:
    plain = train_into(models_dir=tmp_path / "plain", k=4)
    auto_name = plain.metadata.segments[2].auto_name
    names = write(tmp_path, NAMES_YAML.format(auto=auto_name))
    bundle = train_into(models_dir=tmp_path / "named", k=4, names_file=names)
    segments = bundle.metadata.segments
    assert segments[0].name == "Budget regulars"
    assert segments[0].description == "Shop often, spend little."
    assert segments[0].action == "Loyalty points on everyday items."
    assert segments[0].auto_name == plain.metadata.segments[0].name
    assert segments[2].name == "Big spenders"
    assert segments[2].auto_name == auto_name
    assert segments[1] == plain.metadata.segments[1]


def test_json_works_too(train_into: TrainFn, tmp_path: Path) -> None:
    names = write(tmp_path, json.dumps({"segments": {"1": {"name": "Ones"}}}), "names.json")
    assert train_into(k=3, names_file=names).metadata.segments[1].name == "Ones"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "segments:\n  9: {name: Nine}\n",
            "segment 9 does not exist; the model has segments 0 to 2",
        ),
        ("segments:\n  Nobody: {name: X}\n", "no segment is named 'Nobody'"),
        (
            "segments:\n  0: {name: Same}\n  1: {name: same}\n",
            "segments 0 and 1 would both be named 'same'; names must be unique",
        ),
        ("segments:\n  0: {name: '  '}\n", "segments.0.name: must not be blank"),
        ("segments:\n  0: {nmae: X}\n", "segments.0.nmae: Extra inputs are not permitted"),
        ("segment: {}\n", "segments: Field required"),
        ("segments: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_names_files(trained_models: Path, tmp_path: Path, text: str, message: str) -> None:
    profiles = list(load_bundle(trained_models).metadata.segments)[:3]
    path = write(tmp_path, text)
    with pytest.raises(NamesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_names(profiles, load_names(path), str(path))


def test_a_name_clashing_with_an_untouched_segment_is_refused(
    trained_copy: TrainFn, tmp_path: Path
) -> None:
    profiles = list(trained_copy(k=3).metadata.segments)
    path = write(tmp_path, f"segments:\n  0: {{name: '{profiles[1].name}'}}\n")
    with pytest.raises(NamesError, match="would both be named"):
        apply_names(profiles, load_names(path), str(path))


def test_segment_names_apply_makes_a_new_version_without_refitting(
    trained_copy: TrainFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    original = trained_copy(k=4)
    names = write(tmp_path, "segments:\n  1:\n    name: Night owls\n    action: Late offers\n")
    assert names_main(["--models-dir", str(models), "apply", str(names)]) == 0
    renamed = load_bundle(models)
    assert renamed.metadata.version != original.metadata.version
    assert renamed.metadata.derived_from == original.metadata.version
    assert renamed.metadata.model_sha256 == original.metadata.model_sha256
    assert (renamed.path / MODEL_FILE).read_bytes() == (original.path / MODEL_FILE).read_bytes()
    assert renamed.metadata.segments[1].name == "Night owls"
    assert renamed.metadata.segments[1].action == "Late offers"
    assert renamed.metadata.segments[1].auto_name == original.metadata.segments[1].name
    assert renamed.metadata.k_selection == original.metadata.k_selection
    assert "Night owls" in (renamed.path / REPORT_FILE).read_text()
    assert "Night owls" not in (original.path / REPORT_FILE).read_text()
    out = capsys.readouterr().out
    assert f"renamed {original.metadata.version} -> {renamed.metadata.version} (now current)" in out


def test_an_empty_description_or_action_removes_it(trained_copy: TrainFn, tmp_path: Path) -> None:
    """Once written, a description could not be removed: '' was 'must not be blank' and null
    means 'leave it as it is'."""
    models = tmp_path / "models"
    trained_copy(k=3)
    given = write(tmp_path, "segments:\n  1: {description: Night owls, action: Late offers}\n")
    assert names_main(["--models-dir", str(models), "apply", str(given)]) == 0
    assert load_bundle(models).metadata.segments[1].description == "Night owls"
    cleared = write(tmp_path, "segments:\n  1: {description: '', action: '  '}\n")
    assert names_main(["--models-dir", str(models), "apply", str(cleared)]) == 0
    segment = load_bundle(models).metadata.segments[1]
    assert (segment.description, segment.action) == (None, None)


def test_the_longest_automatic_names_can_be_sent_back_unchanged() -> None:
    """Twelve segments of long feature names gave names of 173 characters, which the 120
    characters segment-names and PUT /admin/names allowed refused in their own template."""
    import numpy as np

    from segmentation.names import MAX_NAME_CHARACTERS, SegmentOverride
    from segmentation.schema import FeatureSchema, NumericFeature
    from training.profiles import segment_names

    long = "basket_value_in_euros_per_order_including_vat_and_shipping"
    schema = FeatureSchema(
        features=[NumericFeature(name=f"{long}_{i}", minimum=0, maximum=1) for i in range(12)]
    )
    centres = np.random.default_rng(3).normal(size=(12, 12)) * 2
    names = segment_names(centres, centres, schema)
    assert len(set(names)) == 12
    assert max(map(len, names)) <= MAX_NAME_CHARACTERS
    assert any(name.endswith(")") and "... (#" in name for name in names)
    for name in names:
        assert SegmentOverride(name=name, description="Edited").name == name


def test_apply_can_leave_the_current_model_alone(trained_copy: TrainFn, tmp_path: Path) -> None:
    models = tmp_path / "models"
    original = trained_copy(k=3)
    names = write(tmp_path, "segments:\n  0: {name: Quiet}\n")
    args = ["--models-dir", str(models), "--version", original.metadata.version]
    assert names_main([*args, "apply", str(names), "--no-promote"]) == 0
    assert current_version(models) == original.metadata.version
    assert len(list_versions(models)) == 2


def test_a_bad_names_file_leaves_everything_as_it_was(
    trained_copy: TrainFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    trained_copy(k=3)
    before = sorted(p.name for p in models.iterdir())
    pointer = (models / CURRENT_POINTER).read_text()
    names = write(tmp_path, "segments:\n  7: {name: Seven}\n")
    assert names_main(["--models-dir", str(models), "apply", str(names)]) == 2
    assert "segment-names: error: " in capsys.readouterr().err
    assert sorted(p.name for p in models.iterdir()) == before
    assert (models / CURRENT_POINTER).read_text() == pointer


def test_an_untouched_template_changes_nothing_and_says_so(
    trained_copy: TrainFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    bundle = trained_copy(k=3)
    assert names_main(["--models-dir", str(models), "template"]) == 0
    template = capsys.readouterr().out
    assert "Automatic name" not in template
    document = yaml.safe_load(template)
    assert [entry["name"] for entry in document["segments"].values()] == [
        p.name for p in bundle.metadata.segments
    ]
    assert {entry["description"] for entry in document["segments"].values()} == {None}
    assert {entry["action"] for entry in document["segments"].values()} == {None}
    before = sorted(p.name for p in models.iterdir())
    path = write(tmp_path, template)
    assert names_main(["--models-dir", str(models), "apply", str(path)]) == 0
    said = capsys.readouterr()
    assert said.out.startswith(f"nothing to change: {path} gives every segment of ")
    assert "no new version written" in said.out
    assert said.err == ""
    assert sorted(p.name for p in models.iterdir()) == before
    assert current_version(models) == bundle.metadata.version


def old_template(bundle: Bundle) -> str:
    """What ``segment-names template`` wrote before: placeholder words in every description."""
    lines = ["segments:"]
    for p in bundle.metadata.segments:
        lines += [
            f"  {p.id}:",
            f"    name: {p.name}",
            f"    description: 'Automatic name: {p.auto_name}'",
            "    action: null  # e.g. a campaign for this segment",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.anyio
async def test_placeholders_of_an_old_template_never_reach_the_segments_route(
    trained_copy: TrainFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    bundle = trained_copy(k=3)
    untouched = write(tmp_path, old_template(bundle))
    assert names_main(["--models-dir", str(models), "apply", str(untouched)]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert current_version(models) == bundle.metadata.version
    edited = write(tmp_path, old_template(bundle).replace("name: ", "name: Renamed ", 1), "e.yaml")
    assert names_main(["--models-dir", str(models), "apply", str(edited)]) == 0
    renamed = load_bundle(models)
    assert renamed.metadata.version != bundle.metadata.version
    settings = Settings(models_dir=models)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = (await client.get("/segments")).json()
    shown = answer["segments"] if isinstance(answer, dict) else answer
    assert shown[0]["name"].startswith("Renamed ")
    assert [s.get("description") for s in shown] == [None] * 3
    assert [s.get("action") for s in shown] == [None] * 3


def test_names_on_a_missing_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert names_main(["--models-dir", str(tmp_path), "template"]) == 2
    assert "no current model" in capsys.readouterr().err
