"""Customers for tests of what retraining keeps and changes: planted groups, the mall data
shifted, and a retailer's export the model in use cannot score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import CLASSIC_CSV, REPO_ROOT

# Three tight groups of customers (age, annual income, spending score); tests move one.
CENTRES = {"young": (25, 20, 80), "middle": (45, 60, 50), "older": (65, 100, 20)}
MOVED = {**CENTRES, "older": (65, 20, 95)}


def planted(
    path: Path, centres: dict[str, tuple[int, int, int]], seed: int = 0, size: int = 60
) -> Path:
    """A customers CSV with ``size`` customers around each centre."""
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame(
            {
                "age": np.round(rng.normal(age, 2.5, size)).clip(18, 90),
                "annual_income": np.round(rng.normal(income, 4, size)).clip(1, 200),
                "spending_score": np.round(rng.normal(score, 4, size)).clip(1, 100),
            }
        )
        for age, income, score in centres.values()
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "customer_id", range(1, len(frame) + 1))
    frame.to_csv(path, index=False)
    return path


def shifted_mall(path: Path) -> Path:
    """The mall customers a year on: incomes up 12%, spending scores down 6 points."""
    frame = pd.read_csv(CLASSIC_CSV)
    frame["Annual Income (k$)"] = (frame["Annual Income (k$)"] * 1.12).round()
    frame["Spending Score (1-100)"] = (frame["Spending Score (1-100)"] - 6).clip(1, 100)
    frame.to_csv(path, index=False)
    return path


RETAIL_CSV = REPO_ROOT / "data" / "sample_retail_customers.csv"
# A CRM export of the retail sample under its own headers, trained as QA did.
RETAIL_TRAIN = [
    "--features",
    "tenure,orders,basket,channel",
    "--columns",
    "cust_ref=customer_id",
    "--k",
    "3",
    "--stability-samples",
    "0",
    "--quiet",
]


def retail_export(path: Path, basket_times: float = 1.0, basket_plus: float = 0.0) -> Path:
    """The 600 retail sample customers as columns cust_ref, tenure, orders, basket, channel;
    ``basket * basket_times + basket_plus`` moves baskets out of a model's range."""
    frame = pd.read_csv(RETAIL_CSV)
    pd.DataFrame(
        {
            "cust_ref": frame["customer_id"],
            "tenure": frame["tenure_months"],
            "orders": frame["orders_per_year"],
            "basket": (frame["average_basket"] * basket_times + basket_plus).round(2),
            "channel": frame["channel"],
        }
    ).to_csv(path, index=False)
    return path


def narrow_basket_schema(path: Path, maximum: float = 200) -> Path:
    """A schema for ``retail_export`` declaring baskets up to ``maximum`` (the sample's reach
    226.59, 9 customers above 200): a model trained with it and --drop-invalid refuses them."""
    path.write_text(
        '[[feature]]\nname = "tenure"\n\n[[feature]]\nname = "orders"\n\n'
        f'[[feature]]\nname = "basket"\nminimum = 0\nmaximum = {maximum:g}\n\n'
        '[[feature]]\nname = "channel"\nkind = "categorical"\n'
    )
    return path
