"""After the fit: number the new segments after those of the model they replace.

K-Means numbers its clusters in whatever order it converged, so without this "segment 3" could
be the big spenders in May and the bargain hunters in June, and everything keyed on the number
(CRM campaigns, the write-back table, dashboards) would silently change meaning.

The new centres are matched to the replaced model's (the current one, or ``--align-to``) by a
minimum-cost matching (the Hungarian method, ``scipy.optimize.linear_sum_assignment``) of their
Euclidean distances in the new model's scaled units: the old centres are taken back to the
model's input units with the old scaler (and to values, where a feature's ``log1p`` was added or
dropped, then transformed as the new model reads it) and scaled with the new one. A matched pair
closer than ``DEFAULT_MAX_DISTANCE`` standard deviations is one segment: it keeps its id, its
name, description and action (names given with ``segment-names`` included) and so its colour,
which follows the id. Any other new segment gets an id above every id that any version in the
models folder has used (``Lineage.highest_id`` carries the count forward when old bundles are
deleted), and an old segment that nothing continues is recorded as retired.

Centroid rows are kept in ascending id order, so a model whose ids are 0 to k - 1 predicts them
directly; after a retirement the scorer maps rows to ids (``TrainingSummary.segment_ids``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from segmentation.metadata import (
    BundleError,
    BundleMetadata,
    KSelection,
    Lineage,
    ScorerNumbers,
    SegmentFlow,
    SegmentLineage,
    SegmentProfile,
    current_version,
    list_versions,
    read_metadata,
)
from segmentation.schema import LEVEL_SEPARATOR, FeatureSchema, NumericFeature
from segmentation.served_bundle import verified_bundle
from training.fit import Clusterer

logger = logging.getLogger("training")

# Standard deviations of the new model's scaled units. Refits of the same customers (another
# seed, a month's new customers) move a centre by a tenth of that or less on the classic study;
# its nearest distinct segments are about 1.5 apart. A centre that moved a whole standard
# deviation describes other customers, and gets a new id.
DEFAULT_MAX_DISTANCE: Final = 1.0


@dataclass(frozen=True)
class Reference:
    """The model a new one is numbered after: its description and its numbers."""

    metadata: BundleMetadata
    numbers: ScorerNumbers


def reference_model(models_dir: Path, version: str | None) -> Reference | None:
    """The version named, else the current one; None when there is no current model.

    Verified as the service verifies a bundle it loads.
    """
    if version is None:
        try:
            version = current_version(models_dir)
        except BundleError:
            return None
    bundle = verified_bundle(models_dir, version)
    return Reference(metadata=bundle.metadata, numbers=bundle.numbers)


def highest_segment_id(models_dir: Path) -> int:
    """The highest segment id any bundle in the folder used or knew of; -1 for none."""
    highest = -1
    for version in list_versions(models_dir):
        try:
            metadata = read_metadata(models_dir / version)
        except BundleError:
            continue  # a damaged bundle is refused where it is loaded, not here
        highest = max([highest, *(s.id for s in metadata.segments)])
        if metadata.lineage is not None:
            highest = max(highest, metadata.lineage.highest_id)
    return highest


@dataclass(frozen=True)
class Alignment:
    """How the fitted centroids become the model's segments.

    ``order[row]`` is the fitted centroid that becomes centroid row ``row``; ``ids[row]`` its
    segment id (ascending); ``distances`` the matched ones' distance to their old centre.
    """

    order: np.ndarray
    ids: list[int]
    distances: dict[int, float]
    reference: Reference | None
    max_distance: float
    highest_id: int
    note: str | None = None

    @property
    def rows_of_labels(self) -> np.ndarray:
        """Fitted label -> centroid row."""
        return np.argsort(self.order)

    def relabel(self, labels: np.ndarray) -> np.ndarray:
        """Fitted labels as centroid rows."""
        return np.asarray(self.rows_of_labels[labels], dtype=np.intp)

    @property
    def new(self) -> list[int]:
        return [i for i in self.ids if i not in self.distances]

    @property
    def retired(self) -> list[int]:
        if self.reference is None:
            return []
        return [i for i in self.reference.metadata.segment_ids if i not in self.distances]


def align(
    fitted_centroids: np.ndarray,
    numbers: ScorerNumbers,
    reference: Reference | None,
    highest_id: int,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    *,
    schema: FeatureSchema,
) -> Alignment:
    """Number the fitted centroids (scaled by ``numbers``; ``schema`` is the new model's) after
    ``reference``'s segments."""
    k = len(fitted_centroids)
    if reference is None:
        return Alignment(
            np.arange(k), list(range(k)), {}, None, max_distance, max(highest_id, k - 1)
        )
    old = reference.numbers
    old_input = old_centres_on(old, numbers.features)
    if old_input is None:
        note: str | None = (
            f"version {reference.metadata.version} reads other columns ({', '.join(old.features)}"
            f"), so no segment continues one of it: every segment is new"
        )
        matched: dict[int, tuple[int, float]] = {}
    else:
        version = reference.metadata.version
        old_schema = reference.metadata.feature_schema
        old_input = _retransformed(old_input, numbers.features, old_schema, schema)
        notes = [
            _levels_note(version, old.features, numbers.features),
            _transforms_note(version, old_schema, schema),
        ]
        note = "; ".join(n for n in notes if n) or None
        old_scaled = (old_input - np.asarray(numbers.mean)) / np.asarray(numbers.scale)
        cost = cdist(fitted_centroids, old_scaled)
        rows, columns = linear_sum_assignment(cost)
        old_ids = reference.metadata.segment_ids
        matched = {
            int(row): (old_ids[column], float(cost[row, column]))
            for row, column in zip(rows, columns, strict=True)
            if cost[row, column] <= max_distance
        }
    next_id = max(highest_id, *reference.metadata.segment_ids) + 1
    id_of_label: dict[int, int] = {}
    for label in range(k):
        if label in matched:
            id_of_label[label] = matched[label][0]
    for label in range(k):  # new segments numbered in the fit's order, above every id used
        if label not in id_of_label:
            id_of_label[label] = next_id
            next_id += 1
    order = np.array(sorted(range(k), key=lambda label: id_of_label[label]), dtype=np.intp)
    return Alignment(
        order=order,
        ids=[id_of_label[int(label)] for label in order],
        distances=dict(matched.values()),
        reference=reference,
        max_distance=max_distance,
        highest_id=next_id - 1,
        note=note,
    )


def old_centres_on(old: ScorerNumbers, columns: Sequence[str]) -> np.ndarray | None:
    """The old model's centres in input units, on the new model's input ``columns``; None when
    the two models read different features.

    Two models of the same features may differ in a categorical feature's levels (a channel
    'app' that is new this month, or one no customer uses any more). A level the old model does
    not read is a share of 0 in its segments, and a level only the old one reads is left out,
    so the segments are still matched on everything both read."""
    old_input: np.ndarray = np.asarray(old.centroids) * np.asarray(old.scale) + np.asarray(old.mean)
    if list(old.features) == list(columns):
        return old_input
    if _features_of(old.features) != _features_of(columns):
        return None
    position = {name: at for at, name in enumerate(old.features)}
    return np.column_stack(
        [
            old_input[:, position[name]] if name in position else np.zeros(len(old_input))
            for name in columns
        ]
    )


def _retransformed(
    old_input: np.ndarray, columns: Sequence[str], old: FeatureSchema, new: FeatureSchema
) -> np.ndarray:
    """The old centres in the new model's input units where a feature's transform changed: a
    centre on log(1 + value) taken back to values, or values taken to log(1 + value).

    The pipeline's input after the transform is what the scaler standardises, so without this
    a model that gained ``transform = "log1p"`` matched none of the old segments."""
    old_transform = _transforms(old)
    new_transform = _transforms(new)
    result = old_input.copy()
    for at, name in enumerate(columns):
        before, after = old_transform.get(name), new_transform.get(name)
        if before == after or name not in old_transform or name not in new_transform:
            continue
        values = np.expm1(result[:, at]) if before == "log1p" else result[:, at]
        if after == "log1p":
            # A centre of the old values may lie below the new model's valid range; log1p needs
            # it above -1, and the nearest valid value is as far as any valid customer is.
            floor = max(_minimum(new, name), -1 + 1e-9)
            values = np.log1p(np.maximum(values, floor))
        result[:, at] = values
    return result


def _transforms(schema: FeatureSchema) -> dict[str, str | None]:
    return {f.name: f.transform for f in schema.features if isinstance(f, NumericFeature)}


def _minimum(schema: FeatureSchema, name: str) -> float:
    return next(
        f.minimum for f in schema.features if isinstance(f, NumericFeature) and f.name == name
    )


def _transforms_note(version: str, old: FeatureSchema, new: FeatureSchema) -> str | None:
    """Which features' transforms differ between two models of the same features, or None."""
    before, after = _transforms(old), _transforms(new)
    changed = [
        f"{name}: {before[name] or 'values'}, now {after[name] or 'values'}"
        for name in after
        if name in before and before[name] != after[name]
    ]
    if not changed:
        return None
    return (
        f"version {version} read features otherwise ({'; '.join(changed)}): its centres were "
        "taken back to values and transformed as this model reads them before matching"
    )


def _features_of(columns: Sequence[str]) -> list[tuple[str, bool]]:
    """The features behind input columns, in order, each with whether it is categorical
    (``channel=app`` is the categorical feature ``channel``): a number that became categories
    is another feature, not other levels."""
    return list(
        dict.fromkeys((name.split(LEVEL_SEPARATOR)[0], LEVEL_SEPARATOR in name) for name in columns)
    )


def _levels_note(version: str, old: Sequence[str], new: Sequence[str]) -> str | None:
    """What differs in the levels two models of the same features read, or None."""
    added = [name for name in new if name not in old]
    dropped = [name for name in old if name not in new]
    if not added and not dropped:
        return None
    parts = [f"new: {', '.join(added)}"] if added else []
    parts += [f"no longer read: {', '.join(dropped)}"] if dropped else []
    return (
        f"version {version} reads other levels ({'; '.join(parts)}): segments were matched on "
        "what both read, a level a model does not read counting as 0 in its segments; "
        "customers with a new level are left out of the comparison"
    )


def reorder_estimator(estimator: Clusterer, alignment: Alignment) -> None:
    """Put the fitted centroids in ascending id order, so predict gives centroid rows."""
    estimator.cluster_centers_ = np.ascontiguousarray(estimator.cluster_centers_[alignment.order])
    labels = getattr(estimator, "labels_", None)
    if labels is not None:
        estimator.labels_ = alignment.relabel(np.asarray(labels))


def inherit_words(profiles: list[SegmentProfile], alignment: Alignment) -> list[SegmentProfile]:
    """Matched segments keep the old segment's name, description and action; a new segment
    whose automatic name a kept one already bears is marked as new."""
    if alignment.reference is None:
        return profiles
    old = {p.id: p for p in alignment.reference.metadata.segments}
    kept = [
        p.model_copy(
            update={
                "name": old[p.id].name,
                "description": old[p.id].description,
                "action": old[p.id].action,
            }
        )
        if p.id in alignment.distances
        else p
        for p in profiles
    ]
    taken = {p.name.casefold() for p in kept if p.id in alignment.distances}
    result = []
    for profile in kept:
        if profile.id not in alignment.distances:
            name, suffix = f"{profile.name}", 1
            while name.casefold() in taken:
                name = f"{profile.name} (new)" if suffix == 1 else f"{profile.name} (new {suffix})"
                suffix += 1
            taken.add(name.casefold())
            profile = profile.model_copy(update={"name": name})
        result.append(profile)
    return result


def lineage(profiles: Sequence[SegmentProfile], alignment: Alignment) -> Lineage:
    """The bundle's record of the alignment, with each kept centre's shift in original units."""
    old = (
        {p.id: p for p in alignment.reference.metadata.segments}
        if alignment.reference is not None
        else {}
    )
    segments = []
    for profile in sorted(profiles, key=lambda p: p.id):
        distance = alignment.distances.get(profile.id)
        previous = old.get(profile.id) if distance is not None else None
        segments.append(
            SegmentLineage(
                id=profile.id,
                matched_id=profile.id if previous is not None else None,
                distance=distance,
                centroid_shift=profile.centroid_shift_from(previous)
                if previous is not None
                else {},
            )
        )
    return Lineage(
        aligned_to=alignment.reference.metadata.version if alignment.reference else None,
        max_distance=alignment.max_distance,
        segments=segments,
        new=alignment.new if alignment.reference is not None else [],
        retired=alignment.retired,
        highest_id=alignment.highest_id,
        note=alignment.note,
    )


def renumber_split_tree(selection: KSelection, alignment: Alignment) -> KSelection:
    """The split tree's chosen k numbered by centroid row, like the model (see ``SplitTree``)."""
    return _renumbered(selection, alignment.rows_of_labels)


def relabel_split_tree(
    selection: KSelection, tree_labels: np.ndarray, model_labels: np.ndarray
) -> KSelection:
    """The split tree's chosen k numbered by another fit's labels of the same customers: each
    of the tree's segments becomes the model segment that shares most customers with it (a
    one-to-one matching). Spark training chooses k on a sample with scikit-learn and fits the
    model with MLlib, whose segments come in an order of their own."""
    k = selection.chosen_k
    shared = np.zeros((k, k), dtype=np.int64)
    np.add.at(shared, (tree_labels, model_labels), 1)
    tree_segments, model_segments = linear_sum_assignment(-shared)
    rows = np.empty(k, dtype=np.intp)
    rows[tree_segments] = model_segments
    return _renumbered(selection, rows)


def _renumbered(selection: KSelection, rows: np.ndarray) -> KSelection:
    """The split tree with the chosen k's segment ``label`` numbered ``rows[label]``."""
    tree = selection.split_tree
    if tree is None:
        return selection
    chosen = selection.chosen_k
    order = np.argsort(rows)

    def flows(found: list[SegmentFlow], source_is_chosen: bool) -> list[SegmentFlow]:
        moved = [
            flow.model_copy(update={"source": int(rows[flow.source])})
            if source_is_chosen
            else flow.model_copy(update={"target": int(rows[flow.target])})
            for flow in found
        ]
        return sorted(moved, key=lambda flow: (flow.source, flow.target))

    levels = []
    for level in tree.levels:
        if level.k == chosen:
            sizes = [level.sizes[label] for label in order]
            level = level.model_copy(update={"sizes": sizes, "flows": flows(level.flows, True)})
        elif level.k == chosen - 1:
            level = level.model_copy(update={"flows": flows(level.flows, False)})
        levels.append(level)
    runner_up_flows = tree.runner_up_flows
    if tree.runner_up is not None and runner_up_flows:
        runner_up_flows = flows(runner_up_flows, tree.runner_up > chosen)
    renumbered = tree.model_copy(update={"levels": levels, "runner_up_flows": runner_up_flows})
    return selection.model_copy(update={"split_tree": renumbered})
