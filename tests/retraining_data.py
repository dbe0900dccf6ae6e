"""Customers for tests of what retraining keeps and changes: planted groups, and the mall data
shifted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import CLASSIC_CSV

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
