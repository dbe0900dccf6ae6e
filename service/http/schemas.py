"""Request and response bodies of the HTTP API, as OpenAPI documents them.

Requests are not validated by these models: each body format is decoded into columns and
checked by ``segmentation.validation`` (``service.http.batches``), the same check as files,
databases and Spark. The customer model documents that check for callers and code generators;
it is built from the served bundle's feature schema (:func:`customer_model`):
one field per feature and attribute, under its name or any of its aliases (the classic study's
``Age``, ``Annual Income (k$)`` ...), so a row of a CRM export can be posted as it is. Numbers
must be JSON numbers, finite and in the schema's range; a categorical value must be one of its
levels (any letter case); unknown fields are refused rather than silently ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from segmentation.metadata import VERSION_PATTERN, BundleMetadata, SegmentProfile
from segmentation.names import NamesFile
from segmentation.schema import CategoricalFeature, FeatureSchema, NumericFeature

DEFAULT_MAX_BATCH = 10_000
MAX_CUSTOMER_ID_LENGTH = 256


class CustomerBase(BaseModel):
    """One customer. Send the features the model was trained on (see GET /model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str | int | None = Field(
        default=None,
        description="Your identifier for the customer (a string of at most "
        f"{MAX_CUSTOMER_ID_LENGTH} characters or an integer), echoed back unchanged.",
    )

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


def customer_model(
    schema: FeatureSchema, example: dict[str, Any] | None = None
) -> type[CustomerBase]:
    """The pydantic model of one customer of ``schema``; field ``c<i>`` holds column ``i``
    (column names need not be Python identifiers), serialised under the column's name.
    ``example``: a typical customer for the docs (default: mid-range values, first levels)."""
    fields: dict[str, Any] = {
        "customer_id": (
            str | int | None,
            Field(
                default=None,
                validation_alias=AliasChoices(schema.id_column, *schema.id_aliases),
                serialization_alias=schema.id_column,
                description=f"{CustomerBase.model_fields['customer_id'].description}"
                f"{_also(schema.id_aliases)}",
            ),
        )
    }
    for position, feature in enumerate(schema.columns):
        used = schema.is_feature(feature.name)
        fields[f"c{position}"] = _field(feature, used)
    example = {schema.id_column: "C-1001", **(example or schema.example())}
    config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_as_checked(schema, example))
    model: type[CustomerBase] = create_model(
        "Customer", __base__=CustomerBase, __config__=None, **fields
    )
    model.model_config.update(config)
    model.model_rebuild(force=True)
    return model


def _also(aliases: tuple[str, ...]) -> str:
    return f" Also accepted as {', '.join(repr(a) for a in aliases)}." if aliases else ""


def _field(feature: NumericFeature | CategoricalFeature, used: bool) -> tuple[Any, Any]:
    role = (
        ""
        if used
        else " Not used for the assignment: checked, and echoed in a CSV or Arrow answer."
    )
    alias = AliasChoices(feature.name, *feature.aliases)
    describe = f"{feature.description or feature.name}"
    if isinstance(feature, NumericFeature):
        unit = f" {feature.unit}" if feature.unit else ""
        return (
            float | None,
            Field(
                default=None,
                ge=feature.minimum,
                le=feature.maximum,
                strict=True,
                allow_inf_nan=False,
                validation_alias=alias,
                serialization_alias=feature.name,
                description=f"{describe}: a number from {feature.describe_range()}{unit}."
                f"{role}{_also(feature.aliases)}",
            ),
        )
    levels: Any = Literal[feature.levels]
    return (
        Annotated[levels | None, BeforeValidator(_spelled_as_declared(feature))],
        Field(
            default=None,
            validation_alias=alias,
            serialization_alias=feature.name,
            description=f"{describe}: one of {feature.describe_levels()} (any letter case)."
            f"{role}{_also(feature.aliases)}",
        ),
    )


