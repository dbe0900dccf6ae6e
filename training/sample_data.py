"""A seeded generator of mall-customer-like data with planted segments.

The project ships a sample made by this generator (``data/sample_customers.csv``) instead of the
classic dataset, whose licence does not let us redistribute it. The five planted segments mirror
the ones the classic study finds in income and spending, and each has an age group of its own
(standard deviations 4 to 6 years): age is one of the default features, and with the wide age
spreads of the first version ``--k auto`` rightly cut the widest segments by age and served nine
segments from a sample said to have five.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.console import ends_quietly_on_closed_pipe
from training.sample_retail import (
    ORDERS_CUSTOMERS,
    RETAIL_ROWS,
    SEED,
    generate_orders,
    generate_retail_customers,
)

# The classic study's CSV headers (the preset's aliases), so the sample reads like the study.
CLASSIC_HEADERS = ("CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)")

DEFAULT_ROWS = 400
DEFAULT_SEED = 7
DEFAULT_OUTPUT = Path("data/sample_customers.csv")
RETAIL_OUTPUT = Path("data/sample_retail_customers.csv")
ORDERS_OUTPUT = Path("data/sample_orders.csv")


@dataclass(frozen=True)
class PlantedSegment:
    name: str
    weight: float
    income: tuple[float, float]  # mean, standard deviation, k$
    spending: tuple[float, float]
    age: tuple[float, float]
    female_share: float


PLANTED_SEGMENTS = (
    PlantedSegment("Low income, low spending", 0.12, (26, 7), (20, 8), (55, 6), 0.57),
    PlantedSegment("Low income, high spending", 0.11, (25, 7), (79, 8), (24, 4), 0.59),
    PlantedSegment("Average income, average spending", 0.40, (55, 8), (50, 6), (40, 6), 0.59),
    PlantedSegment("High income, high spending", 0.19, (87, 9), (82, 8), (32, 4), 0.54),
    PlantedSegment("High income, low spending", 0.18, (88, 9), (17, 8), (48, 6), 0.46),
)


@dataclass(frozen=True)
class SampleData:
    frame: pd.DataFrame  # the classic five columns
    planted: np.ndarray  # index into PLANTED_SEGMENTS for each row


def generate_customers(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> SampleData:
    """Draw ``rows`` customers; the same rows and seed always give the same data."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    weights = np.array([s.weight for s in PLANTED_SEGMENTS])
    planted = rng.choice(len(PLANTED_SEGMENTS), size=rows, p=weights / weights.sum())

    def draw(pick: str, low: float, high: float) -> np.ndarray:
        means = np.array([getattr(s, pick)[0] for s in PLANTED_SEGMENTS])[planted]
        stds = np.array([getattr(s, pick)[1] for s in PLANTED_SEGMENTS])[planted]
        return np.clip(np.rint(rng.normal(means, stds)), low, high).astype(int)

    income = draw("income", 15, 140)
    spending = draw("spending", 1, 100)
    age = draw("age", 18, 70)
    female_share = np.array([s.female_share for s in PLANTED_SEGMENTS])[planted]
    gender = np.where(rng.random(rows) < female_share, "Female", "Male")
    frame = pd.DataFrame(
        dict(
            zip(
                CLASSIC_HEADERS,
                (np.arange(1, rows + 1), gender, age, income, spending),
                strict=True,
            )
        )
    )
    return SampleData(frame=frame, planted=planted)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-sample-data",
        description="Write a seeded sample CSV: mall-like customers with five planted segments "
        "(default), a retailer's customer table with categorical columns (--kind retail), or "
        "a retailer's orders for RFM (--kind orders).",
    )
    parser.add_argument(
        "--kind",
        choices=("mall", "retail", "orders"),
        default="mall",
        help="which sample (default: %(default)s)",
    )
    parser.add_argument(
        "--rows", type=int, help="customers to write (default: 400, 600 retail, 500 orders)"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: 7, 11 retail and orders)")
    parser.add_argument("--output", type=Path, help=f"CSV file (default: {DEFAULT_OUTPUT}, ...)")
    return parser


@ends_quietly_on_closed_pipe
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows < 1:
        parser.error("--rows must be at least 1")
    samples: dict[str, tuple[int, int, Path, Callable[[int, int], Any]]] = {
        "mall": (DEFAULT_ROWS, DEFAULT_SEED, DEFAULT_OUTPUT, generate_customers),
        "retail": (RETAIL_ROWS, SEED, RETAIL_OUTPUT, generate_retail_customers),
        "orders": (ORDERS_CUSTOMERS, SEED, ORDERS_OUTPUT, generate_orders),
    }
    rows, seed, output, make = samples[args.kind]
    output = args.output or output
    output.parent.mkdir(parents=True, exist_ok=True)
    frame: pd.DataFrame = make(args.rows or rows, seed if args.seed is None else args.seed).frame
    frame.to_csv(output, index=False)
    what = "orders" if args.kind == "orders" else "customers"
    sys.stdout.write(f"wrote {len(frame)} {what} to {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
