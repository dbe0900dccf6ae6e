"""Step 1 of training, first half: decide what each chosen column is, before any row is checked.

A model's schema comes from one of three places, each as *plans* (a feature's declaration,
possibly partial) completed from the training data by one rule:

- a schema file (``--schema features.toml``): what it declares is kept, what it leaves out (a
  range, the levels, even the kind) is derived;
- the classic study's preset, when every chosen column is one of its columns (the study's table
  and its names keep working exactly as before);
- nothing: each column's kind is inferred.

The rules (also in ``docs/own-data.md``):

- **Kind.** A column read as numbers is numeric, and so is a text column of which at least 90%
  of the non-blank cells are numbers (the rest are reported as bad rows). Booleans and other
  text are categorical.
- **Refused.** An identifier (integers all different that run without a gap, or all different
  with a name ending in "id"; text all different), a categorical column with more than
  ``MAX_INFERRED_LEVELS`` levels, or with a single level: each says why and what to do instead.
- **Range.** Not declared: the training values' range widened by its own width on each side
  (on the log scale for a ``log1p`` feature), and never below 0 when every training value is at
  least 0. A new customer up to twice as far out as the most extreme training customer is still
  accepted; a negative age or a typo three orders of magnitude out is not.
- **Levels.** Not declared: every distinct value seen (trimmed; letter case folded to the most
  common spelling), in alphabetical order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.schema import (
    ID_COLUMN,
    MALL_PRESET,
    MAX_INFERRED_LEVELS,
    FeatureSchema,
    SchemaError,
    check_document_keys,
    preset,
    read_schema_document,
    schema_from_document,
    with_kind,
)

NUMERIC_SHARE = 0.9
# Below this many rows nothing is called an identifier: a tiny table is all different anyway.
ID_MIN_ROWS = 20


@dataclass(frozen=True)
class ColumnPlan:
    """What training will read, before the data is seen."""

    features: list[dict[str, Any]]  # one declaration per chosen feature, in order
    attributes: list[dict[str, Any]]  # other known columns, read when present
    id_column: str
    id_aliases: list[str]
    where: str  # names the plan's origin in messages

    @property
    def feature_names(self) -> list[str]:
        return [str(f["name"]) for f in self.features]

    def name_of(self) -> dict[str, str]:
        """Every accepted header (names and aliases) -> the plan's name for it."""
        mapping = dict.fromkeys([self.id_column, *self.id_aliases], self.id_column)
        for table in (*self.features, *self.attributes):
            for text in (table["name"], *table.get("aliases", ())):
                mapping[str(text)] = str(table["name"])
        return mapping

    def text_columns(self) -> set[str]:
        """Columns read as text: declared categorical ones and the id."""
        return {
            str(t["name"])
            for t in (*self.features, *self.attributes)
            if t.get("kind") == "categorical"
        } | {self.id_column}


def plan_columns(features: Sequence[str] | None, schema_file: Path | None) -> ColumnPlan:
    """The plan for ``--features`` (None: the schema's own) and ``--schema``."""
    if schema_file is not None:
        document = read_schema_document(schema_file)
        where = str(schema_file)
        check_document_keys(document, where)
        declared = list(with_kind(document.get("feature", [])))
        extra = list(with_kind(document.get("attribute", [])))
        _check_tables(declared + extra, where)
        return _choose(
            declared,
            extra,
            features,
            str(document.get("id_column", ID_COLUMN)),
            list(document.get("id_aliases", [])),
            where,
        )
    catalogue = preset(MALL_PRESET)
    known = catalogue.name_of()
    if features is None or all(name in known and known[name] != ID_COLUMN for name in features):
        dumped = catalogue.model_dump(mode="json")
        return _choose(
            dumped["features"],
            dumped["attributes"],
            features,
            catalogue.id_column,
            list(catalogue.id_aliases),
            "the classic study's preset",
        )
    return ColumnPlan(
        features=[{"name": name} for name in _unique(features)],
        attributes=[],
        id_column=ID_COLUMN,
        id_aliases=[],
        where="the data",
    )


def _check_tables(tables: list[Any], where: str) -> None:
    for position, table in enumerate(tables):
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise SchemaError(f"{where}: table {position + 1} needs a name")


def _choose(
    declared: list[dict[str, Any]],
    extra: list[dict[str, Any]],
    features: Sequence[str] | None,
    id_column: str,
    id_aliases: list[str],
    where: str,
) -> ColumnPlan:
    tables = declared + extra
    if features is None:
        chosen = declared
    else:
        index = {}
        for table in tables:
            for text in (table["name"], *table.get("aliases", ())):
                index[str(text)] = table
        unknown = [name for name in features if name not in index]
        if unknown:
            names = ", ".join(str(t["name"]) for t in tables)
            raise SchemaError(f"unknown feature {unknown[0]!r}; {where} has {names}")
        chosen = [index[name] for name in _unique(features)]
    if not chosen:
        raise SchemaError(f"{where} declares no [[feature]]: name the features with --features")
    chosen_names = {id(t) for t in chosen}
    return ColumnPlan(
        features=chosen,
        attributes=[t for t in tables if id(t) not in chosen_names],
        id_column=id_column,
        id_aliases=id_aliases,
        where=where,
    )


def _unique(names: Sequence[str]) -> list[str]:
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise SchemaError(f"feature {repeated[0]!r} is listed more than once")
    return list(names)


