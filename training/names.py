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

The same words may come as a list of entries with their ``id`` (``segments: [{id: 0, name:
...}]``), as the web page sends them. What they mean and how they apply is
``segmentation.names``, shared with the service; this module reads files and writes templates.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from segmentation.excerpts import validation_message
from segmentation.metadata import SegmentProfile
from segmentation.names import (
    LEGACY_PLACEHOLDER,
    NamesError,
    NamesFile,
    SegmentOverride,
    apply_names,
    error_location,
    is_placeholder,
)

__all__ = [
    "LEGACY_PLACEHOLDER",
    "NamesError",
    "NamesFile",
    "SegmentOverride",
    "apply_names",
    "is_placeholder",
    "load_names",
    "names_template",
]

_TEMPLATE_HINTS = {
    "description": "who these customers are, in a sentence",
    "action": "e.g. a campaign for this segment",
}


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
        where = ".".join(str(p) for p in error_location(first["loc"])) or "(top level)"
        raise NamesError(f"{path}: {where}: {validation_message(first)}") from None


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