def _as_checked(schema: FeatureSchema, example: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """The customer's JSON schema as the service checks a customer: every feature the model
    assigns by is required and not null (a missing or null one is a 422), so a client generated
    from the OpenAPI document sends them. The pydantic fields themselves stay optional, so that
    the one check (``segmentation.validation``) words every refusal, whichever path a body
    takes; attributes and the id may be left out."""
    required = [column.name for column in schema.columns if schema.is_feature(column.name)]

    def edit(document: dict[str, Any]) -> None:
        document["examples"] = [example]
        for name in required:
            field = document["properties"][name]
            kinds = [kind for kind in field.pop("anyOf", []) if kind.get("type") != "null"]
            if len(kinds) == 1:
                field.update(kinds[0])
            field.pop("default", None)
        document["required"] = required

    return edit


def _spelled_as_declared(feature: CategoricalFeature) -> Callable[[object], object]:
    level_of = feature.level_of()

    def spelled(value: object) -> object:
        if isinstance(value, bool):  # JSON true and false, for levels inferred from booleans
            value = str(value)
        if isinstance(value, str):
            return level_of.get(value.strip().casefold(), value)  # unknown: Literal says so
        return value

    return spelled


class CustomerBatchBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _body_kind(value: object) -> str | None:
    if isinstance(value, dict):
        return "batch" if "customers" in value else "single"
    return None


def request_adapter(
    schema: FeatureSchema, max_batch: int, example: dict[str, Any] | None = None
) -> TypeAdapter[Any]:
    """Validator for POST /segment bodies of ``schema``'s customers, with the batch limit."""
    customer = customer_model(schema, example)
    batch = create_model(
        "CustomerBatch",
        __base__=CustomerBatchBase,
        customers=(
            list[customer],  # type: ignore[valid-type]
            Field(
                min_length=1,
                max_length=max_batch,
                description=f"Customers to assign, in order; at most {max_batch:,} "
                "(SEGMENT_MAX_BATCH).",
            ),
        ),
    )
    body: Any = Annotated[
        Annotated[customer, Tag("single")] | Annotated[batch, Tag("batch")],
        Discriminator(
            _body_kind,
            custom_error_type="invalid_body",
            custom_error_message='the body must be a customer object or {"customers": [...]}',
        ),
    ]
    return TypeAdapter(body)


class SplitRequest(BaseModel):
    """Customers in the pandas "split" layout (``DataFrame.to_json(orient="split")``, MLflow's
    ``dataframe_split``): column names once, then one array of values per customer."""

    model_config = ConfigDict(
        extra="forbid",
    )

    columns: list[str] = Field(
        min_length=1,
        description="customer_id and the model's features (and attributes), by name or alias, "
        "each at most once; other columns are refused.",
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


class SegmentCard(SegmentProfile):
    """A segment's profile with a sentence a marketer reads without statistics."""

    profile_text: str = Field(
        description="Who these customers are, in one generated sentence: where the segment "
        "sits on each feature against all customers (high or low only when three quarters of "
        "it are on that side of the median), ages by decade, a dominant level, and for RFM "
        "models recency, frequency and spend."
    )


class SegmentList(BaseModel):
    model_version: str
    segments: list[SegmentCard]


class Liveness(BaseModel):
    status: Literal["alive"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None


class ModelInfo(BundleMetadata):
    """The served bundle's metadata, and what the page says of its k in words."""

    k_choice: str = Field(
        default="",
        description="How k was chosen, in a sentence: the k tried, the criteria's vote and what "
        "the split test changed, or that k was fixed, or that no k showed clear segments "
        "(segmentation.k_choice, the report's and the command line's wording).",
    )
    runner_up_change: str | None = Field(
        default=None,
        description="What choosing the runner-up k (k_selection.split_tree.runner_up) instead "
        "would change, naming the segments as they are served now (\"k = 6 splits 'High income, "
        "high spending' into two of 31 and 9 customers\"); null for a fixed k, a bundle without "
        "a split tree, or no clear segments.",
    )
    k_steps: list[str] = Field(
        default_factory=list,
        description="What each k of the split tree changes from the k below it, in words "
        "(\"k = 6 splits 'High income, high spending' into two of 31 and 9 customers\"; segments "
        "of the chosen k by the names served now, others by their size): the page's split tree "
        "as text. Empty without a split tree.",
    )


class TrainingSample(BaseModel):
    """A seeded sample of the customers the model was trained on, for charts (the segment map)."""

    model_version: str
    features: list[str] = Field(
        description="The model's numeric features (those a map can put on an axis), in the "
        "order of each row."
    )
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
    lower: float | None = Field(
        description="Exclusive lower edge; null for the first bin and for a level."
    )
    upper: float | None = Field(
        description="Inclusive upper edge; null for the last bin and for a level."
    )
    level: str | None = Field(
        default=None, description="For a categorical feature: the level this bin counts."
    )
    expected_share: float = Field(description="Share of the training customers in the bin.")
    observed_share: float | None = Field(description="Share of the customers seen; null if none.")
    count: int


class FeatureDrift(BaseModel):
    feature: str
    psi: float | None = Field(
        description="Population stability index against the training histogram; null below "
        "thresholds.min_observations customers (no verdict on too few), or when the bundle has "
        "no histogram for the feature."
    )
    drifted: bool
    bins: list[BinDrift]


class SegmentDrift(BaseModel):
    segment_id: int
    name: str
    expected_share: float = Field(description="Share of the training customers.")
    observed_share: float | None = Field(description="Share of the customers seen; null if none.")
    shift: float | None = Field(
        description="The share shift, observed_share - expected_share; null below "
        "thresholds.min_observations customers."
    )
    count: int
    drifted: bool = Field(description="Always false below thresholds.min_observations customers.")


class DriftReport(BaseModel):
    model_version: str
    status: Literal["ok", "drift", "insufficient_data"] = Field(
        description="insufficient_data until thresholds.min_observations customers were seen: "
        "then no PSI, share shift or drifted flag is given; drift or ok from then on."
    )
    drift_detected: bool
    observations: int = Field(
        description="Customers seen by this model since `since`; requests marked "
        "X-Segment-Source: ui (the web page's own) are not counted."
    )
    since: datetime = Field(
        description="When counting began: the last reset, else the service's start (with "
        "several workers, the start of their shared metrics folder)."
    )
    thresholds: DriftThresholds
    segment_psi: float | None = Field(
        description="PSI of the segment shares as a whole; null below "
        "thresholds.min_observations customers."
    )
    features: list[FeatureDrift]
    segments: list[SegmentDrift]


class SegmentCountOfDay(BaseModel):
    id: int = Field(description="The segment id (stable across retraining).")
    name: str = Field(description="The segment's name in the version that answered.")
    count: int = Field(description="Customers scored into the segment that day.")
    share: float = Field(description="count / the day's total.")


class HistoryDay(BaseModel):
    date: dt.date = Field(description="The UTC day.")
    model_version: str = Field(
        description="The version that answered; a day on which the "
        "served version changed has an entry per version."
    )
    total: int = Field(description="Customers scored that day by that version.")
    segments: list[SegmentCountOfDay] = Field(description="By segment id.")


class SegmentHistoryReport(BaseModel):
    model_version: str = Field(
        description="The version this answer was made for: the current one, or ?version=V, "
        "whose days alone are then listed."
    )
    days: list[HistoryDay] = Field(
        description="One entry per UTC day and version with at least one customer scored, "
        "oldest first."
    )
    since: dt.date = Field(
        description="The first day covered: the first day of the window asked for, or the day "
        "the service began keeping the history if that is later."
    )


class AdminAccess(BaseModel):
    can_rename: bool = Field(
        description="The key sent has the admin role and this server can write a renamed "
        "version: PUT /admin/names will be accepted."
    )
    reason: str | None = Field(description="Why not, in words; null when can_rename is true.")


class NamesEdit(NamesFile):
    """Names, descriptions and actions for some segments, as ``segment-names apply`` takes them
    (its names file, keyed by id, or a list of entries with their ``id``), and the version
    they were edited on."""

    version: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN.pattern,
        description="The version the names were edited on: if another is served by now (a "
        "rename or reload meanwhile), the edit is refused with 409 rather than overwriting it.",
    )


class RenameResult(BaseModel):
    model_version: str = Field(description="The version served now: the new one when changed.")
    previous_version: str = Field(description="The version the names were applied to.")
    changed: bool = Field(
        description="False when the names were those the segments had: no version is written."
    )
    other_workers_signalled: bool = Field(
        description="With several workers: the others were asked to reload the new version."
    )
    segments: list[SegmentProfile]
