"""The reference blocks of docs/architecture.md and docs/bundle.md against what they describe:
the module map against the packages, the bundle layout and its JSON excerpts against a bundle
that training writes (the model `make run` trains, and the page's own retail schema)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from segmentation.bundle import load_bundle
from segmentation.metadata import current_version, read_metadata
from segmentation.schema import FeatureSchema
from tests.conftest import REPO_ROOT
from tests.docs.conftest import VERSION, blocks

ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
BUNDLE = REPO_ROOT / "docs" / "bundle.md"


def module_map() -> dict[str, set[str]]:
    """Folder -> the modules (``x.py``) and sub-folders (``x/``) the map names in it."""
    [block] = blocks(ARCHITECTURE.read_text(), "text")
    named: dict[str, set[str]] = {}
    top = folder = ""
    for line in block.splitlines():
        if opening := re.match(r"^(\S+/)\s", line):
            top = folder = opening[1]
        elif opening := re.match(r"^  (\w+/)\s", line):
            folder = top + opening[1]
        found = re.findall(
            r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.(?:py|sh)|[\w-]+/)(?=[\s,;):]|$)", line
        )
        named.setdefault(folder, set()).update(found)
    return named


def test_every_module_the_architecture_page_names_exists() -> None:
    named = module_map()
    assert {"segmentation/", "training/", "service/http/", "bench/"} <= set(named)
    for folder, names in named.items():
        assert (REPO_ROOT / folder).is_dir(), folder
        for name in names - {folder.rstrip("/").rsplit("/", 1)[-1] + "/"}:
            nested = name.endswith("/") and (REPO_ROOT / folder / name).is_dir()
            assert nested or (REPO_ROOT / folder / name).is_file(), folder + name
    # and the map names every module of the packages (a folder named as a whole, `routes/`,
    # covers what is in it), so it stays a map
    missing = []
    for package in ("segmentation", "spark_engine", "training", "scoring", "service"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            if path.name in {"__init__.py", "__main__.py"}:
                continue
            folder = path.parent.relative_to(REPO_ROOT).as_posix() + "/"
            parent, _, last = folder.rstrip("/").rpartition("/")
            if path.name not in named.get(folder, set()) and last + "/" not in named.get(
                parent + "/", set()
            ):
                missing.append(folder + path.name)
    assert missing == [], f"not on the map: {missing}"


def test_the_bundle_layout_is_what_training_writes(default_model: Path) -> None:
    [layout] = [b for b in blocks(BUNDLE.read_text(), "text") if b.startswith("models/")]
    lines = [line.split("#")[0].rstrip() for line in layout.splitlines()]
    assert lines[0] == "models/"
    shown_files = {line.strip() for line in lines[1:] if line.startswith("    ")}
    [folder_line] = [line.strip() for line in lines if line.startswith("  ") and "/" in line]
    assert VERSION.fullmatch(folder_line.rstrip("/"))
    models = default_model / "models"
    version = current_version(models)
    assert {p.name for p in models.iterdir()} == {"CURRENT", version}
    assert {p.name for p in (models / version).iterdir()} == shown_files


def shown_excerpt(marker: str) -> object:
    """A JSON excerpt of the page (``"key": {...}``), as an object; ``"... one per segment"``
    style strings stand for what is left out."""
    [excerpt] = [b for b in blocks(BUNDLE.read_text(), "json") if b.startswith(f'"{marker}"')]
    return json.loads("{" + excerpt + "}")[marker]


def test_the_feature_schema_example_is_a_schema_as_a_bundle_records_it() -> None:
    shown = shown_excerpt("feature_schema")
    schema = FeatureSchema.model_validate(shown)
    assert schema.model_dump(mode="json") == shown  # every field shown, none missing


def test_the_scorer_example_is_the_default_models(default_model: Path) -> None:
    shown = shown_excerpt("scorer")
    models = default_model / "models"
    scorer = read_metadata(models / current_version(models)).model_dump(mode="json")["scorer"]
    assert shown["features"] == scorer["features"]
    assert shown["mean"] == scorer["mean"]
    assert shown["scale"] == scorer["scale"]
    first, *rest = shown["centroids"]
    assert rest == ["... one per segment"]
    assert first in scorer["centroids"]
    assert load_bundle(models).metadata.k == len(scorer["centroids"])
