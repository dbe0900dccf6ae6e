"""What a retrained model changes for customers: the transition matrix at training time, in
the report and from segment-compare, checked against counts made with both pipelines directly."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.bundle import Bundle, load_bundle
from segmentation.metadata import REPORT_FILE, Comparison, list_versions
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV
from tests.retraining_data import (
    RETAIL_TRAIN,
    narrow_basket_schema,
    retail_export,
    shifted_mall,
)
from tests.schemas import CLASSIC_TO_SNAKE
from training.cli import EXIT_HELD_BACK
from training.cli import main as train_main
from training.train import TrainingOptions, train
from training.versions import compare_main

FEATURES = ["age", "annual_income", "spending_score"]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bundle, Bundle, Path]:
    root = tmp_path_factory.mktemp("compare")
    models = root / "models"

    def options(data: Path, seed: int) -> TrainingOptions:
        return TrainingOptions(
            source=DataSource(str(data)), models_dir=models, k=5, seed=seed, stability_samples=0
        )

    old = train(options(CLASSIC_CSV, 1))
    shifted = shifted_mall(root / "shifted.csv")
    train(options(shifted, 2))
    return load_bundle(models, old.metadata.version), load_bundle(models), shifted


def predicted_ids(bundle: Bundle, frame: pd.DataFrame) -> np.ndarray:
    """Segment ids from the pickled pipeline itself: centroid rows mapped to ids."""
    rows = bundle.pipeline.predict(frame[FEATURES])
    return np.asarray(bundle.metadata.segment_ids)[rows]


def expected_counts(old: Bundle, new: Bundle, data: Path) -> Counter[tuple[int, int]]:
    frame = pd.read_csv(data).rename(columns=CLASSIC_TO_SNAKE)
    return Counter(
        zip(predicted_ids(old, frame).tolist(), predicted_ids(new, frame).tolist(), strict=True)
    )


def assert_matches(comparison: Comparison, expected: Counter[tuple[int, int]]) -> None:
    found = {(t.source, t.target): t.customers for t in comparison.transitions}
    assert found == dict(expected)
    total = sum(expected.values())
    kept = sum(count for (source, target), count in expected.items() if source == target)
    assert comparison.customers == total
    assert comparison.kept == kept
    assert comparison.moved == total - kept
    assert comparison.kept_share == pytest.approx(kept / total)
    assert 0 < comparison.moved < total  # the shift moves some customers, not all


def test_training_on_shifted_data_records_the_transition_matrix(
    two_models: tuple[Bundle, Bundle, Path],
) -> None:
    old, new, shifted = two_models
    comparison = new.metadata.comparison
    assert comparison is not None
    assert comparison.old_version == old.metadata.version
    assert comparison.new_version is None
    assert comparison.data == "the training customers"
    assert_matches(comparison, expected_counts(old, new, shifted))
    old_profiles = {p.id: p for p in old.metadata.segments}
    new_profiles = {p.id: p for p in new.metadata.segments}
    kept = [change for change in comparison.segments if change.status == "kept"]
    assert len(kept) >= 3
    for change in kept:
        assert change.centroid_shift["annual_income"] == pytest.approx(
            new_profiles[change.id].centroid["annual_income"]
            - old_profiles[change.id].centroid["annual_income"]
        )
        assert change.stayed == sum(
            count
            for (source, target), count in expected_counts(old, new, shifted).items()
            if source == target == change.id
        )
    report = (new.path / REPORT_FILE).read_text()
    assert "What changes for customers" in report
    assert 'alt="transition matrix: customers per segment before and after"' in report
    assert f"{comparison.kept:,} of {comparison.customers:,} training customers" in report


def test_segment_compare_prints_the_matrix_and_json(
    two_models: tuple[Bundle, Bundle, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, _ = two_models
    models = str(new.path.parent)
    versions = [old.metadata.version, new.metadata.version]
    assert (
        compare_main([*versions, "--data", str(CLASSIC_CSV), "--models-dir", models, "--json"]) == 0
    )
    comparison = Comparison.model_validate(json.loads(capsys.readouterr().out))
    assert comparison.new_version == new.metadata.version
    assert comparison.data == str(CLASSIC_CSV)
    expected = expected_counts(old, new, CLASSIC_CSV)
    assert_matches(comparison, expected)

    assert compare_main([*versions, "--data", str(CLASSIC_CSV), "--models-dir", models]) == 0
    text = capsys.readouterr().out
    assert f"{versions[0]} -> {versions[1]} on {CLASSIC_CSV}: 200 customers" in text
    assert f"keep their segment: {comparison.kept:,} ({comparison.kept_share:.1%})" in text
    matrix_lines = text.split("customers per segment (rows: old, columns: new)\n")[1].splitlines()
    header = matrix_lines[0].split()
    assert header[0] == "old\\new"
    new_ids = [int(cell) for cell in header[1:]]
    assert new_ids == sorted(p.id for p in new.metadata.segments)
    old_ids = sorted(p.id for p in old.metadata.segments)
    for line, source in zip(matrix_lines[1 : 1 + len(old_ids)], old_ids, strict=True):
        cells = [int(v.replace(",", "")) for v in line.split()]
        assert cells == [source, *(expected.get((source, target), 0) for target in new_ids)]


def test_segment_compare_refuses_bad_input(
    two_models: tuple[Bundle, Bundle, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, _ = two_models
    models = str(new.path.parent)
    versions = [old.metadata.version, new.metadata.version]
    assert (
        compare_main([versions[0], "v-none", "--data", str(CLASSIC_CSV), "--models-dir", models])
        == 2
    )
    assert "bundle 'v-none' not found" in capsys.readouterr().err
    no_age = tmp_path / "no_age.csv"
    pd.read_csv(CLASSIC_CSV).drop(columns=["Age"]).to_csv(no_age, index=False)
    assert compare_main([*versions, "--data", str(no_age), "--models-dir", models]) == 2
    assert "age" in capsys.readouterr().err


@pytest.fixture(scope="module")
def left_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bundle, Bundle, Bundle, Path]:
    """A model in use that refuses baskets above 200, and two held-back retrains against it on
    the same customers: as they are (9 of 600 refused) and with every basket out of its range."""
    root = tmp_path_factory.mktemp("left_out")
    models = root / "models"
    data = retail_export(root / "crm.csv")
    moved = retail_export(root / "moved.csv", basket_times=50, basket_plus=20000)
    common = ["--models-dir", str(models), "--max-moved", "0.01", *RETAIL_TRAIN]
    schema = str(narrow_basket_schema(root / "narrow.toml"))
    assert train_main(["--data", str(data), *common, "--schema", schema, "--drop-invalid"]) == 0
    old = load_bundle(models)
    assert train_main(["--data", str(data), *common]) == EXIT_HELD_BACK
    assert train_main(["--data", str(moved), *common]) == EXIT_HELD_BACK
    retrained = [v for v in list_versions(models) if v != old.metadata.version]
    retrained.sort(key=lambda v: (models / v).stat().st_mtime_ns)  # in the order trained
    partial, none = (load_bundle(models, v) for v in retrained)
    assert load_bundle(models).metadata.version == old.metadata.version
    return old, partial, none, data


def changes_section(bundle: Bundle) -> str:
    report = (bundle.path / REPORT_FILE).read_text()
    return report[report.index("<h2>What changes for customers</h2>") :].split("<h2>")[1]


def fact(section: str, label: str) -> str:
    found = re.search(rf"<tr><th>{re.escape(label)}</th>\s*<td>(.*?)</td></tr>", section, re.S)
    assert found, f"no {label!r} row"
    return " ".join(found.group(1).split())


def segment_rows(section: str) -> tuple[list[str], dict[int, list[str]]]:
    """The segment table's header and its rows by segment id."""
    table = section[section.rindex("<table>") :]
    header = re.findall(r"<th>(.*?)</th>", table)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table)]
    return header, {int(row[1]): row for row in rows}


