"""Segment ids that keep their meaning when the model is retrained (training.align)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segmentation.assigner import Assigner
from segmentation.bundle import Bundle, load_bundle
from segmentation.metadata import METADATA_FILE, ScorerNumbers, current_version
from segmentation.schema import FeatureSchema, NumericFeature
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV, REPO_ROOT
from tests.retraining_data import CENTRES, MOVED, planted
from training.align import DEFAULT_MAX_DISTANCE, Reference, align
from training.cli import main
from training.train import TrainingOptions, rename_segments, train


def mall_options(models: Path, seed: int, **overrides: object) -> TrainingOptions:
    settings: dict[str, object] = {"k": 5, "stability_samples": 0, "seed": seed, **overrides}
    return TrainingOptions(
        source=DataSource(str(CLASSIC_CSV)),
        models_dir=models,
        **settings,  # type: ignore[arg-type]
    )


def mall_rows() -> pd.DataFrame:
    return pd.read_csv(CLASSIC_CSV)


def test_two_seeds_on_the_mall_data_give_the_same_ids_and_names(tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = train(mall_options(models, seed=1))
    names = tmp_path / "names.yaml"
    by_id = {p.id: p for p in first.metadata.segments}
    big_spenders = next(
        p.id
        for p in first.metadata.segments
        if p.centroid["annual_income"] > 70 and p.centroid["spending_score"] > 70
    )
    names.write_text(
        f"segments:\n  {big_spenders}:\n    name: Big spenders\n    action: Invite to VIP night\n"
    )
    renamed = rename_segments(models, names)
    assert renamed is not None
    # The second seed alone numbers the same five groups in another order: the test only means
    # something if K-Means' own order differs.
    unaligned = train(mall_options(tmp_path / "elsewhere", seed=2))
    own_order = [round(p.centroid["annual_income"]) for p in unaligned.metadata.segments]
    first_order = [round(by_id[i].centroid["annual_income"]) for i in sorted(by_id)]
    assert own_order != first_order

    second = train(mall_options(models, seed=2))
    assert current_version(models) == second.metadata.version
    before = {p.id: p for p in renamed.metadata.segments}
    after = {p.id: p for p in second.metadata.segments}
    assert after.keys() == before.keys() == set(range(5))
    for segment, profile in after.items():
        assert profile.name == before[segment].name
        for feature in ("age", "annual_income", "spending_score"):
            assert profile.centroid[feature] == pytest.approx(
                before[segment].centroid[feature], abs=1.0
            )
    assert after[big_spenders].name == "Big spenders"
    assert after[big_spenders].action == "Invite to VIP night"

    lineage = second.metadata.lineage
    assert lineage is not None
    assert lineage.aligned_to == renamed.metadata.version
    assert lineage.new == []
    assert lineage.retired == []
    assert lineage.max_distance == DEFAULT_MAX_DISTANCE
    assert [s.matched_id for s in lineage.segments] == [0, 1, 2, 3, 4]
    for entry in lineage.segments:
        assert entry.distance is not None
        assert entry.distance < 0.2
        assert set(entry.centroid_shift) == {"age", "annual_income", "spending_score"}
        assert entry.centroid_shift["annual_income"] == pytest.approx(
            after[entry.id].centroid["annual_income"] - before[entry.id].centroid["annual_income"]
        )

    # Every customer gets the same id from both models, and from the pickled pipeline too.
    rows = mall_rows()
    old_ids = score_ids(renamed, rows)
    new_ids = score_ids(second, rows)
    assert (old_ids == new_ids).mean() > 0.97
    pipeline = load_bundle(models).pipeline
    frame = rows.rename(
        columns={
            "Age": "age",
            "Annual Income (k$)": "annual_income",
            "Spending Score (1-100)": "spending_score",
        }
    )[["age", "annual_income", "spending_score"]]
    assert (pipeline.predict(frame) == new_ids).all()


def score_ids(bundle: object, rows: pd.DataFrame) -> np.ndarray:
    assigner = Assigner.from_bundle(bundle)  # type: ignore[arg-type]
    checked = assigner.check_table(rows)
    return assigner.score(checked.rows).assignments.segment_ids


@dataclass(frozen=True)
class Line:
    """Three versions of one line of models: planted groups, one moved, then moved back."""

    models: Path
    data: Path
    first: Bundle
    second: Bundle
    third: Bundle


def train_planted(models: Path, data: Path, **overrides: object) -> Bundle:
    settings: dict[str, object] = {"k": 3, "stability_samples": 0, **overrides}
    options = TrainingOptions(source=DataSource(str(data)), models_dir=models, **settings)  # type: ignore[arg-type]
    return train(options)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Line:
    """Read-only: tests that train more copy ``models`` first."""
    root = tmp_path_factory.mktemp("line")
    models = root / "models"
    first = train_planted(models, planted(root / "a.csv", CENTRES))
    second = train_planted(models, planted(root / "b.csv", MOVED, seed=1))
    third = train_planted(models, planted(root / "c.csv", CENTRES, seed=2))
    return Line(models, root, first, second, third)


def copied(line: Line, tmp_path: Path) -> Path:
    shutil.copytree(line.models, tmp_path / "models")
    return tmp_path / "models"


def test_a_moved_segment_gets_an_id_never_used_before_and_the_old_one_is_retired(
    line: Line,
) -> None:
    first, second, third = line.first, line.second, line.third
    assert sorted(p.id for p in first.metadata.segments) == [0, 1, 2]
    assert first.metadata.lineage is not None
    assert first.metadata.lineage.aligned_to is None
    older = segment_near(first, annual_income=100)

    lineage = second.metadata.lineage
    assert lineage is not None
    assert lineage.aligned_to == first.metadata.version
    assert lineage.retired == [older]
    assert lineage.new == [3]
    assert sorted(p.id for p in second.metadata.segments) == sorted({0, 1, 2, 3} - {older})
    assert lineage.highest_id == 3
    # The groups that stayed kept their ids and names.
    for name in ("young", "middle"):
        _, income, _ = CENTRES[name]
        kept = segment_near(first, annual_income=income)
        assert segment_near(second, annual_income=income) == kept
        assert profile(second, kept).name == profile(first, kept).name

    # Back where it was: not the retired id, nor 3, which the moved group now holds.
    assert third.metadata.lineage is not None
    assert third.metadata.lineage.new == [4]
    assert third.metadata.lineage.retired == [3]
    assert segment_near(third, annual_income=100) == 4
    assert sorted(p.id for p in third.metadata.segments) == sorted({0, 1, 2, 4} - {older})

    # Served and offline scoring, and the pickled pipeline, agree on the ids.
    rows = pd.read_csv(line.data / "c.csv")
    ids = score_ids(third, rows)
    assert set(ids.tolist()) == {p.id for p in third.metadata.segments}
    bundle = load_bundle(line.models)
    rows_of_centroids = bundle.pipeline.predict(rows[bundle.metadata.features])
    assert (np.asarray(bundle.metadata.segment_ids)[rows_of_centroids] == ids).all()
    assigner = Assigner.from_bundle(bundle)
    names = dict(zip(bundle.metadata.segment_ids, assigner.segment_names, strict=True))
    scored = assigner.score(assigner.check_table(rows).rows)
    columns = assigner.output_columns(scored, explain=True)
    assert [names[i] for i in columns["segment_id"].tolist()] == list(columns["segment_name"])
    assert set(columns["runner_up_segment_id"].tolist()) <= set(names)


def segment_near(bundle: object, *, annual_income: float) -> int:
    segments = bundle.metadata.segments  # type: ignore[attr-defined]
    return min(segments, key=lambda p: abs(p.centroid["annual_income"] - annual_income)).id  # type: ignore[no-any-return]


def profile(bundle: object, segment: int) -> object:
    return next(p for p in bundle.metadata.segments if p.id == segment)  # type: ignore[attr-defined]


def test_no_align_and_align_to(line: Line, tmp_path: Path) -> None:
    models = copied(line, tmp_path)
    # Aligned to the first version rather than the current one: every group is where it was.
    again = train_planted(
        models, line.data / "c.csv", align_to=line.first.metadata.version, promote=False
    )
    assert again.metadata.lineage is not None
    assert again.metadata.lineage.aligned_to == line.first.metadata.version
    assert again.metadata.lineage.new == []
    assert sorted(p.id for p in again.metadata.segments) == [0, 1, 2]
    fresh = train_planted(models, line.data / "b.csv", align=False, promote=False)
    assert fresh.metadata.lineage is not None
    assert fresh.metadata.lineage.aligned_to is None
    assert sorted(p.id for p in fresh.metadata.segments) == [0, 1, 2]


def test_the_command_line_says_what_was_kept_new_and_retired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    base = ["--models-dir", str(models), "--k", "3", "--stability-samples", "0", "--quiet"]
    assert main(["--data", str(planted(tmp_path / "a.csv", CENTRES)), *base]) == 0
    first = current_version(models)
    assert main(["--data", str(planted(tmp_path / "b.csv", MOVED, seed=1)), *base]) == 0
    out = capsys.readouterr().out
    assert f"segment ids follow {first}: kept " in out
    assert "; new 3; retired " in out
    with pytest.raises(SystemExit):
        main(["--data", str(tmp_path / "a.csv"), *base, "--no-align", "--align-to", first])


def test_a_model_on_other_columns_continues_no_segment(line: Line, tmp_path: Path) -> None:
    models = copied(line, tmp_path)
    other = train_planted(models, line.data / "c.csv", features=["age", "annual_income"])
    lineage = other.metadata.lineage
    assert lineage is not None
    assert lineage.note is not None
    assert "every segment is new" in lineage.note
    kept = sorted(p.id for p in line.third.metadata.segments)
    assert lineage.retired == kept
    assert lineage.new == [5, 6, 7]  # above 4, the highest id the line has used


def test_matching_is_the_minimum_cost_one_within_the_distance() -> None:
    numbers = ScorerNumbers(
        features=["a", "b"], mean=[0.0, 0.0], scale=[1.0, 1.0], centroids=[[0, 0], [5, 0], [0, 5]]
    )
    reference = reference_with(numbers, ids=[0, 3, 7])
    fitted = np.array([[0.0, 4.4], [0.0, 0.2], [5.2, 0.0]])
    schema = numbers_schema(["a", "b"])
    result = align(fitted, numbers, reference, highest_id=9, schema=schema)
    assert result.ids == [0, 3, 7]
    assert result.order.tolist() == [1, 2, 0]
    assert result.distances[7] == pytest.approx(0.6)
    # Beyond the distance: new ids above the highest ever used, the old one retired.
    far = np.array([[0.0, 0.0], [5.0, 0.0], [3.0, 3.0]])
    result = align(far, numbers, reference, highest_id=9, schema=schema)
    assert result.ids == [0, 3, 10]
    assert result.retired == [7]
    assert result.new == [10]
    assert result.relabel(np.array([2, 0, 1])).tolist() == [2, 0, 1]


def numbers_schema(names: list[str]) -> FeatureSchema:
    return FeatureSchema(
        features=tuple(NumericFeature(name=name, minimum=-100, maximum=100) for name in names)
    )


def reference_with(numbers: ScorerNumbers, ids: list[int]) -> Reference:
    """A reference model with just what matching reads: its numbers, schema and segment ids."""
    metadata = SimpleNamespace(
        version="v-old",
        segment_ids=ids,
        segments=[],
        feature_schema=numbers_schema(numbers.features),
    )
    return Reference(metadata=metadata, numbers=numbers)  # type: ignore[arg-type]


def test_a_bundle_without_lineage_still_loads_and_serves(line: Line, tmp_path: Path) -> None:
    models = copied(line, tmp_path)
    path = models / line.first.metadata.version / METADATA_FILE
    metadata = json.loads(path.read_text())
    del metadata["lineage"]
    metadata["format_version"] = 3
    path.write_text(json.dumps(metadata))
    loaded = load_bundle(models, line.first.metadata.version)
    assert loaded.metadata.lineage is None
    assert loaded.metadata.segment_ids == [0, 1, 2]
    assigner = Assigner.from_bundle(loaded)
    assert (
        score_ids(loaded, pd.read_csv(line.data / "a.csv")).tolist()
        == (
            loaded.pipeline.predict(pd.read_csv(line.data / "a.csv")[loaded.metadata.features])
        ).tolist()
    )
    assert assigner.scorer.ids is None


def test_a_new_level_keeps_the_segments_and_leaves_its_customers_out_of_the_comparison(
    tmp_path: Path,
) -> None:
    """A channel 'app' new this month made every segment new ('reads other columns'), so
    every id keyed in a CRM changed meaning, and nothing was compared."""
    from training.sample_retail import generate_retail_customers

    frame = generate_retail_customers(600, seed=4).frame
    features = ("tenure_months", "orders_per_year", "average_basket", "channel")
    models = tmp_path / "models"

    def retrain(rows: pd.DataFrame, name: str) -> Bundle:
        path = tmp_path / name
        rows.to_csv(path, index=False)
        return train(
            TrainingOptions(
                source=DataSource(str(path)),
                models_dir=models,
                features=features,
                k=3,
                stability_samples=0,
                seed=1,
            )
        )

    first = retrain(frame, "may.csv")
    june = frame.copy()
    june.loc[::20, "channel"] = "app"  # 30 customers
    second = retrain(june, "june.csv")
    lineage = second.metadata.lineage
    assert lineage is not None
    assert lineage.note is not None
    assert "reads other levels (new: channel=app)" in lineage.note
    assert lineage.new == []
    assert lineage.retired == []
    assert sorted(p.id for p in second.metadata.segments) == sorted(
        p.id for p in first.metadata.segments
    )
    comparison = second.metadata.comparison
    assert comparison is not None
    assert comparison.left_out == 30
    assert comparison.left_out_by_old == 30
    assert [(r.model, r.column, r.customers) for r in comparison.refused] == [
        ("old", "channel", 30)
    ]
    assert comparison.kept_share > 0.9


def test_a_number_that_became_categories_is_another_feature_not_other_levels() -> None:
    from training.align import old_centres_on

    old = ScorerNumbers(
        features=["visits", "age"],
        mean=[3.0, 40.0],
        scale=[1.0, 10.0],
        centroids=[[0.0, 0.0], [1.0, 1.0]],
    )
    assert old_centres_on(old, ["visits=1", "visits=2", "age"]) is None
    shifted = old_centres_on(old, ["visits", "age"])
    assert shifted is not None
    np.testing.assert_allclose(shifted, [[3.0, 40.0], [4.0, 50.0]])


RETAIL_FEATURES = ("tenure_months", "orders_per_year", "average_basket", "channel", "loyalty_tier")


@pytest.mark.parametrize("first_log1p", [False, True], ids=["log1p-added", "log1p-removed"])
def test_a_feature_that_gains_or_loses_log1p_keeps_the_segments(
    tmp_path: Path, first_log1p: bool
) -> None:
    """docs/own-data.md's two commands on the same customers, into one folder: the schema
    file adds log1p to two features. The old centres were scaled as if they were values on
    the new model's log scale, so every segment was retired and renumbered."""
    plain = tmp_path / "plain.toml"
    plain.write_text(
        "".join(f'[[feature]]\nname = "{name}"\n\n' for name in RETAIL_FEATURES[:3])
        + '[[feature]]\nname = "channel"\nkind = "categorical"\n\n'
        + '[[feature]]\nname = "loyalty_tier"\nkind = "categorical"\n'
    )
    logged = tmp_path / "log1p.toml"
    logged.write_text(
        plain.read_text()
        .replace('name = "orders_per_year"', 'name = "orders_per_year"\ntransform = "log1p"')
        .replace('name = "average_basket"', 'name = "average_basket"\ntransform = "log1p"')
    )
    models = tmp_path / "models"

    def retrain(schema: Path) -> Bundle:
        return train(
            TrainingOptions(
                source=DataSource(str(REPO_ROOT / "data" / "sample_retail_customers.csv")),
                models_dir=models,
                schema_file=schema,
                k=4,
                stability_samples=0,
            )
        )

    first = retrain(logged if first_log1p else plain)
    second = retrain(plain if first_log1p else logged)
    lineage = second.metadata.lineage
    assert lineage is not None
    assert lineage.new == []
    assert lineage.retired == []
    assert [p.id for p in second.metadata.segments] == [p.id for p in first.metadata.segments]
    assert lineage.note is not None
    assert "read features otherwise (orders_per_year: " in lineage.note
    comparison = second.metadata.comparison
    assert comparison is not None
    # Counted independently: each customer's segment under both models, by id.
    rows = pd.read_csv(REPO_ROOT / "data" / "sample_retail_customers.csv")
    kept = score_ids(first, rows) == score_ids(second, rows)
    assert comparison.kept_share == pytest.approx(kept.mean())
    assert kept.mean() > 0.8


def test_old_log_centres_are_taken_back_to_values() -> None:
    """A centre at log1p(99) on the old model is 99 on a model that reads values."""
    old = ScorerNumbers(features=["spend"], mean=[0.0], scale=[1.0], centroids=[[np.log1p(99.0)]])
    logged = FeatureSchema(
        features=(NumericFeature(name="spend", minimum=0, maximum=1000, transform="log1p"),)
    )
    reference = Reference(
        metadata=SimpleNamespace(  # type: ignore[arg-type]
            version="v-old", segment_ids=[4], segments=[], feature_schema=logged
        ),
        numbers=old,
    )
    values = ScorerNumbers(features=["spend"], mean=[100.0], scale=[10.0], centroids=[[0.0]])
    plain = FeatureSchema(features=(NumericFeature(name="spend", minimum=0, maximum=1000),))
    result = align(np.array([[-0.05]]), values, reference, highest_id=4, schema=plain)
    assert result.ids == [4]
    assert result.distances[4] == pytest.approx(0.05)
