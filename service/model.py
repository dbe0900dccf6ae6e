"""The loaded model: a verified bundle, its scorer and its profiles, built once per (re)load."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
import orjson
import pandas as pd

from segmentation.assigner import (
    MAX_REPORTED_PROBLEMS,
    Assigner,
    MissingColumnsError,
    Scored,
)
from segmentation.bundle import Bundle, BundleError, BundleMetadata, SegmentProfile, load_bundle
from segmentation.features import GENDER, GENDER_ENCODING
from segmentation.tables import csv_bytes, scored_table
from service.errors import FieldProblem, InvalidRequest, ModelUnavailable, NotFound
from service.schemas import Customer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentModel:
    """Assigns validated customers to segments; everything per request is plain numpy."""

    metadata: BundleMetadata
    assigner: Assigner
    profiles: tuple[SegmentProfile, ...] = field(repr=False)
    _names: tuple[str, ...] = field(init=False, repr=False)
    _profiles_json: tuple[dict[str, Any], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(p.name for p in self.profiles))
        object.__setattr__(
            self, "_profiles_json", tuple(p.model_dump(mode="json") for p in self.profiles)
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> SegmentModel:
        profiles = tuple(sorted(bundle.metadata.segments, key=lambda p: p.id))
        return cls(
            metadata=bundle.metadata, assigner=Assigner.from_bundle(bundle), profiles=profiles
        )

    @property
    def version(self) -> str:
        return self.metadata.version

    def profile(self, segment_id: int) -> SegmentProfile:
        if 0 <= segment_id < len(self.profiles):
            return self.profiles[segment_id]
        raise NotFound(
            f"segment {segment_id} does not exist; this model has segments "
            f"0 to {len(self.profiles) - 1}"
        )

    def score(self, customers: Sequence[Customer], *, path_prefix: str = "") -> Scored:
        """The model's input rows and their assignments, for monitors to observe."""
        return self.assigner.score(self.feature_rows(customers, path_prefix=path_prefix))

    def respond(
        self, customer_ids: Sequence[str | int | None], scored: Scored, *, explain: bool
    ) -> bytes:
        """The JSON answer (the SegmentResponse schema), encoded straight from the arrays.

        Building one pydantic object per customer was 62% of a 10,000-customer request in the
        profile; the profiles are encoded once, when the model loads.
        """
        ids = scored.assignments.segment_ids.tolist()
        names = self._names
        version = self.version
        explanations = self._explanations(scored) if explain else [None] * len(ids)
        results = [
            {
                "customer_id": customer_id,
                "segment_id": segment_id,
                "segment_name": names[segment_id],
                "distance": distance,
                "atypical": flag,
                "explanation": explanation,
                "model_version": version,
            }
            for customer_id, segment_id, distance, flag, explanation in zip(
                customer_ids,
                ids,
                scored.assignments.distances.tolist(),
                scored.atypical.tolist(),
                explanations,
                strict=True,
            )
        ]
        segments = [self._profiles_json[i] for i in sorted(set(ids))]
        return orjson.dumps({"model_version": version, "results": results, "segments": segments})

    def score_table(self, table: pd.DataFrame) -> Scored:
        """Validate and score a CSV table; every bad row (up to a cap) is named in one error."""
        try:
            checked = self.assigner.check_table(table)
        except MissingColumnsError as exc:
            problem = FieldProblem(field="columns", message=str(exc))
            raise InvalidRequest(str(exc), [problem]) from None
        if checked.problems:
            listed = checked.problems[:MAX_REPORTED_PROBLEMS]
            details = [
                FieldProblem(field=f"row {p.row}.{p.column}", message=p.message) for p in listed
            ]
            first = listed[0]
            more = (
                f"; only the first {MAX_REPORTED_PROBLEMS} problems are listed"
                if len(checked.problems) > MAX_REPORTED_PROBLEMS
                else ""
            )
            raise InvalidRequest(
                f"{checked.bad_rows} of {len(table)} rows are invalid; first: row {first.row}, "
                f"column {first.column!r}: {first.message}{more}",
                details,
            )
        return self.assigner.score(checked.rows)

    def csv_answer(self, table: pd.DataFrame, scored: Scored, *, explain: bool) -> bytes:
        """The rows as sent (every column untouched) with the assignment columns appended."""
        return csv_bytes(scored_table(table, self.assigner.output_columns(scored, explain)))

    def _explanations(self, scored: Scored) -> list[dict[str, Any] | None]:
        explained = self.assigner.explain(scored)
        features = self.metadata.features
        return [
            {
                "runner_up_segment_id": runner_up,
                "runner_up_distance": runner_up_distance,
                "margin": margin,
                "confidence": confidence,
                "contributions": dict(zip(features, shares, strict=True)),
            }
            for runner_up, runner_up_distance, margin, confidence, shares in zip(
                explained.runner_up_ids.tolist(),
                explained.runner_up_distances.tolist(),
                explained.margins.tolist(),
                explained.confidences.tolist(),
                explained.contributions.tolist(),
                strict=True,
            )
        ]

    def feature_rows(self, customers: Sequence[Customer], *, path_prefix: str = "") -> np.ndarray:
        """The model's input matrix; every missing required feature is reported at once."""
        features = self.metadata.features
        problems = []
        matrix = np.empty((len(customers), len(features)), dtype=np.float64)
        for row, customer in enumerate(customers):
            for column, name in enumerate(features):
                value = getattr(customer, name)
                if value is None:
                    where = f"{path_prefix}[{row}].{name}" if path_prefix else name
                    problems.append(
                        FieldProblem(
                            field=where,
                            message=f"required by the model, which uses {', '.join(features)}",
                        )
                    )
                    continue
                matrix[row, column] = GENDER_ENCODING[value] if name == GENDER else value
        if problems:
            raise InvalidRequest.from_problems(problems)
        return matrix


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: ``version`` is the model serving afterwards (None if there is none)."""

    ok: bool
    version: str | None
    previous_version: str | None
    reason: str | None = None


def _load_model(models_dir: Path, version: str | None) -> SegmentModel:
    return SegmentModel.from_bundle(load_bundle(models_dir, version))


@dataclass
class ModelSlot:
    """Holds the model being served, or the reason there is none; routes read it per request.

    A handler takes the model once, at the start of its request, so a reload swapping in a new
    model (one reference assignment) never changes the model under a request in flight.
    """

    model: SegmentModel | None = None
    reason: str = "the model has not been loaded yet"
    pinned: dict[str, SegmentModel] = field(default_factory=dict)
    pinned_failures: dict[str, str] = field(default_factory=dict)
    previous: SegmentModel | None = None
    _reload_lock: asyncio.Lock | None = field(default=None, repr=False)

    def load(self, models_dir: Path, version: str | None) -> None:
        try:
            self.model = _load_model(models_dir, version)
        except Exception as exc:  # the service must stay up and say why it is not ready
            self.model = None
            self.reason = _failure_reason(exc)
        else:
            logger.info("serving model %s from %s", self.model.version, models_dir)

    async def reload(self, models_dir: Path, version: str | None) -> ReloadOutcome:
        """Load and verify the bundle off the event loop, then swap it in; on failure keep the
        model being served, so a bad bundle never takes the service down."""
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            previous = self.model
            previous_version = previous.version if previous else None
            try:
                model = await anyio.to_thread.run_sync(_load_model, models_dir, version)
            except Exception as exc:
                reason = _failure_reason(exc)
                if previous is None:
                    self.reason = reason
                return ReloadOutcome(False, previous_version, previous_version, reason)
            self.model = model
            if previous is not None and previous.version != model.version:
                # Callers finishing a chunked batch may pin the version they started with.
                self.previous = previous
            return ReloadOutcome(True, model.version, previous_version)

    def load_pinned(self, models_dir: Path, versions: Sequence[str]) -> None:
        """Load the extra versions callers may ask for by name; bundles never change, so
        these are loaded once and are not touched by a reload."""
        for version in versions:
            try:
                self.pinned[version] = _load_model(models_dir, version)
            except Exception as exc:
                self.pinned_failures[version] = _failure_reason(exc)

    def require(self, version: str | None = None) -> SegmentModel:
        current = self.model
        if version is None or (current is not None and current.version == version):
            if current is None:
                raise ModelUnavailable(f"no model is loaded: {self.reason}")
            return current
        if version in self.pinned:
            return self.pinned[version]
        if self.previous is not None and self.previous.version == version:
            return self.previous
        if version in self.pinned_failures:
            raise ModelUnavailable(
                f"model version {version!r} could not be loaded: {self.pinned_failures[version]}"
            )
        raise NotFound(
            f"model version {version!r} is not served; available: {self.describe_available()}"
        )

    def served(self) -> list[SegmentModel]:
        """The current model, then every other version a request may name."""
        models = [self.model] if self.model is not None else []
        others = [m for _, m in sorted(self.pinned.items())]
        if self.previous is not None:
            others.append(self.previous)
        for model in others:
            if model.version not in {m.version for m in models}:
                models.append(model)
        return models

    def describe_available(self) -> str:
        names = [f"{m.version} (current)" if m is self.model else m.version for m in self.served()]
        return ", ".join(names) or "none"


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, BundleError):
        logger.error("model not loaded: %s", exc)
        return str(exc)
    logger.error("model not loaded", exc_info=exc)
    return f"unexpected error while loading the model: {exc!r}"
