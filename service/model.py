"""The loaded model: a verified bundle, its scorer and its profiles, built once at start-up."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segmentation.bundle import Bundle, BundleError, BundleMetadata, SegmentProfile, load_bundle
from segmentation.features import GENDER, GENDER_ENCODING
from segmentation.scoring import CentroidScorer
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
        rows = self.feature_rows(customers, path_prefix=path_prefix)
        assignments = self.scorer.assign(rows)
        ids = assignments.segment_ids.tolist()
        distances = assignments.distances.tolist()
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


@dataclass
class ModelSlot:
    """Holds the model being served, or the reason there is none; routes read it per request."""

    model: SegmentModel | None = None
    reason: str = "the model has not been loaded yet"

    def load(self, models_dir: Path, version: str | None) -> None:
        try:
            self.model = SegmentModel.from_bundle(load_bundle(models_dir, version))
        except BundleError as exc:
            self.model = None
            self.reason = str(exc)
            logger.error("model not loaded: %s", exc)
        except Exception as exc:  # the service must stay up and say why it is not ready
            self.model = None
            self.reason = f"unexpected error while loading the model: {exc!r}"
            logger.exception("model not loaded")
        else:
            logger.info("serving model %s from %s", self.model.version, models_dir)

    def require(self) -> SegmentModel:
        if self.model is None:
            raise ModelUnavailable(f"no model is loaded: {self.reason}")
        return self.model
