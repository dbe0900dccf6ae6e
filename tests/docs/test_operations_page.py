"""What docs/operations.md says the atypical counter counts, and when it rises, checked on a
model: about 1 in 100 of customers like the training ones, far more of customers unlike them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from service.settings import Settings
from tests.conftest import REPO_ROOT, TrainFn, write_sample_csv
from tests.service.conftest import app_client
from tests.service.metrics_text import parse_metrics, value

pytestmark = pytest.mark.anyio

PAGE = REPO_ROOT / "docs" / "operations.md"


async def atypical_share(models: Path, customers: list[dict[str, object]]) -> float:
    async with app_client(Settings(models_dir=models)) as client:
        answer = (await client.post("/segment", json={"customers": customers})).json()
        metrics = parse_metrics((await client.get("/metrics")).text)
    version = answer["model_version"]
    counted = value(metrics, "segment_atypical_customers_total", model_version=version)
    assert counted == sum(r["atypical"] for r in answer["results"])
    return counted / len(customers)


async def test_the_atypical_counter_behaves_as_the_page_says(
    train_into: TrainFn, tmp_path: Path
) -> None:
    row = next(line for line in PAGE.read_text().splitlines() if "segment_atypical_" in line)
    assert "stays 0" not in row
    assert "99% of that segment's training customers" in row
    assert "about 1 in 100" in row
    data = write_sample_csv(tmp_path / "train.csv", rows=1000)
    train_into(data=data)
    trained_on = pd.read_csv(data).rename(
        columns={
            "Age": "age",
            "Annual Income (k$)": "annual_income",
            "Spending Score (1-100)": "spending_score",
        }
    )[["age", "annual_income", "spending_score"]]
    like_training = await atypical_share(tmp_path / "models", trained_on.to_dict("records"))
    assert 0.005 <= like_training <= 0.02
    rng = np.random.default_rng(4)
    unlike = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 1000),
            "annual_income": rng.integers(0, 400, 1000),
            "spending_score": rng.integers(1, 101, 1000),
        }
    )
    assert await atypical_share(tmp_path / "models", unlike.to_dict("records")) > 0.2