def complete_schema(plan: ColumnPlan, frame: pd.DataFrame) -> FeatureSchema:
    """The model's schema: the plan, with each missing kind, range and level list derived from
    the training rows (``frame``, columns under the plan's names)."""
    features = [_complete(table, frame[table["name"]], plan.where) for table in plan.features]
    attributes = [
        _complete(table, frame[table["name"]], plan.where, attribute=True)
        if table["name"] in frame.columns
        else table
        for table in plan.attributes
    ]
    attributes = [t for t in attributes if t is not None and _is_complete(t)]
    return schema_from_document(
        {
            "feature": features,
            "attribute": attributes,
            "id_column": plan.id_column,
            "id_aliases": plan.id_aliases,
        },
        plan.where,
    )


def _is_complete(table: Mapping[str, Any]) -> bool:
    if table.get("kind") == "numeric":
        return "minimum" in table and "maximum" in table
    return table.get("kind") == "categorical" and "levels" in table


def _complete(
    table: dict[str, Any], column: pd.Series, where: str, *, attribute: bool = False
) -> dict[str, Any]:
    name = str(table["name"])
    if table.get("encoding", "one_hot") != "one_hot":
        raise SchemaError(
            f"{where}: {name}: encoding {table['encoding']!r} only reads bundles from before "
            "the feature schema; training one-hot encodes categorical features (leave it out)"
        )
    kind = table.get("kind") or _infer_kind(column, name)
    completed = {**table, "kind": kind}
    if kind == "numeric":
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        numbers = numbers[np.isfinite(numbers)]
        if "minimum" not in table or "maximum" not in table:
            if not len(numbers):
                raise SchemaError(f"column {name!r}: no number to derive its range from")
            if not attribute and numbers.min() == numbers.max():
                raise SchemaError(
                    f"column {name!r} has a single value ({numbers[0]:g}) in {where}: it cannot "
                    "separate customers, so leave it out of --features"
                )
            low, high = derived_range(numbers, table.get("transform"))
            completed.setdefault("minimum", low)
            completed.setdefault("maximum", high)
    elif "levels" not in table:
        levels = observed_levels(column)
        if not attribute:
            _check_levels(name, levels, len(column.dropna()), where)
        completed["levels"] = levels
    return completed


def _infer_kind(column: pd.Series, name: str) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "categorical"
    if pd.api.types.is_numeric_dtype(column):
        _refuse_numeric_identifier(column, name)
        return "numeric"
    text = column.dropna().astype(str).str.strip()
    text = text[text != ""]
    numbers = pd.to_numeric(text, errors="coerce")
    if len(text) and numbers.notna().mean() >= NUMERIC_SHARE:
        _refuse_numeric_identifier(numbers.dropna(), name)
        return "numeric"
    return "categorical"


def _refuse_numeric_identifier(column: pd.Series, name: str) -> None:
    values = column.dropna().to_numpy(dtype="float64")
    if len(values) < ID_MIN_ROWS or not np.all(np.mod(values, 1) == 0):
        return
    distinct = len(np.unique(values))
    if distinct != len(values):
        return
    run = values.max() - values.min() + 1 == len(values)
    if run or re.search(r"(^|[_\s])id$", name.lower()):
        raise SchemaError(
            f"column {name!r} looks like an identifier (every value is a different whole "
            f"number{', without gaps' if run else ''}): it says nothing about the customer, so "
            "leave it out of --features (map it to customer_id with --columns to keep it as the "
            "id), or declare it numeric in --schema if it really is a measure"
        )


def observed_levels(column: pd.Series) -> list[str]:
    text = column.dropna().astype(str).str.strip()
    text = text[text != ""]
    spellings = text.groupby(text.str.casefold()).agg(lambda s: s.value_counts().index[0])
    return sorted(spellings.tolist(), key=str.casefold)


def _check_levels(name: str, levels: list[str], rows: int, where: str) -> None:
    if len(levels) >= ID_MIN_ROWS and len(levels) == rows:
        raise SchemaError(
            f"column {name!r} looks like an identifier (every one of its {rows} values is "
            "different): leave it out of --features, or map it to customer_id with --columns"
        )
    if len(levels) > MAX_INFERRED_LEVELS:
        raise SchemaError(
            f"column {name!r} has {len(levels)} different values, more than the "
            f"{MAX_INFERRED_LEVELS} a segment attribute can have ({', '.join(levels[:5])}, ...): "
            "group them into fewer levels, or declare it with its levels in --schema"
        )
    if len(levels) < 2:
        only = f" ({levels[0]!r})" if levels else ""
        raise SchemaError(
            f"column {name!r} has a single value{only} in {where}: it cannot separate "
            "customers, so leave it out of --features"
        )


def derived_range(numbers: np.ndarray, transform: str | None) -> tuple[float, float]:
    """The training range widened by its own width on each side (log scale for log1p), not
    below 0 when no training value is; whole numbers where the data's are."""
    low, high = float(numbers.min()), float(numbers.max())
    if transform == "log1p":
        width = math.log1p(high) - math.log1p(max(low, 0.0))
        lower = max(low - (high - low), -0.999999)
        upper = math.expm1(math.log1p(high) + width)
    else:
        lower, upper = low - (high - low), high + (high - low)
    if low >= 0:
        lower = max(lower, 0.0)
    if np.all(np.mod(numbers, 1) == 0):
        # Rounded first: expm1(log1p(x) * 2) can land a hair above a whole number.
        lower, upper = math.floor(round(lower, 9)), math.ceil(round(upper, 9))
    return lower, upper
