"""A retrain whose data brings a level the previous version never saw: the page says how many
customers could not be compared and why, instead of shares that read as if every one had."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from segmentation.bundle import load_bundle
from segmentation.sources import DataSource
from tests.ui.conftest import open_page, serve
from training.sample_retail import generate_retail_customers
from training.train import TrainingOptions, train

pytestmark = pytest.mark.e2e

FEATURES = ("tenure_months", "orders_per_year", "average_basket", "channel")
NEW_LEVEL_CUSTOMERS = 20


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ui-left-out")
    frame = generate_retail_customers(300, seed=7).frame
    june = frame.copy()
    june.loc[: NEW_LEVEL_CUSTOMERS - 1, "channel"] = "app"  # a channel new this month
    for name, rows in (("may.csv", frame), ("june.csv", june)):
        rows.to_csv(folder / name, index=False)
        train(
            TrainingOptions(
                source=DataSource(str(folder / name)),
                models_dir=folder / "models",
                features=FEATURES,
                k=3,
                stability_samples=0,
                seed=1,
            )
        )
    comparison = load_bundle(folder / "models").metadata.comparison
    assert comparison is not None
    assert comparison.left_out == NEW_LEVEL_CUSTOMERS
    yield from serve(folder / "models", folder)


def test_customers_that_could_not_be_compared_are_counted_with_the_reason(
    browser: Browser, app_url: str
) -> None:
    """The page read only kept and moved: the 20 customers of the new channel vanished, and a
    retrain none of whose customers could be compared read '0 (0%) keep, 0 (0%) move'."""
    page, watched = open_page(browser, app_url)
    summary = page.locator("#changes-summary")
    summary.wait_for()
    text = summary.inner_text()
    assert f"{NEW_LEVEL_CUSTOMERS} customers could not be compared (Channel not one of" in text
    assert "in the old version): the shares are of the others." in text
    assert f"on the training customers ({300 - NEW_LEVEL_CUSTOMERS})" in text
    assert watched.problems == []
