"""Typed views of the service's responses, plus a typed customer to send.

Response models ignore fields they do not know, so a newer service that adds fields does not
break an older client; fields added to the API later (``atypical``, ``explanation``) are
optional, so the client also works with services that do not send them yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Customer(BaseModel):
    """One customer to score: ``customer_id`` and the served model's own fields, whatever they
    are (``Customer(age=31, annual_income=72)``, ``Customer(recency_days=12, channel="online")``;
    ``GET /model`` lists them). Sends only the fields that are set; the service validates them
    against the model's schema and names any bad one."""

    model_config = ConfigDict(extra="allow", frozen=True)

    customer_id: str | int | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        # numpy and pandas scalars (a DataFrame row's values) as the Python numbers, strings
        # and booleans JSON has; anything else is sent as given and checked by the service.
        if isinstance(data, dict):
            return {key: _plain(value) for key, value in data.items()}
        return data


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__.startswith("numpy"):
        return item()
    return value


class FeatureStats(_Response):
    mean: float
    std: float
    min: float
    q25: float
    median: float
    q75: float
    max: float


class LevelShare(_Response):
    count: int
    share: float


GenderShare = LevelShare


class SegmentProfile(_Response):
    """What a segment looks like: name, size, centre and per-feature distribution."""

    id: int
    name: str
    auto_name: str | None = None
    description: str | None = None
    action: str | None = None
    size: int
    share: float
    centroid: dict[str, float]
    features: dict[str, FeatureStats] = Field(default_factory=dict)
    levels: dict[str, dict[str, LevelShare]] = Field(
        default_factory=dict, description="Per categorical column: each level's count and share."
    )
    gender_mix: dict[str, GenderShare] | None = None  # services before the feature schema


class Explanation(_Response):
    """Why a customer got its segment: the runner-up, the margin and per-feature contributions."""

    runner_up_segment_id: int | None = None
    runner_up_distance: float | None = None
    margin: float | None = None
    confidence: float
    contributions: dict[str, float] = Field(default_factory=dict)


class Assignment(_Response):
    """The segment of one customer, in request order."""

    customer_id: str | int | None = None
    segment_id: int
    segment_name: str
    distance: float
    model_version: str
    atypical: bool | None = None
    explanation: Explanation | None = None


class SegmentResult(_Response):
    """The answer to a batch: one assignment per customer, in order, and the profiles used.

    A batch the client split into chunks comes back as one result, from one model version.
    """

    model_version: str
    results: list[Assignment]
    segments: list[SegmentProfile]

    def profile(self, segment_id: int) -> SegmentProfile:
        """The profile of an assigned segment (KeyError if no customer got it)."""
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        raise KeyError(segment_id)


class SegmentList(_Response):
    model_version: str
    segments: list[SegmentProfile]


class SegmentLineage(_Response):
    """Where one segment comes from in the model this one was aligned to."""

    id: int
    matched_id: int | None = None
    distance: float | None = None
    centroid_shift: dict[str, float] = Field(default_factory=dict)


class Lineage(_Response):
    """How a model's segment ids follow the model it replaced: kept, new and retired ids."""

    aligned_to: str | None = None
    max_distance: float
    segments: list[SegmentLineage] = Field(default_factory=list)
    new: list[int] = Field(default_factory=list)
    retired: list[int] = Field(default_factory=list)
    highest_id: int
    note: str | None = None


class Transition(_Response):
    source: int
    target: int
    customers: int


class RefusedValues(_Response):
    """Rows one model of a comparison refuses for one problem in one column."""

    model: str  # "old" or "new"
    column: str
    problem: str
    customers: int


class SegmentChange(_Response):
    id: int
    status: str  # kept, new or retired
    old_name: str | None = None
    new_name: str | None = None
    old_customers: int
    new_customers: int
    stayed: int
    centroid_shift: dict[str, float] = Field(default_factory=dict)


class Comparison(_Response):
    """What changes for customers from one model version to another."""

    old_version: str
    new_version: str | None = None
    data: str
    customers: int
    left_out: int = 0  # rows one of the models refuses: neither kept nor moved
    left_out_by_old: int | None = None  # services from before 2026-12-07: none
    left_out_by_new: int | None = None
    refused: list[RefusedValues] = Field(default_factory=list)  # why, per model and column
    kept: int
    kept_share: float
    moved: int
    moved_share: float
    transitions: list[Transition]
    segments: list[SegmentChange]

    def matrix(self) -> dict[tuple[int, int], int]:
        """Customers by (old segment id, new segment id), non-empty pairs only."""
        return {(t.source, t.target): t.customers for t in self.transitions}


class ModelInfo(BaseModel):
    """The served bundle's metadata; fields not modelled here stay readable in ``model_extra``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    version: str
    created_at: datetime
    features: list[str]
    k: int
    algorithm: str | None = None
    seed: int | None = None
    libraries: dict[str, str] = Field(default_factory=dict)
    segments: list[SegmentProfile] = Field(default_factory=list)
    lineage: Lineage | None = None  # services and bundles before segment alignment: none
    comparison: Comparison | None = None
    # How k was chosen, what choosing the runner-up k would change (with the served names) and
    # what each k of the split tree changes from the one below, in words; empty and None from a
    # service from before it said so, None and empty also for a fixed k.
    k_choice: str = ""
    runner_up_change: str | None = None
    k_steps: list[str] = Field(default_factory=list)


class ModelVersions(_Response):
    """The bundle versions the service serves (GET /models), and the one it serves by default."""

    current: str | None
    versions: list[str]

    @model_validator(mode="before")
    @classmethod
    def _from_models(cls, data: Any) -> Any:
        """GET /models lists each served model as an object; the client keeps its version."""
        if isinstance(data, dict) and isinstance(data.get("models"), list):
            return {
                "current": data.get("current"),
                "versions": [
                    m.get("version") if isinstance(m, dict) else m for m in data["models"]
                ],
            }
        return data


class Liveness(_Response):
    status: str


class Readiness(_Response):
    """``status`` is ``ready`` with the version being served, or ``not_ready`` with the reason."""

    status: str
    model_version: str | None = None
    reason: str | None = None

    @property
    def is_ready(self) -> bool:
        return self.status == "ready"
