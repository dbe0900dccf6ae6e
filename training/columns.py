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
  accepted; a negative age or a typo three orders of magnitude out is not (on a ``log1p``
  feature's log scale, twice as far reaches (1 + max)² / (1 + min) - 1: about the square of the
  largest value when the smallest is near 0).
- **Levels.** Not declared: every distinct value seen (trimmed; letter case folded to the most
  common spelling), in alphabetical order.

The rules read a column only through :class:`ColumnFacts` (its counts, the minimum, maximum and
distinct count of its numbers, each value's count), which pandas computes here and Spark over
every row in ``training.spark``, so both engines derive the same schema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from segmentation.schema import (
    ID_COLUMN,
    MALL_PRESET,
    MAX_INFERRED_LEVELS,
    CategoricalFeature,
    FeatureSchema,
    SchemaError,
    check_document_keys,
    preset,
    read_schema_document,
    schema_from_document,
    with_kind,
)
from segmentation.sources import MISSING_WORDS
from segmentation.validation import as_text

NUMERIC_SHARE = 0.9
# A feature with at least this share of numbers, but less than NUMERIC_SHARE, is refused as
# neither: its other cells are placeholders more often than levels.
MOSTLY_NUMBERS = 0.5
# Standardising squares a value: beyond about 1e154 float64 overflows, and the scaled column
# becomes NaN or zeros. A derived range is drawn from the values within this bound, so that a
# typo of 1e300 is a row outside the range (named, and dropped by --drop-invalid) instead of a
# crash in the fit.
LARGEST_NUMBER = 1e100
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
    # A schema file's attribute is kept though the data lacks it (a request may carry it); the
    # preset's are the study's columns, which another table has no reason to be asked for.
    absent_attributes_kept: bool = True
    # Columns whose declared levels are the study's (the preset's gender): kept when the data
    # uses them, else the data's. A retailer's age and annual_income pick the preset,
    # and its gender coded F/M/D was refused on every row, as a feature or even unused.
    levels_yield_to_data: frozenset[str] = frozenset()

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
        # A table of a name only gets its kind from the data (a schema file's
        # name = "channel" was read as numbers, and refused).
        declared = list(with_kind(document.get("feature", []), default=None))
        extra = list(with_kind(document.get("attribute", []), default=None))
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
        plan = _choose(
            dumped["features"],
            dumped["attributes"],
            features,
            catalogue.id_column,
            list(catalogue.id_aliases),
            "the classic study's preset",
        )
        categorical = {f.name for f in catalogue.columns if isinstance(f, CategoricalFeature)}
        return replace(
            plan, absent_attributes_kept=False, levels_yield_to_data=frozenset(categorical)
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
    present = [t["name"] for t in (*plan.features, *plan.attributes) if t["name"] in frame]
    return complete_schema_from(plan, {name: PandasColumn(frame[name]) for name in present})


def complete_schema_from(plan: ColumnPlan, columns: Mapping[str, ColumnFacts]) -> FeatureSchema:
    """The same, from what the rules read of each column (``columns``: every feature, and the
    attributes the data has); pandas computes it here, Spark in ``training.spark``. Only what a
    declaration leaves out is asked for."""

    def fitted(table: dict[str, Any]) -> dict[str, Any] | None:
        if table["name"] not in plan.levels_yield_to_data:
            return table
        return _levels_fitted(table, columns[table["name"]])

    features = [
        _complete(fitted(table) or _names_only(table), columns[table["name"]], plan.where)
        for table in plan.features
    ]
    attributes = []
    for table in plan.attributes:
        if table["name"] not in columns:
            if plan.absent_attributes_kept:
                attributes.append(table)
            continue
        declared = fitted(table)
        if declared is not None:  # None: the preset's column, holding one value of its own
            attributes.append(
                _complete(declared, columns[table["name"]], plan.where, attribute=True)
            )
    attributes = [t for t in attributes if _is_complete(t)]
    return schema_from_document(
        {
            "feature": features,
            "attribute": attributes,
            "id_column": plan.id_column,
            "id_aliases": plan.id_aliases,
        },
        plan.where,
    )


def _levels_fitted(table: dict[str, Any], column: ColumnFacts) -> dict[str, Any] | None:
    """``table`` as declared when the column uses its levels (any letter case; its other values
    are then bad rows, a typo such as 'Femal') or is empty; else by its names only, its kind and
    levels the data's (a coding of its own, F/M/D); None when that is a single value (all 'F':
    as an attribute it describes nothing, and the study's levels refused every row)."""
    declared = {str(level).strip().casefold() for level in table.get("levels", ())}
    values = {value.strip().casefold() for value, _ in column.spellings().counts}
    if not values or values & declared:
        return table
    return _names_only(table) if len(values) > 1 else None


def _names_only(table: dict[str, Any]) -> dict[str, Any]:
    return {key: table[key] for key in ("name", "aliases") if key in table}


def needs_data(table: Mapping[str, Any]) -> bool:
    """Whether a declaration leaves out something the rules derive from the data."""
    return not _is_complete(table)


def _is_complete(table: Mapping[str, Any]) -> bool:
    if table.get("kind") == "numeric":
        return "minimum" in table and "maximum" in table
    return table.get("kind") == "categorical" and "levels" in table


@dataclass(frozen=True)
class Numbers:
    """The finite numbers of a column, as the rules read them."""

    count: int
    minimum: float
    maximum: float
    whole: bool  # every one a whole number
    distinct: int

    @classmethod
    def of(cls, values: np.ndarray) -> Numbers:
        """Every finite value counts; the range is that of those within ``LARGEST_NUMBER``."""
        finite = values[np.isfinite(values)]
        ordinary = finite[np.abs(finite) <= LARGEST_NUMBER]
        if not len(ordinary):
            return cls(count=0, minimum=math.nan, maximum=math.nan, whole=True, distinct=0)
        return cls(
            count=len(finite),
            minimum=float(ordinary.min()),
            maximum=float(ordinary.max()),
            whole=bool(np.all(np.mod(finite, 1) == 0)),
            distinct=len(np.unique(finite)),
        )


@dataclass(frozen=True)
class Spellings:
    """A column's trimmed, non-blank values and how often each occurs."""

    counts: Sequence[tuple[str, int]]  # most common first
    distinct: int  # how many different values; more than ``len(counts)`` when cut short
    cells: int  # cells that are not null

    @property
    def complete(self) -> bool:
        return len(self.counts) == self.distinct


Storage = Literal["boolean", "number", "text"]


class ColumnFacts(Protocol):
    """What the rules read of one column: how it is stored, how many of its cells are text that
    is not blank (nor, on a single machine, a word for "no value" such as 'NA'), its numbers (a
    text column's: the cells that parse) and its values."""

    @property
    def storage(self) -> Storage: ...

    @property
    def texts(self) -> int: ...

    def numbers(self) -> Numbers: ...

    def spellings(self) -> Spellings: ...


class PandasColumn:
    """The facts of a pandas column."""

    def __init__(self, column: pd.Series) -> None:
        self.column = column

    @property
    def storage(self) -> Storage:
        if pd.api.types.is_bool_dtype(self.column):
            return "boolean"
        return "number" if pd.api.types.is_numeric_dtype(self.column) else "text"

    @property
    def texts(self) -> int:
        """Cells of text, not counting a word for "no value" ('NA', 'null': ``MISSING_WORDS``),
        which is missing in a column of numbers and a level in a column of words."""
        text = self._text()
        return int((~text.isin(MISSING_WORDS)).sum())

    def numbers(self) -> Numbers:
        if self.storage == "text":
            values = parse_numbers(self.column)
        else:
            values = pd.to_numeric(self.column, errors="coerce")
        return Numbers.of(values.to_numpy(dtype="float64", na_value=np.nan))

    def spellings(self) -> Spellings:
        counts = self._text().value_counts()
        return Spellings(
            counts=[(str(value), int(count)) for value, count in counts.items()],
            distinct=len(counts),
            cells=int(self.column.notna().sum()),
        )

    def _text(self) -> pd.Series:
        text = self.column.dropna().astype(str).str.strip()
        return text[text != ""]


def parse_numbers(column: pd.Series) -> pd.Series:
    """Text cells as numbers (trimmed), NaN where a cell is not one."""
    parsed: pd.Series = pd.to_numeric(as_text(column).str.strip(), errors="coerce")
    return parsed.astype("float64")


def _complete(
    table: dict[str, Any], column: ColumnFacts, where: str, *, attribute: bool = False
) -> dict[str, Any]:
    name = str(table["name"])
    if table.get("encoding", "one_hot") != "one_hot":
        raise SchemaError(
            f"{where}: {name}: encoding {table['encoding']!r} only reads bundles from before "
            "the feature schema; training one-hot encodes categorical features (leave it out)"
        )
    kind = table.get("kind") or infer_kind(column, name, attribute=attribute)
    completed = {**table, "kind": kind}
    if kind == "numeric":
        if "minimum" not in table or "maximum" not in table:
            numbers = column.numbers()
            if not numbers.count:
                raise SchemaError(f"column {name!r}: no number to derive its range from")
            if not attribute and numbers.minimum == numbers.maximum:
                raise SchemaError(
                    f"column {name!r} has a single value ({numbers.minimum:g}) in {where}: it "
                    "cannot separate customers, so leave it out of --features"
                )
            low, high = derived_range(numbers, table.get("transform"))
            completed.setdefault("minimum", low)
            completed.setdefault("maximum", high)
    elif "levels" not in table:
        spellings = column.spellings()
        levels = levels_from_counts(spellings.counts)
        if not attribute:
            count = len(levels) if spellings.complete else spellings.distinct
            _check_levels(name, levels, count, spellings.cells, where)
        elif not spellings.complete:
            raise SchemaError(
                f"column {name!r} has {spellings.distinct:,} different values, too many to list "
                "as its levels: declare them in --schema, or leave the column out"
            )
        completed["levels"] = levels
    return completed


def infer_kind(column: ColumnFacts, name: str, *, attribute: bool = False) -> str:
    if column.storage == "boolean":
        return "categorical"
    if column.storage == "number":
        _refuse_numeric_identifier(column.numbers(), name)
        return "numeric"
    numbers = column.numbers()
    share = numbers.count / column.texts if column.texts else 0.0
    if share >= NUMERIC_SHARE:
        _refuse_numeric_identifier(numbers, name)
        return "numeric"
    if share >= MOSTLY_NUMBERS and not attribute:
        _refuse_mostly_numbers(column, name, share)
    return "categorical"


def _refuse_mostly_numbers(column: ColumnFacts, name: str, share: float) -> None:
    """A feature whose cells are mostly numbers, with placeholders ('-', 'unknown') among them,
    became categorical without a word: '12' and '13' as unrelated levels, and a service that
    refuses any count it did not see in training."""
    others = [
        text
        for text, _ in column.spellings().counts
        if not _is_number(text) and text not in MISSING_WORDS
    ]
    shown = ", ".join(repr(text) for text in others[:3])
    raise SchemaError(
        f"column {name!r} is mostly numbers ({share:.0%} of its filled cells), but not all "
        f"of them (for example {shown}): blank the cells that are not numbers (a blank cell is "
        'missing), or declare the column in --schema, with kind = "numeric" to refuse those '
        "rows (--drop-invalid drops them) or with its levels to make it categorical"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _refuse_numeric_identifier(numbers: Numbers, name: str) -> None:
    if numbers.count < ID_MIN_ROWS or not numbers.whole or numbers.distinct != numbers.count:
        return
    run = numbers.maximum - numbers.minimum + 1 == numbers.count
    if run or re.search(r"(^|[_\s])id$", name.lower()):
        raise SchemaError(
            f"column {name!r} looks like an identifier (every value is a different whole "
            f"number{', without gaps' if run else ''}): it says nothing about the customer, so "
            "leave it out of --features (map it to customer_id with --columns to keep it as the "
            "id), or declare it numeric in --schema if it really is a measure"
        )


def observed_levels(column: pd.Series) -> list[str]:
    return levels_from_counts(PandasColumn(column).spellings().counts)


def levels_from_counts(counts: Iterable[tuple[str, int]]) -> list[str]:
    """Every value seen, letter case folded to its most common spelling (the first given of
    equally common ones), in alphabetical order."""
    spelling: dict[str, tuple[str, int]] = {}
    for text, count in counts:
        folded = text.casefold()
        if folded not in spelling or count > spelling[folded][1]:
            spelling[folded] = (text, count)
    return sorted((text for text, _ in spelling.values()), key=str.casefold)


def _check_levels(name: str, levels: list[str], count: int, rows: int, where: str) -> None:
    """``levels`` as derived (all of them, or some when ``count`` are too many to list)."""
    if count >= ID_MIN_ROWS and count == rows:
        raise SchemaError(
            f"column {name!r} looks like an identifier (every one of its {rows} values is "
            "different): leave it out of --features, or map it to customer_id with --columns"
        )
    if count > MAX_INFERRED_LEVELS:
        raise SchemaError(
            f"column {name!r} has {count} different values, more than the "
            f"{MAX_INFERRED_LEVELS} a segment attribute can have ({', '.join(levels[:5])}, ...): "
            "group them into fewer levels, or declare it with its levels in --schema"
        )
    if count < 2:
        only = f" ({levels[0]!r})" if levels else ""
        raise SchemaError(
            f"column {name!r} has a single value{only} in {where}: it cannot separate "
            "customers, so leave it out of --features"
        )


def derived_range(numbers: Numbers, transform: str | None) -> tuple[float, float]:
    """The training range widened by its own width on each side (log scale for log1p), not
    below 0 when no training value is; whole numbers where the data's are."""
    low, high = numbers.minimum, numbers.maximum
    if transform == "log1p":
        width = math.log1p(high) - math.log1p(max(low, 0.0))
        lower = max(low - (high - low), -0.999999)
        upper = math.expm1(math.log1p(high) + width)
    else:
        lower, upper = low - (high - low), high + (high - low)
    if low >= 0:
        lower = max(lower, 0.0)
    if numbers.whole:
        # Rounded first: expm1(log1p(x) * 2) can land a hair above a whole number.
        lower, upper = math.floor(round(lower, 9)), math.ceil(round(upper, 9))
    return lower, upper
