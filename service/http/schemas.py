"""Request and response bodies of the HTTP API.

Customers may use snake_case names or the classic column names of the study (``Age``,
``Annual Income (k$)`` ...), so a row of a CRM export can be posted as it is. Numbers must be
JSON numbers, finite and in range; unknown fields are refused rather than silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from segmentation.features import (
    AGE,
    ANNUAL_INCOME,
    CUSTOMER_ID,
    CUSTOMER_ID_CLASSIC,
    GENDER,
    GENDER_CLASSIC,
    SPENDING_SCORE,
    Feature,
    normalise_gender,
)
from segmentation.metadata import BundleMetadata, SegmentProfile

DEFAULT_MAX_BATCH = 10_000
MAX_CUSTOMER_ID_LENGTH = 256


def _feature_field(feature: Feature) -> Any:
    return Field(
        default=None,
        ge=feature.minimum,
        le=feature.maximum,
        strict=True,
        allow_inf_nan=False,
        validation_alias=AliasChoices(feature.name, feature.classic_name),
        description=f"{feature.description}, {feature.describe_range()}. "
        f"Also accepted as '{feature.classic_name}'.",
    )


class Customer(BaseModel):
    """One customer. Send the features the model was trained on (see GET /model)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "C-1001",
                    "gender": "Female",
                    "age": 31,
                    "annual_income": 72,
                    "spending_score": 81,
                },
            ]
        },
    )

    customer_id: str | int | None = Field(
        default=None,
        validation_alias=AliasChoices(CUSTOMER_ID, CUSTOMER_ID_CLASSIC),
        description="Your identifier for the customer (a string of at most "
        f"{MAX_CUSTOMER_ID_LENGTH} characters or an integer), echoed back unchanged. "
        f"Also accepted as '{CUSTOMER_ID_CLASSIC}'.",
    )
    gender: Literal["Female", "Male"] | None = Field(
        default=None,
        validation_alias=AliasChoices(GENDER, GENDER_CLASSIC),
        description="'Female' or 'Male' (any letter case). Used for the assignment only when "
        f"the model was trained on it. Also accepted as '{GENDER_CLASSIC}'.",
    )
    age: float | None = _feature_field(AGE)
    annual_income: float | None = _feature_field(ANNUAL_INCOME)
    spending_score: float | None = _feature_field(SPENDING_SCORE)

    @field_validator("customer_id", mode="plain", json_schema_input_type=str | int | None)
    @classmethod
    def _string_or_integer_id(cls, value: object) -> str | int | None:
        # One clear error instead of one per union member; booleans are not identifiers.
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and len(value) <= MAX_CUSTOMER_ID_LENGTH:
            return value
        raise PydanticCustomError(
            "customer_id_type",
            "must be a string of at most {limit} characters or an integer",
            {"limit": MAX_CUSTOMER_ID_LENGTH},
        )

    @field_validator("gender", mode="before")
    @classmethod
    def _canonical_gender(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return normalise_gender(value)
            except ValueError:
                return value  # let the Literal check report it
        return value


class CustomerBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: list[Customer] = Field(
        min_length=1,
        max_length=DEFAULT_MAX_BATCH,
        description="Customers to assign, in order; at most SEGMENT_MAX_BATCH (default 10,000).",
    )


def _body_kind(value: object) -> str | None:
    if isinstance(value, dict):
        return "batch" if "customers" in value else "single"
    return None


def _request_type(batch: type[BaseModel]) -> Any:
    return Annotated[
        Annotated[Customer, Tag("single")] | Annotated[batch, Tag("batch")],
        Discriminator(
            _body_kind,
            custom_error_type="invalid_body",
            custom_error_message='the body must be a customer object or {"customers": [...]}',
        ),
    ]


SegmentRequest = _request_type(CustomerBatch)


def request_adapter(max_batch: int) -> TypeAdapter[Customer | CustomerBatch]:
    """Validator for POST /segment bodies with the configured batch limit."""
    batch = create_model(
        "CustomerBatch",
        __base__=CustomerBatch,
        customers=(
            list[Customer],
            Field(
                min_length=1,
                max_length=max_batch,
                description=f"Customers to assign, in order; at most {max_batch:,} "
                "(SEGMENT_MAX_BATCH).",
            ),
        ),
    )
    return TypeAdapter(_request_type(batch))


class SplitRequest(BaseModel):
    """Customers in the pandas "split" layout (``DataFrame.to_json(orient="split")``, MLflow's
    ``dataframe_split``): column names once, then one array of values per customer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "columns": ["customer_id", "age", "annual_income", "spending_score"],
                    "data": [[1, 19, 15, 39], [2, 58, 88, 15]],
                }
            ]
        },
    )

    columns: list[str] = Field(
        min_length=1,
        description="customer_id, gender and the model's features, snake_case or classic "
        "names, each at most once; other columns are refused.",
    )
    data: list[list[str | float | None]] = Field(
        min_length=1,
        max_length=DEFAULT_MAX_BATCH,
        description="One array per customer, a value per column; at most SEGMENT_MAX_BATCH rows.",
    )
    index: list[Any] | None = Field(
        default=None, description="Optional row labels (pandas writes them), echoed in the answer."
    )


class SplitResponse(BaseModel):
    """The answer to a split-layout body, in the same layout."""

    model_version: str
    columns: list[str] = Field(
        description="customer_id (when the request had it), segment_id, segment_name, distance, "
        "atypical; with explain=true also runner_up_segment_id, margin, confidence and one "
        "contribution_<feature> per feature."
    )
    index: list[Any] | None = Field(default=None, description="The request's index, if it had one.")
    data: list[list[str | float | bool | None]] = Field(
        description="One row per customer, in order."
    )
    segments: list[SegmentProfile] = Field(
        description="Profiles of the segments assigned in this response, once each, by id."
    )


class Explanation(BaseModel):
    """Why the customer got this segment (docs/api.md gives the formulas)."""

    runner_up_segment_id: int = Field(description="The nearest other segment.")
    runner_up_distance: float = Field(description="Distance to the runner-up's centroid.")
    margin: float = Field(description="runner_up_distance - distance, >= 0; 0 is a tie.")
    confidence: float = Field(
        ge=0,
        le=1,
        description="1 - distance / runner_up_distance: 1 on the segment's centroid, "
        "0 halfway between two centroids.",
    )
    contributions: dict[str, float] = Field(
        description="Share of the squared distance to the assigned centroid (scaled units) "
        "due to each feature; they sum to 1 (all 0 on the centroid itself)."
    )


class SegmentAssignment(BaseModel):
    customer_id: str | int | None = Field(description="As sent, or null.")
    segment_id: int
    segment_name: str
    distance: float = Field(
        description="Euclidean distance to the segment's centroid in standard-scaled units."
    )
    atypical: bool = Field(
        description="Farther from the centroid than 99% of the segment's training customers: "
        "a member on paper, not a typical one."
    )
    explanation: Explanation | None = Field(
        description="Null when the request asked explain=false."
    )
    model_version: str


class SegmentResponse(BaseModel):
    model_version: str
    results: list[SegmentAssignment] = Field(description="One result per customer, in order.")
    segments: list[SegmentProfile] = Field(
        description="Profiles of the segments assigned in this response, once each, by id."
    )


class ServedModel(BaseModel):
    version: str
    current: bool = Field(description="Served when a request names no version.")
    k: int
    features: list[str]
    created_at: datetime


class ModelList(BaseModel):
    current: str | None = Field(description="The version served by default; null if none.")
    models: list[ServedModel]


class SegmentList(BaseModel):
    model_version: str
    segments: list[SegmentProfile]


class Liveness(BaseModel):
    status: Literal["alive"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None


ModelInfo = BundleMetadata


class TrainingSample(BaseModel):
    """A seeded sample of the customers the model was trained on, for charts (the segment map)."""

    model_version: str
    features: list[str] = Field(description="The model's features, in the order of each row.")
    rows: list[list[float]] = Field(description="One row per sampled customer: feature values.")
    segment_ids: list[int] = Field(description="The segment of each sampled customer.")


class ReloadResult(BaseModel):
    status: Literal["reloaded"]
    model_version: str = Field(description="The version now served by the worker that answered.")
    previous_version: str | None = Field(description="The version served before, if any.")
    changed: bool = Field(description="Whether the version differs from the previous one.")
    other_workers_signalled: bool = Field(
        description="With several workers: the others were asked (via the supervisor) to reload "
        "too; each keeps its model if the bundle fails for it."
    )


class DriftThresholds(BaseModel):
    psi: float = Field(
        description="A feature's PSI above this is drift (SEGMENT_DRIFT_PSI_THRESHOLD)."
    )
    share_shift: float = Field(
        description="A segment's share moving by more than this, in absolute terms, is drift "
        "(SEGMENT_DRIFT_SHARE_THRESHOLD)."
    )
    min_observations: int = Field(
        description="Customers needed before drift is judged (SEGMENT_DRIFT_MIN_OBSERVATIONS)."
    )


class BinDrift(BaseModel):
    lower: float | None = Field(description="Exclusive lower edge; null for the first bin.")
    upper: float | None = Field(description="Inclusive upper edge; null for the last bin.")
    expected_share: float = Field(description="Share of the training customers in the bin.")
    observed_share: float | None = Field(description="Share of the customers seen; null if none.")
    count: int


class FeatureDrift(BaseModel):
    feature: str
    psi: float | None = Field(
        description="Population stability index against the training histogram; null if no "
        "customer was seen or the bundle has no histogram for the feature."
    )
    drifted: bool
    bins: list[BinDrift]


class SegmentDrift(BaseModel):
    segment_id: int
    name: str
    expected_share: float = Field(description="Share of the training customers.")
    observed_share: float | None = Field(description="Share of the customers seen; null if none.")
    shift: float | None = Field(description="observed_share - expected_share.")
    count: int
    drifted: bool


class DriftReport(BaseModel):
    model_version: str
    status: Literal["ok", "drift", "insufficient_data"] = Field(
        description="insufficient_data until min_observations customers were seen."
    )
    drift_detected: bool
    observations: int = Field(description="Customers seen by this model since the last reset.")
    since: datetime | None = Field(description="Time of the last reset; null: since start-up.")
    thresholds: DriftThresholds
    segment_psi: float | None = Field(description="PSI of the segment shares as a whole.")
    features: list[FeatureDrift]
    segments: list[SegmentDrift]
