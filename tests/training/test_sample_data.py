"""The generated sample: seeded, committed as generated, and with recoverable segments."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from segmentation.rfm import customer_features
from segmentation.sources import DataSource
from tests.conftest import REPO_ROOT, SAMPLE_CSV, TrainFn
from training.sample_data import DEFAULT_ROWS, DEFAULT_SEED, generate_customers, main
from training.sample_retail import generate_orders, generate_retail_customers
from training.train import TrainingOptions, train


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, second = generate_customers(100, 1), generate_customers(100, 1)
    assert first.frame.equals(second.frame)
    assert not first.frame.equals(generate_customers(100, 2).frame)


def test_has_the_five_classic_columns_in_range() -> None:
    frame = generate_customers(2_000, 4).frame
    assert list(frame.columns) == [
        "CustomerID",
        "Gender",
        "Age",
        "Annual Income (k$)",
        "Spending Score (1-100)",
    ]
    assert frame["CustomerID"].is_unique
    assert set(frame["Gender"]) == {"Female", "Male"}
    assert frame["Age"].between(18, 70).all()
    assert (frame["Annual Income (k$)"] >= 0).all()
    assert frame["Spending Score (1-100)"].between(1, 100).all()


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    output = tmp_path / "sample.csv"
    assert main(["--output", str(output)]) == 0
    assert output.read_bytes() == SAMPLE_CSV.read_bytes()
    assert len(generate_customers(DEFAULT_ROWS, DEFAULT_SEED).frame) == DEFAULT_ROWS


def test_planted_segments_are_recovered(train_into: TrainFn) -> None:
    bundle = train_into(data=SAMPLE_CSV, features=("annual_income", "spending_score"), k=5)
    planted = generate_customers(DEFAULT_ROWS, DEFAULT_SEED).planted
    assert adjusted_rand_score(planted, bundle.kmeans.labels_) > 0.9
    names = {p.name for p in bundle.metadata.segments}
    assert names == {
        "Low income, low spending",
        "Low income, high spending",
        "Average income, average spending",
        "High income, high spending",
        "High income, low spending",
    }


def test_k_auto_finds_the_five_planted_segments_in_the_shipped_sample(train_into: TrainFn) -> None:
    # What `make run` serves: every default feature, k chosen by --k auto.
    bundle = train_into(data=SAMPLE_CSV, k=None)
    assert bundle.metadata.k == 5
    assert bundle.metadata.k_selection.structure == "segments"
    planted = generate_customers(DEFAULT_ROWS, DEFAULT_SEED).planted
    assert adjusted_rand_score(planted, bundle.kmeans.labels_) > 0.9


@pytest.mark.parametrize(
    ("kind", "committed"),
    [("retail", "sample_retail_customers.csv"), ("orders", "sample_orders.csv")],
)
def test_committed_retail_samples_are_what_the_generators_write(
    tmp_path: Path, kind: str, committed: str
) -> None:
    output = tmp_path / committed
    assert main(["--kind", kind, "--output", str(output)]) == 0
    assert output.read_bytes() == (REPO_ROOT / "data" / committed).read_bytes()


def test_the_retail_samples_planted_groups_are_recovered(tmp_path: Path) -> None:
    retail = generate_retail_customers()
    data = tmp_path / "retail.csv"
    retail.frame.to_csv(data, index=False)
    features = ("tenure_months", "orders_per_year", "average_basket", "channel", "loyalty_tier")
    options = TrainingOptions(
        source=DataSource(str(data)),
        models_dir=tmp_path / "models",
        features=features,
        k=4,
        stability_samples=0,
    )
    assert adjusted_rand_score(retail.planted, train(options).kmeans.labels_) > 0.75


def test_the_orders_samples_rfm_groups_come_back_under_their_names(tmp_path: Path) -> None:
    orders = generate_orders()
    data = tmp_path / "orders.csv"
    orders.frame.to_csv(data, index=False)
    options = TrainingOptions(
        source=DataSource(str(data)),
        models_dir=tmp_path / "models",
        orders=True,
        k=5,
        stability_samples=0,
    )
    bundle = train(options)
    customers = customer_features(orders.frame, None, "orders").frame["customer_id"]
    planted = orders.planted[[int(c[1:]) - 1 for c in customers]]
    assert adjusted_rand_score(planted, bundle.kmeans.labels_) > 0.9
    names = {p.name for p in bundle.metadata.segments}
    assert names == {"Champions", "Loyal", "At risk", "Hibernating", "New"}
