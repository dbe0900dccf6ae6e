"""docs/training.md as written: its commands run in a scratch folder laid out like the
repository, on the model `make run` trains, and what the page shows is what they print."""

from __future__ import annotations

import shutil
from pathlib import Path

from segmentation.bundle import load_bundle
from segmentation.metadata import current_version, list_versions
from tests.conftest import CLASSIC_CSV, REPO_ROOT, SAMPLE_CSV
from tests.docs.conftest import VERSION, blocks, page_section, same_but_versions
from tests.shell import paste

PAGE = REPO_ROOT / "docs" / "training.md"


def section(title: str) -> str:
    return page_section(PAGE, title)


def test_the_names_example_applies_to_the_default_model_as_written(
    default_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "work"
    shutil.copytree(default_model, folder)
    models = folder / "models"
    trained = current_version(models)
    [names_file] = blocks(section("Segment names"), "yaml")
    (folder / "names.yaml").write_text(names_file)
    printed = paste("segment-names apply names.yaml", folder)
    assert printed.startswith(f"renamed {trained} -> ")
    segments = {p.auto_name: p for p in load_bundle(models).metadata.segments}
    assert segments["Older, low income, low spending"].name == "Budget regulars"
    assert segments["Older, low income, low spending"].id == 4
    assert segments["Older, low income, low spending"].action == (
        "Loyalty points on everyday items."
    )
    assert segments["Older, high income, low spending"].name == "Cautious affluent"

    # The commands beside it: the template of the renamed model changes nothing; applied to
    # the model as trained (the page's --version), it names that one the same way.
    [commands] = blocks(section("Segment names"), "sh")
    assert len(set(VERSION.findall(commands))) == 1
    printed = paste(VERSION.sub(trained, commands), folder)
    assert "nothing to change" in printed
    assert f"renamed {trained} -> " in printed
    assert len(list_versions(models)) == 3
    newest = load_bundle(models).metadata
    assert newest.derived_from == trained
    assert {p.name for p in newest.segments} >= {"Budget regulars", "Cautious affluent"}


def test_the_k_table_is_what_the_command_above_it_prints(tmp_path: Path) -> None:
    choosing = section("Choosing k")
    [command] = [b for b in blocks(choosing, "sh") if "Mall_Customers.csv" in b]
    [shown] = [b for b in blocks(choosing, "text") if b.startswith("trained ")]
    folder = tmp_path / "repo"
    folder.mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    shutil.copy(CLASSIC_CSV, tmp_path / "shared" / "data" / CLASSIC_CSV.name)
    printed = paste(command.strip() + " --models-dir models --quiet", folder)
    expected = VERSION.sub("V", shown).splitlines()
    assert VERSION.sub("V", printed).splitlines()[: len(expected)] == expected


def test_the_gate_and_compare_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    text = PAGE.read_text()
    start = text.index("### What changes for customers, and the promotion gate")
    example = text[start : text.index("\n## ", start)]
    train_block, compare_block = blocks(example, "sh")
    gated, compared = blocks(example, "text")
    folder = tmp_path / "repo"
    (folder / "data").mkdir(parents=True)
    shutil.copy(SAMPLE_CSV, folder / "data" / SAMPLE_CSV.name)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    shutil.copy(CLASSIC_CSV, tmp_path / "shared" / "data" / CLASSIC_CSV.name)
    printed = paste(train_block, folder)
    second = printed[printed.rindex("trained ") :]
    same_but_versions(gated, second)
    models = folder / "models"
    old = current_version(models)
    [new] = [v for v in list_versions(models) if v != old]
    shown = list(dict.fromkeys(VERSION.findall(compare_block)))
    assert len(shown) == 2
    commands = compare_block.replace(shown[0], old).replace(shown[1], new)
    same_but_versions(compared, paste(commands, folder))
    assert current_version(models) == new