def test_the_report_says_who_could_not_be_compared_and_why(
    left_out: tuple[Bundle, Bundle, Bundle, Path],
) -> None:
    _, partial, _, _ = left_out
    comparison = partial.metadata.comparison
    assert comparison is not None
    assert (comparison.customers, comparison.left_out) == (591, 9)
    section = changes_section(partial)
    assert fact(section, "Keep their segment") == (
        f"{comparison.kept:,} of the 591 compared training customers ({comparison.kept_share:.1%})"
    )
    assert fact(section, "Not compared") == (
        "9 of 600 training customers (1.5%), 9 refused by the old model (basket outside the "
        "valid range 0 to 200: 9). The promotion gate (--max-moved) counts them as not keeping "
        "their segment."
    )
    assert 'alt="transition matrix: customers per segment before and after"' in section
    header, rows = segment_rows(section)
    assert header[4:8] == [
        "Before (compared)",
        "After (compared)",
        "Stayed (compared)",
        "In this model",
    ]
    sizes = {p.id: p.size for p in partial.metadata.segments}
    for change in comparison.segments:
        row = rows[change.id]
        assert row[5] == f"{change.new_customers:,}"
        assert row[7] == (f"{sizes[change.id]:,}" if change.id in sizes else "")
    assert sum(sizes.values()) == 600
    assert (
        "Before, After and Stayed count only the 591 customers both models could score (the "
        "training customers); In this model is each segment's size among all its training "
        "customers." in " ".join(section.split())
    )


