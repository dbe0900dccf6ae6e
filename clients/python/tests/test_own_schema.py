"""The client with a model on a retailer's own columns: any fields, typed answers, named errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from client_support import Server, start, stop
from segment_client import Customer, InvalidRequestError, SegmentationClient

from segmentation.sources import DataSource
from training.sample_retail import generate_retail_customers
from training.train import TrainingOptions, train

pytestmark = pytest.mark.e2e

FEATURES = ("tenure_months", "orders_per_year", "average_basket", "channel", "loyalty_tier")


@pytest.fixture(scope="module")
def retail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("retail-client")
    data = root / "customers.csv"
    generate_retail_customers(300, seed=6).frame.to_csv(data, index=False)
    models = root / "models"
    options = TrainingOptions(
        source=DataSource(str(data)), models_dir=models, features=FEATURES, k=4, stability_samples=0
    )
    train(options)
    server = start(models, root / "server.log")
    server.wait_for()
    yield server
    stop(server)


def test_customers_carry_the_models_own_fields(retail_server: Server, tmp_path: Path) -> None:
    customer = Customer(
        customer_id="R-9",
        tenure_months=30,
        orders_per_year=12,
        average_basket=80.5,
        channel="online",
        loyalty_tier="Gold",
    )
    with SegmentationClient(retail_server.url) as client:
        [result] = client.segment([customer], explain=True).results
        assert result.customer_id == "R-9"
        assert result.explanation is not None
        assert set(result.explanation.contributions) == set(FEATURES)
        segments = client.segments()
        with pytest.raises(InvalidRequestError) as refused:
            client.segment([customer.model_copy(update={"channel": "fax"})])
    assert all(set(s.levels) == {"channel", "loyalty_tier"} for s in segments.segments)
    [problem] = refused.value.details
    assert problem.field == "customers[0].channel"
    assert "value 'fax' is not one of 'both', 'online', 'store'" in problem.message


def test_segment_frame_takes_any_columns(retail_server: Server) -> None:
    frame = generate_retail_customers(20, seed=8).frame
    with SegmentationClient(retail_server.url) as client:
        answer = client.segment_frame(frame)
        expected = client.segment(frame[["customer_id", *FEATURES]].to_dict("records"))
    assert isinstance(answer, pd.DataFrame)
    assert answer["customer_id"].tolist() == frame["customer_id"].tolist()
    assert answer["segment_id"].tolist() == [r.segment_id for r in expected.results]
