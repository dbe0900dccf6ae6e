"""The split tree: how each k's segments map to the next k's, in the metadata, report and output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from segmentation.bundle import load_bundle
from segmentation.k_choice import describe_runner_up
from segmentation.metadata import REPORT_FILE
from tests.conftest import TrainFn
from tests.training.test_k_auto_planted import COLUMNS, planted_csv
from training.cli import main
from training.fit import N_INIT
from training.split_test import any_distinct, clean_splits, deepest_valley
from training.split_tree import flows_between, runner_up_k

SEED = 42  # training's default seed
# Five clear segments, two of them (the last two) closer together than the rest.
CENTRES = [(25, 30, 20), (60, 40, 85), (35, 120, 50), (70, 150, 15), (50, 90, 75)]
SIZES = [120, 90, 70, 60, 40]


def crosstab(lower: np.ndarray, higher: np.ndarray) -> pd.DataFrame:
    return pd.crosstab(pd.Series(lower, name="source"), pd.Series(higher, name="target"))


def test_flows_are_the_crosstab_of_the_two_labellings() -> None:
    rng = np.random.default_rng(3)
    lower = rng.integers(0, 4, size=500)
    higher = np.where(rng.random(500) < 0.8, lower, rng.integers(0, 5, size=500))
    flows = flows_between(lower, higher)
    counts = crosstab(lower, higher)
    expected = {
        (int(s), int(t)): int(counts.loc[s, t])
        for s in counts.index
        for t in counts.columns
        if counts.loc[s, t] > 0
    }
    assert {(f.source, f.target): f.customers for f in flows} == expected
    for flow in flows:
        assert flow.share == pytest.approx(flow.customers / int((lower == flow.source).sum()))
    assert sum(f.customers for f in flows) == 500


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    return planted_csv(tmp_path / "five.csv", CENTRES, SIZES)


def test_training_records_every_k_and_its_shares_match_an_independent_fit(
    planted: Path, train_into: TrainFn
) -> None:
    bundle = train_into(data=planted, k=None, k_range=(2, 7))
    selection = load_bundle(bundle.path.parent, bundle.metadata.version).metadata.k_selection
    tree = selection.split_tree
    assert tree is not None
    assert [level.k for level in tree.levels] == [2, 3, 4, 5, 6, 7]
    assert tree.rows == sum(SIZES)
    # Independently: scale, fit K-Means at every k the same way, and count.
    scaled = StandardScaler().fit_transform(pd.read_csv(planted)[COLUMNS])
    labels = {
        k: KMeans(n_clusters=k, n_init=N_INIT, random_state=SEED).fit_predict(scaled)
        for k in range(2, 8)
    }
    for level in tree.levels:
        assert level.sizes == np.bincount(labels[level.k], minlength=level.k).tolist()
        if level.k == 7:
            assert level.flows == []
            assert level.split_valley is None
            assert level.split_distinct is None
            continue
        counts = crosstab(labels[level.k], labels[level.k + 1])
        for flow in level.flows:
            assert flow.customers == counts.loc[flow.source, flow.target]
            source_total = int(counts.loc[flow.source].sum())
            assert flow.share == pytest.approx(flow.customers / source_total)
        assert sum(flow.customers for flow in level.flows) == sum(SIZES)
        assert len(level.flows) == int((counts.to_numpy() > 0).sum())
        assert level.split_valley is not None
        # The split test's evidence, recomputed on the independent fits.
        splits = clean_splits(scaled, labels[level.k], labels[level.k + 1], SEED)
        assert level.split_valley == pytest.approx(deepest_valley(splits))
        assert level.split_distinct == any_distinct(splits)
    # The chosen level is the model's own segments, with the sizes the profiles report.
    chosen = next(level for level in tree.levels if level.k == bundle.metadata.k)
    assert chosen.sizes == [p.size for p in bundle.metadata.segments]


def test_the_runner_up_is_said_in_words_in_the_output_and_the_report(
    planted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    argv = ["--data", str(planted), "--models-dir", str(models), "--stability-samples", "0"]
    assert main([*argv, "--k-range", "2-7"]) == 0
    out = capsys.readouterr().out
    bundle = load_bundle(models)
    selection = bundle.metadata.k_selection
    assert selection.chosen_k == 5
    tree = selection.split_tree
    assert tree is not None
    assert tree.runner_up is not None
    names = {p.id: p.name for p in bundle.metadata.segments}
    sentence = describe_runner_up(tree, 5, names)
    assert sentence is not None
    assert sentence.startswith(f"k = {tree.runner_up} ")
    runner_up_line = next(line for line in out.splitlines() if "<- runner-up" in line)
    assert runner_up_line.split()[0] == str(tree.runner_up)
    assert runner_up_line.endswith(f"<- runner-up: {sentence}")
    report = (bundle.path / REPORT_FILE).read_text()
    assert "What changes from one k to the next" in report
    assert "split tree: how the segments at each k divide at the next k" in report
    assert "Runner-up: k = " in report


def test_the_runner_up_is_the_next_most_named_k() -> None:
    votes = {"silhouette": 5, "calinski_harabasz": 5, "davies_bouldin": 4, "gap_statistic": 7}
    assert runner_up_k(votes, 5, 5, []) == 4  # one vote each: the nearest to 5
    assert runner_up_k(votes, 6, 5, []) == 5  # the split test moved k: the vote's k
