"""The loaded model: a verified bundle, its scorer and its profiles, built once per (re)load."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
from pydantic import TypeAdapter

from segmentation.assigner import Assigner, Scored
from segmentation.k_choice import k_choice, names_by_row, runner_up_change, split_steps
from segmentation.metadata import (
    REPORT_SAMPLE_FILE,
    BundleMetadata,
    SegmentProfile,
    describe_ids,
)
from segmentation.profile_text import profile_texts
from segmentation.schema import FeatureSchema, NumericFeature
from segmentation.served_bundle import BundleView
from segmentation.tables import csv_bytes, scored_table
from service.http.errors import NotFound
from service.http.schemas import ModelInfo, SegmentCard, request_adapter

logger = logging.getLogger(__name__)


class _Result(msgspec.Struct, gc=False):
    """One customer of a JSON answer, fields in the order of the ``SegmentAssignment`` schema."""

    customer_id: Any
    segment_id: int
    segment_name: str
    distance: float
    atypical: bool
    explanation: Any
    model_version: str


_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class SegmentModel:
    """Assigns validated customers to segments; everything per request is plain numpy."""

    metadata: BundleMetadata
    assigner: Assigner
    profiles: tuple[SegmentProfile, ...] = field(repr=False)
    # The bundle's seeded sample of training customers (features and segment), for the map on
    # the web page; None for a bundle written without one.
    sample: pd.DataFrame | None = field(default=None, repr=False)
    _names: tuple[str, ...] = field(init=False, repr=False)
    _names_by_id: dict[int, str] = field(init=False, repr=False)
    # The profiles with their sentence (GET /segments), made once per load.
    cards: tuple[SegmentCard, ...] = field(init=False, repr=False)
    # GET /model's answer: the metadata, how k was chosen, the runner-up k's change and each
    # step of the split tree in words (the last two with the names served now).
    info: ModelInfo = field(init=False, repr=False)
    # Each profile's JSON, encoded once: an answer copies it rather than encoding it again.
    _profiles_json: tuple[msgspec.Raw, ...] = field(init=False, repr=False)
    # Request validators built from this model's schema, by batch limit (built on first use).
    _adapters: dict[int, TypeAdapter[Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(p.name for p in self.profiles))
        object.__setattr__(self, "_names_by_id", {p.id: p.name for p in self.profiles})
        texts = profile_texts(self.metadata)
        cards = tuple(
            SegmentCard(**dict(p), profile_text=texts.get(p.id, p.name)) for p in self.profiles
        )
        object.__setattr__(self, "cards", cards)
        info = ModelInfo(
            **dict(self.metadata),
            k_choice=k_choice(self.metadata.k_selection),
            runner_up_change=runner_up_change(self.metadata),
            k_steps=split_steps(self.metadata.k_selection, names_by_row(self.metadata.segments)),
        )
        object.__setattr__(self, "info", info)
        object.__setattr__(
            self,
            "_profiles_json",
            tuple(msgspec.Raw(p.model_dump_json().encode()) for p in self.profiles),
        )
        object.__setattr__(self, "_adapters", {})

    @classmethod
    def from_bundle(cls, bundle: BundleView) -> SegmentModel:
        profiles = tuple(sorted(bundle.metadata.segments, key=lambda p: p.id))
        sample_path = bundle.path / REPORT_SAMPLE_FILE
        sample = pd.read_csv(sample_path) if sample_path.is_file() else None
        return cls(
            metadata=bundle.metadata,
            assigner=Assigner.from_bundle(bundle),
            profiles=profiles,
            sample=sample,
        )

    @property
    def names_by_id(self) -> dict[int, str]:
        return self._names_by_id

    @property
    def version(self) -> str:
        return self.metadata.version

    @property
    def schema(self) -> FeatureSchema:
        return self.metadata.feature_schema

    def request_adapter(self, max_batch: int) -> TypeAdapter[Any]:
        """The validator of POST /segment bodies for this model's schema: a request pinned to a
        version is validated against that version's fields."""
        adapter = self._adapters.get(max_batch)
        if adapter is None:
            adapter = request_adapter(self.schema, max_batch, self.example_customer())
            self._adapters[max_batch] = adapter
        return adapter

    def example_customer(self) -> dict[str, Any]:
        """A typical customer: each number's training median, each level list's first level."""
        example = self.schema.example()
        for feature in self.schema.features:
            stats = self.metadata.feature_stats.get(feature.name)
            if isinstance(feature, NumericFeature) and stats is not None:
                example[feature.name] = round(stats.median, 2)
        return example

    def card(self, segment_id: int) -> SegmentCard:
        for card in self.cards:
            if card.id == segment_id:
                return card
        raise NotFound(
            f"segment {segment_id} does not exist; this model has segments "
            f"{describe_ids([p.id for p in self.profiles])}"
        )

    def respond(
        self, customer_ids: Sequence[str | int | None], scored: Scored, *, explain: bool
    ) -> bytes:
        """The JSON answer (the SegmentResponse schema), encoded straight from the arrays.

        Building one pydantic object per customer was 62% of a 10,000-customer request in the
        profile; one dict per customer was still a third of it, and a msgspec struct takes half
        a dict's time. The profiles are encoded once, when the model loads.
        """
        ids = scored.assignments.segment_ids.tolist()
        positions = scored.assignments.positions.tolist()
        names = self._names
        version = self.version
        explanations = self.explanations(scored) if explain else [None] * len(ids)
        results = [
            _Result(customer_id, segment_id, names[position], distance, flag, explanation, version)
            for customer_id, segment_id, position, distance, flag, explanation in zip(
                customer_ids,
                ids,
                positions,
                scored.assignments.distances.tolist(),
                scored.atypical.tolist(),
                explanations,
                strict=True,
            )
        ]
        present = positions if len(ids) == 1 else np.unique(scored.assignments.positions).tolist()
        segments = [self._profiles_json[i] for i in present]
        return _ENCODER.encode({"model_version": version, "results": results, "segments": segments})

    def respond_split(
        self,
        customer_ids: Sequence[Any] | None,
        index: list[Any] | None,
        scored: Scored,
        *,
        explain: bool,
    ) -> bytes:
        """The answer to a split-layout body, in the same layout: one row per customer with the
        columns a CSV answer appends (and ``customer_id`` first when the request had one)."""
        columns = self.assigner.output_columns(scored, explain)
        names = list(columns)
        values = [np.asarray(v).tolist() for v in columns.values()]
        if customer_ids is not None:
            names.insert(0, self.schema.id_column)
            values.insert(0, list(customer_ids))
        positions = scored.assignments.positions
        answer: dict[str, Any] = {"model_version": self.version, "columns": names}
        if index is not None:
            answer["index"] = index
        answer["data"] = list(zip(*values, strict=True))
        answer["segments"] = [self._profiles_json[i] for i in np.unique(positions).tolist()]
        return _ENCODER.encode(answer)

    def csv_answer(self, table: pa.Table, scored: Scored, *, explain: bool) -> bytes:
        """The rows as sent (every column untouched) with the assignment columns appended."""
        columns = self.assigner.output_columns(scored, explain, arrow_names=True)
        return csv_bytes(scored_table(table, columns))

    def csv_answer_marked(
        self,
        table: pa.Table,
        scored: Scored,
        valid: np.ndarray,
        errors: list[str],
        *,
        explain: bool,
    ) -> bytes:
        """Every row as sent: valid ones with the assignment columns, failing ones with those
        cells empty; then ``error``, the reason a row failed ("" for a valid row)."""
        # Each valid row takes its value from the scored rows; a failing one takes null.
        position = np.cumsum(valid) - 1
        take = pa.array(position, pa.int64(), mask=~valid)
        columns = {
            name: (values if isinstance(values, pa.Array) else pa.array(values)).take(take)
            for name, values in self.assigner.output_columns(
                scored, explain, arrow_names=True
            ).items()
        }
        columns["error"] = pa.array(errors, pa.string())
        return csv_bytes(scored_table(table, columns))

    def arrow_answer(self, table: pa.Table, scored: Scored, *, explain: bool) -> bytes:
        """An Arrow IPC stream: ``customer_id`` when the request had one, and the columns a CSV
        answer appends; the model version is in the schema's metadata."""
        columns = self.assigner.output_columns(scored, explain)
        arrays = {
            name: pa.array(values) for name, values in columns.items() if name != "segment_name"
        }
        # The names as a dictionary column: k strings, not one per customer.
        names = pa.DictionaryArray.from_arrays(
            pa.array(scored.assignments.positions, pa.int32()), pa.array(self._names)
        )
        arrays = {"segment_id": arrays.pop("segment_id"), "segment_name": names, **arrays}
        name_of = self.schema.name_of()
        ids = [n for n in table.column_names if name_of.get(n.strip()) == self.schema.id_column]
        if ids:
            arrays = {self.schema.id_column: table[ids[0]], **arrays}
        answer = pa.table(arrays).replace_schema_metadata({"model_version": self.version})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, answer.schema) as writer:
            writer.write_table(answer)
        data: bytes = sink.getvalue().to_pybytes()
        return data

    def explanations(self, scored: Scored) -> list[dict[str, Any] | None]:
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
