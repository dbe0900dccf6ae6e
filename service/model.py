"""The loaded model: a verified bundle, its scorer and its profiles, built once per (re)load."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
import numpy as np

from segmentation.bundle import Bundle, BundleError, BundleMetadata, SegmentProfile, load_bundle
from segmentation.features import GENDER, GENDER_ENCODING
from segmentation.scoring import Assignments, CentroidScorer
from service.errors import FieldProblem, InvalidRequest, ModelUnavailable, NotFound
from service.schemas import Customer, SegmentAssignment, SegmentResponse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentModel:
    """Assigns validated customers to segments; everything per-request is plain numpy."""

    metadata: BundleMetadata
    scorer: CentroidScorer
    profiles: tuple[SegmentProfile, ...] = field(repr=False)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> SegmentModel:
        profiles = tuple(sorted(bundle.metadata.segments, key=lambda p: p.id))
        return cls(
            metadata=bundle.metadata,
            scorer=CentroidScorer.from_bundle(bundle),
            profiles=profiles,
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

    def assign(self, customers: Sequence[Customer], *, path_prefix: str = "") -> SegmentResponse:
        return self.respond(customers, self.score(customers, path_prefix=path_prefix))

    def score(self, customers: Sequence[Customer], *, path_prefix: str = "") -> Scored:
        """The model's input rows and their assignments, for monitors to observe."""
        rows = self.feature_rows(customers, path_prefix=path_prefix)
        return Scored(rows=rows, assignments=self.scorer.assign(rows))

    def respond(self, customers: Sequence[Customer], scored: Scored) -> SegmentResponse:
        ids = scored.assignments.segment_ids.tolist()
        distances = scored.assignments.distances.tolist()
        results = [
            SegmentAssignment(
                customer_id=customer.customer_id,
                segment_id=segment_id,
                segment_name=self.profiles[segment_id].name,
                distance=distance,
                model_version=self.version,
            )
            for customer, segment_id, distance in zip(customers, ids, distances, strict=True)
        ]
        return SegmentResponse(
            model_version=self.version,
            results=results,
            segments=[self.profiles[i] for i in sorted(set(ids))],
        )

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
class Scored:
    rows: np.ndarray
    assignments: Assignments


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
            return ReloadOutcome(True, model.version, previous_version)

    def require(self) -> SegmentModel:
        if self.model is None:
            raise ModelUnavailable(f"no model is loaded: {self.reason}")
        return self.model


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, BundleError):
        logger.error("model not loaded: %s", exc)
        return str(exc)
    logger.error("model not loaded", exc_info=exc)
    return f"unexpected error while loading the model: {exc!r}"
