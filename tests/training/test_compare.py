"""What a retrained model changes for customers: the transition matrix at training time, in
the report and from segment-compare, checked against counts made with both pipelines directly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.bundle import Bundle, load_bundle
from segmentation.metadata import REPORT_FILE, Comparison
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV
from tests.retraining_data import shifted_mall
from tests.schemas import CLASSIC_TO_SNAKE
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
