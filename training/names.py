"""Segment names chosen by people: a small YAML or JSON file that overrides the automatic ones.

```yaml
segments:
  0:                                   # by segment id ...
    name: Budget-conscious regulars
    description: Low income, shop often, spend little per visit.
    action: Loyalty points on everyday items.
  High income, low spending:           # ... or by the automatic name
    name: Cautious affluent
```

The automatic name is always kept beside the chosen one (``auto_name``), and names stay unique.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from segmentation.metadata import SegmentProfile, describe_ids

# Earlier templates filled a missing description with this and the automatic name; applied
# unedited, it would have been published as if a person had written it.
LEGACY_PLACEHOLDER = "Automatic name: "
_TEMPLATE_HINTS = {
    "description": "who these customers are, in a sentence",
    "action": "e.g. a campaign for this segment",
}


class NamesError(Exception):
    """The names file cannot be read or applied; the message says why."""


class SegmentOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    action: str | None = Field(default=None, max_length=2000)

    @field_validator("name", "description", "action")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        stripped = value.strip()
        if not stripped:
            raise ValueError("must not be blank")
        return stripped


class NamesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: dict[int | str, SegmentOverride]


def load_names(path: Path) -> NamesFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NamesError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NamesError(f"{path}: cannot read the file: {exc}") from None
    is_json = path.suffix.lower() == ".json"
    try:
        raw = json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise NamesError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {detail}") from None
    try:
        return NamesFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise NamesError(f"{path}: {where}: {first['msg']}") from None


def apply_names(
    profiles: list[SegmentProfile], names: NamesFile, origin: str
) -> list[SegmentProfile]:
    """Profiles with the overrides applied; refuses unknown segments and duplicate names."""
    by_key: dict[int, SegmentOverride] = {}
    for key, override in names.segments.items():
        segment = _resolve(key, profiles, origin)
        if segment in by_key:
            raise NamesError(f"{origin}: segment {segment} is named more than once")
        by_key[segment] = override
    updated = []
    for profile in profiles:
        chosen = by_key.get(profile.id)
        if chosen is None:
            updated.append(profile)
            continue
        if is_placeholder(chosen, profile):
            chosen = chosen.model_copy(update={"description": None})
        changes = {
            field: value for field, value in chosen.model_dump().items() if value is not None
        }
        updated.append(profile.model_copy(update=changes))
    seen: dict[str, int] = {}
    for profile in updated:
        folded = profile.name.casefold()
        if folded in seen:
            raise NamesError(
                f"{origin}: segments {seen[folded]} and {profile.id} would both be named "
                f"{profile.name!r}; names must be unique"
            )
        seen[folded] = profile.id
    return updated


def names_template(profiles: list[SegmentProfile]) -> str:
    """A names file listing every segment with its current words, ready to edit.

    What nobody has written yet is ``null`` with a hint in a comment, never placeholder text: an
    untouched template applied changes nothing.
    """
    document = {
        "segments": {
            p.id: {"name": p.name, "description": p.description or "", "action": p.action or ""}
            for p in profiles
        }
    }
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    for field, hint in _TEMPLATE_HINTS.items():
        text = text.replace(f" {field}: ''\n", f" {field}: null  # {hint}\n")
    return text


def is_placeholder(override: SegmentOverride, profile: SegmentProfile) -> bool:
    """The words an earlier template wrote for a segment nobody had described yet."""
    return override.description == f"{LEGACY_PLACEHOLDER}{profile.auto_name}"


def _resolve(key: int | str, profiles: list[SegmentProfile], origin: str) -> int:
    if isinstance(key, int) or key.strip().isdigit():
        segment = int(key)
        if any(p.id == segment for p in profiles):
            return segment
        raise NamesError(
            f"{origin}: segment {segment} does not exist; the model has segments "
            f"{describe_ids([p.id for p in profiles])}"
        )
    for profile in profiles:
        if key in (profile.name, profile.auto_name):
            return profile.id
    known = ", ".join(repr(p.name) for p in profiles)
    raise NamesError(f"{origin}: no segment is named {key!r}; the segments are {known}")
