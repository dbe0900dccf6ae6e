"""Segment names, descriptions and actions chosen by people, and how they apply to profiles.

One definition for every place a person names segments: a names file given to ``segment-train
--names`` or ``segment-names apply`` (read by ``training.names``), and the service's
``PUT /admin/names`` (the web page), which validates here before it runs ``segment-names apply``
itself. pydantic only, so the service can validate without the training libraries.

The segments come keyed by segment id (or automatic name), as a names file writes them, or as
a list of entries each with its ``id``, as the page sends them::

    {"segments": {"0": {"name": "Budget regulars"}}}
    {"segments": [{"id": 0, "name": "Budget regulars", "action": "Loyalty points"}]}

The automatic name is always kept beside the chosen one (``auto_name``), and names stay unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from segmentation.metadata import SegmentProfile, describe_ids

# Earlier templates filled a missing description with this and the automatic name; applied
# unedited, it would have been published as if a person had written it.
LEGACY_PLACEHOLDER = "Automatic name: "
# The two forms of ``segments``; validation errors carry them in their location.
BY_KEY, LISTED = "by_key", "listed"


# Longer than any name training gives (``training.profiles`` cuts its names to fit), so that
# every name a model has can be sent back unchanged with a new description.
MAX_NAME_CHARACTERS = 500


class NamesError(Exception):
    """The names cannot be applied; the message says why, ``field`` where (when known)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SegmentOverride(BaseModel):
    """A segment's words as people give them: None leaves one as it is; an empty description or
    action removes it (a name cannot be removed, only changed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARACTERS)
    description: str | None = Field(default=None, max_length=2000)
    action: str | None = Field(default=None, max_length=2000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        stripped = value.strip()
        if not stripped:
            raise ValueError("must not be blank")
        return stripped

    @field_validator("description", "action")
    @classmethod
    def _words(cls, value: str | None) -> str | None:
        return None if value is None else value.strip()


class SegmentEntry(SegmentOverride):
    """One segment's words in the list form, with the id of the segment they are for."""

    id: int = Field(description="The segment id (GET /segments).")


def _form(value: Any) -> str:
    return LISTED if isinstance(value, list) else BY_KEY


class NamesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: Annotated[
        Annotated[dict[int | str, SegmentOverride], Tag(BY_KEY)]
        | Annotated[list[SegmentEntry], Tag(LISTED)],
        Discriminator(_form),
    ]

    def overrides(self) -> list[tuple[int | str, SegmentOverride, str]]:
        """(segment id or automatic name, the words, where they are in the file)."""
        if isinstance(self.segments, dict):
            return [(key, o, f"segments.{key}") for key, o in self.segments.items()]
        return [(e.id, e, f"segments[{i}]") for i, e in enumerate(self.segments)]


def error_location(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """A validation error's location without the form's tag: ``("segments", 0, "name")``."""
    return tuple(part for part in loc if part not in (BY_KEY, LISTED))


def apply_names(
    profiles: list[SegmentProfile], names: NamesFile, origin: str
) -> list[SegmentProfile]:
    """Profiles with the overrides applied; refuses unknown segments and duplicate names."""
    by_id: dict[int, tuple[SegmentOverride, str]] = {}
    for key, override, where in names.overrides():
        segment = _resolve(key, profiles, origin, where)
        if segment in by_id:
            raise NamesError(f"{origin}: segment {segment} is named more than once", where)
        by_id[segment] = (override, where)
    updated = []
    for profile in profiles:
        chosen, _ = by_id.get(profile.id, (None, ""))
        if chosen is None:
            updated.append(profile)
            continue
        if is_placeholder(chosen, profile):
            chosen = chosen.model_copy(update={"description": None})
        changes = {
            field: value or None  # "" removes a description or an action
            for field, value in chosen.model_dump(include={"name", "description", "action"}).items()
            if value is not None
        }
        updated.append(profile.model_copy(update=changes))
    seen: dict[str, int] = {}
    for profile in updated:
        folded = profile.name.casefold()
        if folded in seen:
            # Blame the words that were sent: this segment's, else the earlier one's.
            blamed = profile.id if profile.id in by_id else seen[folded]
            field = f"{by_id[blamed][1]}.name" if blamed in by_id else None
            raise NamesError(
                f"{origin}: segments {seen[folded]} and {profile.id} would both be named "
                f"{profile.name!r}; names must be unique",
                field,
            )
        seen[folded] = profile.id
    return updated


def is_placeholder(override: SegmentOverride, profile: SegmentProfile) -> bool:
    """The words an earlier template wrote for a segment nobody had described yet."""
    return override.description == f"{LEGACY_PLACEHOLDER}{profile.auto_name}"


def _resolve(key: int | str, profiles: list[SegmentProfile], origin: str, where: str) -> int:
    if isinstance(key, int) or key.strip().isdigit():
        segment = int(key)
        if any(p.id == segment for p in profiles):
            return segment
        raise NamesError(
            f"{origin}: segment {segment} does not exist; the model has segments "
            f"{describe_ids([p.id for p in profiles])}",
            f"{where}.id" if where.endswith("]") else where,
        )
    for profile in profiles:
        if key in (profile.name, profile.auto_name):
            return profile.id
    known = ", ".join(repr(p.name) for p in profiles)
    raise NamesError(f"{origin}: no segment is named {key!r}; the segments are {known}", where)
