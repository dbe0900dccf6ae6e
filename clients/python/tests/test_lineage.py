"""The client reads a model's lineage and a comparison from a real server serving two versions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from client_support import Server, start, stop
from segment_client import AsyncSegmentationClient, NotFoundError, SegmentationClient

from segmentation.bundle import load_bundle
from segmentation.metadata import REPORT_SAMPLE_FILE
from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV
from tests.retraining_data import shifted_mall
from training.train import TrainingOptions, train

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Path, str, str]]:
    root = tmp_path_factory.mktemp("lineage")
    models = root / "models"

    def trained(data: Path, seed: int) -> str:
        options = TrainingOptions(
            source=DataSource(str(data)), models_dir=models, k=5, seed=seed, stability_samples=0
        )
        return train(options).metadata.version

    old = trained(CLASSIC_CSV, 1)
    new = trained(shifted_mall(root / "shifted.csv"), 2)
    server = start(models, root / "server.log", SEGMENT_EXTRA_VERSIONS=old)
    try:
        server.wait_for()
        yield server, models, old, new
    finally:
        stop(server)


def test_the_client_reads_lineage_and_the_training_comparison(
    two_versions: tuple[Server, Path, str, str],
) -> None:
    server, models, old, _new = two_versions
    recorded = load_bundle(models).metadata
    with SegmentationClient(server.url) as client:
        lineage = client.lineage()
        assert lineage is not None
        assert lineage.aligned_to == old
        assert [s.id for s in lineage.segments] == [p.id for p in recorded.segments]
        assert lineage.segments[0].centroid_shift == recorded.lineage.segments[0].centroid_shift  # type: ignore[union-attr]
        first = client.lineage(version=old)
        assert first is not None
        assert first.aligned_to is None
        comparison = client.comparison()
        assert recorded.comparison is not None
        assert comparison.model_dump() == recorded.comparison.model_dump(mode="json")
        assert comparison.old_version == old
        with pytest.raises(NotFoundError, match="was not compared with an earlier model"):
            client.comparison(version=old)
        with pytest.raises(NotFoundError, match="'v-none' is not served"):
            client.comparison(against="v-none")


@pytest.mark.anyio
async def test_a_comparison_against_a_served_version_matches_both_pipelines(
    two_versions: tuple[Server, Path, str, str],
) -> None:
    server, models, old, new = two_versions
    async with AsyncSegmentationClient(server.url) as client:
        comparison = await client.comparison(against=old)
    assert comparison.old_version == old
    assert comparison.new_version == new
    sample = pd.read_csv(models / new / REPORT_SAMPLE_FILE)
    expected: Counter[tuple[int, int]] = Counter()
    ids = []
    for version in (old, new):
        bundle = load_bundle(models, version)
        rows = bundle.pipeline.predict(sample[bundle.metadata.features])
        ids.append(np.asarray(bundle.metadata.segment_ids)[rows].tolist())
    expected.update(zip(*ids, strict=True))
    assert comparison.matrix() == dict(expected)
    assert comparison.customers == len(sample)
    assert comparison.kept == sum(n for (a, b), n in expected.items() if a == b)