def test_the_report_of_a_model_nothing_could_be_compared_with_shows_no_share(
    left_out: tuple[Bundle, Bundle, Bundle, Path],
) -> None:
    _, _, none, _ = left_out
    comparison = none.metadata.comparison
    assert comparison is not None
    assert (comparison.customers, comparison.left_out) == (0, 600)
    section = changes_section(none)
    assert (
        fact(section, "Keep their segment") == "not known: no training customer could be compared"
    )
    assert fact(section, "Move") == "not known: no training customer could be compared"
    assert fact(section, "Not compared").startswith(
        "600 of 600 training customers (100.0%), 600 refused by the old model (basket outside "
        "the valid range 0 to 200: 600)."
    )
    assert "No transition matrix: no training customer could be compared." in section
    assert "transition matrix: customers per segment" not in section
    # Every new segment holds its real size, not the 0 customers compared.
    header, rows = segment_rows(section)
    assert "In this model" in header
    for profile in none.metadata.segments:
        assert rows[profile.id][header.index("In this model")] == f"{profile.size:,}"
        assert profile.size > 0


def test_segment_compare_says_why_rows_were_left_out(
    left_out: tuple[Bundle, Bundle, Bundle, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, partial, none, data = left_out
    models = str(old.path.parent)
    versions = [old.metadata.version, partial.metadata.version]
    assert compare_main([*versions, "--data", str(data), "--models-dir", models]) == 0
    text = capsys.readouterr().out
    assert (
        f"on {data}: 591 customers (9 rows left out: 9 refused by the old model (basket "
        "outside the valid range 0 to 200: 9))\n" in text
    )
    moved = data.parent / "moved.csv"
    versions = [old.metadata.version, none.metadata.version]
    assert compare_main([*versions, "--data", str(moved), "--models-dir", models, "--json"]) == 0
    comparison = Comparison.model_validate(json.loads(capsys.readouterr().out))
    assert (comparison.customers, comparison.kept_share, comparison.moved_share) == (0, 0.0, 0.0)
    assert comparison.left_out_by_old == 600
    assert comparison.left_out_by_new == 0
    assert compare_main([*versions, "--data", str(moved), "--models-dir", models]) == 0
    assert (
        "keep their segment: not known, no customer could be compared\n" in capsys.readouterr().out
    )
