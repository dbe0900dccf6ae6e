"""One real server per test module, serving the suite's shared trained bundle, and the customers
sent to it with the segments ``Pipeline.predict`` gives them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from segmentation.bundle import Bundle, load_bundle
from segmentation.sources import DataSource
from tests.real_server import ServerProcess, start_server
from training.sample_data import generate_customers
from training.sample_retail import generate_retail_customers
from training.train import TrainingOptions, train


@pytest.fixture(scope="module")
def bundle(trained_models: Path) -> Bundle:
    return load_bundle(trained_models)


@pytest.fixture(scope="module")
def served(
    trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server = start_server(trained_models, tmp_path_factory.mktemp("server") / "server.log")
    try:
        server.wait_for()
        yield server
    finally:
        output = server.stop()
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def server(served: ServerProcess) -> str:
    return served.url


@pytest.fixture(scope="module")
def customers(bundle: Bundle) -> pd.DataFrame:
    """25 customers under the model's feature names, as a caller's DataFrame holds them."""
    frame = generate_customers(25, 17).frame
    renamed = frame.rename(columns=bundle.metadata.feature_schema.name_of())
    return renamed[list(bundle.metadata.features)].reset_index(drop=True)


@pytest.fixture(scope="module")
def expected(bundle: Bundle, customers: pd.DataFrame) -> list[int]:
    return [int(s) for s in bundle.pipeline.predict(customers)]


# A retailer's own table with two categorical features, for what the protocols do with levels.
RETAIL_FEATURES = ("tenure_months", "orders_per_year", "channel", "loyalty_tier")
RETAIL_SCHEMA = """
[[feature]]
name = "tenure_months"
minimum = 0
maximum = 240

[[feature]]
name = "orders_per_year"
transform = "log1p"

[[feature]]
name = "channel"
levels = ["online", "store", "both"]

[[feature]]
name = "loyalty_tier"
levels = ["Bronze", "Silver", "Gold"]
"""


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    root = tmp_path_factory.mktemp("retail")
    data = root / "customers.csv"
    generate_retail_customers(400, seed=5).frame.to_csv(data, index=False)
    schema = root / "features.toml"
    schema.write_text(RETAIL_SCHEMA, encoding="utf-8")
    return train(
        TrainingOptions(
            source=DataSource(str(data)),
            models_dir=root / "models",
            features=RETAIL_FEATURES,
            schema_file=schema,
            k=4,
            stability_samples=0,
        )
    )


@pytest.fixture(scope="module")
def retail_customers(retail: Bundle) -> pd.DataFrame:
    frame = generate_retail_customers(30, seed=9).frame
    return frame[list(RETAIL_FEATURES)].reset_index(drop=True)
