"""Seeded generators of a retailer's own data, for the tests and the "Your own data" docs.

- :func:`generate_retail_customers`: a CRM customer table with numbers and categorical columns
  (``data/sample_retail_customers.csv``), four planted segments;
- :func:`generate_orders`: one row per order (``data/sample_orders.csv``), customers planted in
  five RFM groups (champions, loyal, at risk, hibernating, new), with a few returns.

The same rows and seed always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

RETAIL_ROWS = 600
ORDERS_CUSTOMERS = 500
SEED = 11
# The orders' last day: the default as-of date of RFM features is the day after it.
LAST_DAY = date(2026, 11, 30)


@dataclass(frozen=True)
class Planted:
    frame: pd.DataFrame
    planted: np.ndarray  # the planted group of each customer


# name, weight, tenure months (mean, sd), orders a year (mean), basket EUR (mean, sd),
# channel shares (online, store, both), loyalty tier shares (Bronze, Silver, Gold)
_RETAIL_GROUPS = (
    ("new online shoppers", 0.30, (3, 2), 4, (45, 8), (0.85, 0.05, 0.10), (0.9, 0.1, 0.0)),
    ("loyal store regulars", 0.30, (60, 12), 24, (45, 10), (0.05, 0.85, 0.10), (0.1, 0.5, 0.4)),
    ("big-basket omnichannel", 0.20, (36, 10), 12, (160, 30), (0.15, 0.15, 0.70), (0.1, 0.3, 0.6)),
    ("occasional bargain hunters", 0.20, (30, 8), 1, (15, 4), (0.45, 0.45, 0.10), (1.0, 0.0, 0.0)),
)
CHANNELS = ("online", "store", "both")
TIERS = ("Bronze", "Silver", "Gold")
REGIONS = ("North", "South", "East", "West")


def generate_retail_customers(rows: int = RETAIL_ROWS, seed: int = SEED) -> Planted:
    """A CRM export: id, tenure, orders a year, average basket, channel, loyalty tier, region
    (region is noise: no group prefers one)."""
    rng = np.random.default_rng(seed)
    weights = np.array([g[1] for g in _RETAIL_GROUPS])
    planted = rng.choice(len(_RETAIL_GROUPS), size=rows, p=weights / weights.sum())
    tenure = np.array([g[2] for g in _RETAIL_GROUPS])[planted]
    orders = np.array([g[3] for g in _RETAIL_GROUPS])[planted]
    basket = np.array([g[4] for g in _RETAIL_GROUPS])[planted]
    channel = [rng.choice(CHANNELS, p=_RETAIL_GROUPS[g][5]) for g in planted]
    tier = [rng.choice(TIERS, p=_RETAIL_GROUPS[g][6]) for g in planted]
    frame = pd.DataFrame(
        {
            "customer_id": [f"R{n:05d}" for n in range(1, rows + 1)],
            "tenure_months": np.clip(
                np.rint(rng.normal(tenure[:, 0], tenure[:, 1])), 0, None
            ).astype(int),
            "orders_per_year": rng.poisson(orders),
            "average_basket": np.clip(np.round(rng.normal(basket[:, 0], basket[:, 1]), 2), 1, None),
            "channel": channel,
            "loyalty_tier": tier,
            "region": rng.choice(REGIONS, rows),
        }
    )
    return Planted(frame=frame, planted=planted)


# name, weight, days since last order (mean), orders (mean), amount EUR (mean), tenure days
_RFM_GROUPS = (
    ("Champions", 0.15, 10, 30, 90, 900),
    ("Loyal", 0.25, 60, 14, 60, 700),
    ("At risk", 0.20, 200, 8, 70, 800),
    ("Hibernating", 0.25, 300, 2, 30, 500),
    ("New", 0.15, 12, 1.5, 40, 25),
)
RETURN_SHARE = 0.03


def generate_orders(customers: int = ORDERS_CUSTOMERS, seed: int = SEED) -> Planted:
    """Orders (``customer_id``, ``order_date``, ``amount``), one row each, sorted by date; about
    3% are returns (negative amounts) of an earlier order of the same customer."""
    rng = np.random.default_rng(seed)
    weights = np.array([g[1] for g in _RFM_GROUPS])
    planted = rng.choice(len(_RFM_GROUPS), size=customers, p=weights / weights.sum())
    rows: list[tuple[str, date, float]] = []
    for number, group in enumerate(planted, start=1):
        _, _, recency, frequency, amount, tenure = _RFM_GROUPS[group]
        customer = f"C{number:05d}"
        count = 1 + rng.poisson(max(frequency - 1, 0.2))
        last = int(np.clip(rng.normal(recency, recency * 0.3 + 3), 0, 700))
        first = max(last, int(np.clip(rng.normal(tenure, tenure * 0.2 + 5), 0, 730)))
        days_ago = np.sort(rng.integers(last, first + 1, count))
        days_ago[0], days_ago[-1] = last, first
        for ago in days_ago:
            value = round(float(max(rng.lognormal(np.log(amount), 0.35), 2.0)), 2)
            when = LAST_DAY - timedelta(days=int(ago))
            rows.append((customer, when, value))
            if rng.random() < RETURN_SHARE:
                rows.append((customer, when + timedelta(days=3), -round(value * 0.5, 2)))
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame = frame[frame["order_date"] <= LAST_DAY]
    frame = frame.sort_values(["order_date", "customer_id"], kind="stable").reset_index(drop=True)
    frame["order_date"] = frame["order_date"].map(date.isoformat)
    return Planted(frame=frame, planted=planted)
