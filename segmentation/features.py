"""The customer attributes a model can be trained on, their valid ranges and column names.

Training validates files and the service validates requests against this one catalogue, so a
value accepted by one side is accepted by the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Feature:
    """One customer attribute: its snake_case name, the classic column name and valid range."""

    name: str
    classic_name: str
    description: str
    minimum: float
    maximum: float
    unit: str = ""

    def describe_range(self) -> str:
        return f"{_number(self.minimum)} to {_number(self.maximum)}"


AGE: Final = Feature("age", "Age", "Age in years", 0, 120, "years")
ANNUAL_INCOME: Final = Feature(
    "annual_income",
    "Annual Income (k$)",
    "Annual income in thousands of dollars",
    0,
    1_000_000,
    "k$",
)
SPENDING_SCORE: Final = Feature(
    "spending_score",
    "Spending Score (1-100)",
    "Spending score assigned by the mall, from 1 (lowest) to 100 (highest)",
    1,
    100,
)

NUMERIC_FEATURES: Final[dict[str, Feature]] = {
    f.name: f for f in (AGE, ANNUAL_INCOME, SPENDING_SCORE)
}

# Gender can be a model feature: it enters the pipeline as 1.0 for Female and 0.0 for Male.
GENDER: Final = "gender"
GENDER_CLASSIC: Final = "Gender"
GENDER_VALUES: Final = ("Female", "Male")
GENDER_ENCODING: Final[dict[str, float]] = {"Female": 1.0, "Male": 0.0}

CUSTOMER_ID: Final = "customer_id"
CUSTOMER_ID_CLASSIC: Final = "CustomerID"

ALL_FEATURES: Final = (*NUMERIC_FEATURES, GENDER)
DEFAULT_FEATURES: Final = ("age", "annual_income", "spending_score")

# Classic column name -> snake_case name, for files and requests that use the study's headers.
CLASSIC_TO_SNAKE: Final[dict[str, str]] = {
    CUSTOMER_ID_CLASSIC: CUSTOMER_ID,
    GENDER_CLASSIC: GENDER,
    **{f.classic_name: f.name for f in NUMERIC_FEATURES.values()},
}


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def parse_feature_list(text: str) -> tuple[str, ...]:
    """Parse a comma-separated feature list, refusing unknown, repeated or empty entries."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError("the feature list is empty")
    unknown = [n for n in names if n not in ALL_FEATURES]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}; choose from {', '.join(ALL_FEATURES)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"feature {repeated[0]!r} is listed more than once")
    return names


def normalise_gender(value: str) -> str:
    """Map 'female', ' MALE ' and the like to the canonical 'Female' / 'Male'."""
    canonical = value.strip().capitalize()
    if canonical not in GENDER_VALUES:
        raise ValueError(f"gender must be 'Female' or 'Male', got {value!r}")
    return canonical
