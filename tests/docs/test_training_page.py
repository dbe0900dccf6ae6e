"""docs/training.md as written: its commands run in a scratch folder laid out like the
repository, on the model `make run` trains, and what the page shows is what they print."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from segmentation.bundle import load_bundle
from segmentation.metadata import current_version, list_versions
from tests.conftest import CLASSIC_CSV, REPO_ROOT, SAMPLE_CSV
from tests.docs.conftest import VERSION, blocks, page_section, same_but_versions
from tests.shell import paste, run_block

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


def test_the_first_command_trains_the_default_model(default_model: Path) -> None:
    """The fixture runs the page's first block as written; this is what it made and printed,
    and the other way the block names (``python -m training``) is the same command."""
    printed = (default_model / "trained.txt").read_text()
    version = current_version(default_model / "models")
    assert printed.startswith(f"trained {version}: k=")
    assert load_bundle(default_model / "models").metadata.training_data.rows == 400
    usage = paste("python -m training --help", default_model)
    assert usage.startswith("usage: segment-train ")


def test_the_bad_data_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    [shown] = [b for b in blocks(section("Bad data"), "text") if b.startswith("$ ")]
    command, *expected = shown.splitlines()
    # The page's crm.csv: rows 2 to 9 with a text age, row 10's spending score 200, and row 11
    # repeating customer 1 (rows count from 1 after the header).
    rows = ["1,Male,19,15,39"] + [f"{i},Male,x{i},15,39" for i in range(2, 10)]
    rows += ["10,Male,30,15,200", "1,Female,30,20,40"]
    header = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"
    (tmp_path / "crm.csv").write_text("\n".join([header, *rows]) + "\n")
    done = run_block(command.removeprefix("$ "), tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == expected
    assert not (tmp_path / "models").exists()


def test_reproducing_the_study_finds_its_centroids_and_sizes(tmp_path: Path) -> None:
    study = section("Reproducing the study")
    [command] = blocks(study, "sh")
    centroids = [(float(a), float(b)) for a, b in re.findall(r"\(([\d.]+), ([\d.]+)\)", study)]
    assert len(centroids) == 5
    sizes = re.search(r"sizes ([\d, ]+) and (\d+)", study.replace("\n", " "))
    assert sizes is not None
    shown_sizes = sorted([*map(int, sizes[1].replace(",", " ").split()), int(sizes[2])])
    folder = tmp_path / "repo"
    folder.mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    shutil.copy(CLASSIC_CSV, tmp_path / "shared" / "data" / CLASSIC_CSV.name)
    paste(command, folder)
    segments = load_bundle(folder / "models").metadata.segments
    assert sorted(p.size for p in segments) == shown_sizes
    found = [(p.centroid["annual_income"], p.centroid["spending_score"]) for p in segments]
    for income, spending in centroids:
        assert min(max(abs(income - i), abs(spending - s)) for i, s in found) <= 1.0


def test_the_gate_and_compare_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    text = PAGE.read_text()
    start_title = "### What changes for customers, and the promotion gate"
    start = text.index(start_title)
    example = text[start : text.index("\n## ", start)]
    train_block, compare_block = blocks(example, "sh")
    gated, compared = blocks(example, "text")
    folder = tmp_path / "repo"
    (folder / "data").mkdir(parents=True)
    shutil.copy(SAMPLE_CSV, folder / "data" / SAMPLE_CSV.name)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    shutil.copy(CLASSIC_CSV, tmp_path / "shared" / "data" / CLASSIC_CSV.name)
    done = run_block(train_block, folder)
    # The gate held the second model back: written, not current, and exit code 3 as the page says.
    assert done.returncode == 3, f"{done.stdout}\n{done.stderr}"
    assert "exits with code 3" in " ".join(example.split())
    printed = done.stdout
    second = printed[printed.rindex("trained ") :]
    same_but_versions(gated, second)
    # The lineage line shown earlier on the page has the shape of the one printed here.
    [lineage] = blocks(text[: text.index(start_title)], "text")[-1:]
    numbers = re.compile(r"\b\d[\d, ]*\b")
    [printed_line] = [line for line in second.splitlines() if "segment ids follow" in line]
    assert numbers.sub("N", VERSION.sub("V", lineage.strip())) == numbers.sub(
        "N", VERSION.sub("V", printed_line.strip())
    )
    models = folder / "models"
    old = current_version(models)
    [new] = [v for v in list_versions(models) if v != old]
    shown = list(dict.fromkeys(VERSION.findall(compare_block)))
    assert len(shown) == 2
    commands = compare_block.replace(shown[0], old).replace(shown[1], new)
    same_but_versions(compared, paste(commands, folder))
    assert current_version(models) == new
