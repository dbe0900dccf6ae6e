"""The feature schema: which columns a model reads, of which kind, and which values are valid.

Every bundle carries its schema (``feature_schema`` in ``metadata.json``), and every part that
touches customer columns reads it: training validates files against it, the service builds its
request model and OpenAPI from it, scoring checks tables with it, drift bins by it. No other
module names a feature. The classic study's columns are one shipped schema, a preset
(``segmentation/presets/mall.toml``), not code.

Numbers enter the model as they are or through ``log1p`` (for skewed counts and money); a
categorical feature enters as one 0/1 indicator column per level (``name=level``), so two
customers who differ in it are equally far apart whatever its levels (``docs/own-data.md``). Bundles
written before the schema existed encoded gender as one 0/1 column: ``first_level`` keeps them.

This module needs only pydantic, like the rest of the bundle contract.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segmentation.excerpts import header_hint, quoted, validation_message

ID_COLUMN: Final = "customer_id"
# Separates a categorical feature from its level in the names of the model's input columns.
LEVEL_SEPARATOR: Final = "="
# A categorical feature with more levels than this is refused when its kind is inferred: it is
# more likely an identifier or free text than a segment attribute. A schema file may declare more.
MAX_INFERRED_LEVELS: Final = 30
# The keys of POST /segment's JSON layouts: a column may not be called so.
RESERVED_NAMES: Final = frozenset({"customers", "columns", "data", "index"})


class SchemaError(ValueError):
    """A schema, schema file or feature list cannot be used; the message says where and why."""


class ColumnsError(ValueError):
    """A table's headers cannot give the schema's columns: a feature is missing, or one column
    comes under two names. ``problems`` pairs each header position (None: the whole table)
    with what is wrong there."""

    def __init__(self, problems: list[tuple[int | None, str]]) -> None:
        super().__init__(problems[0][1])
        self.problems = problems


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _FeatureBase(_Frozen):
    name: str = Field(min_length=1, max_length=128, description="Column name in requests.")
    description: str = Field(default="", description="What the feature means, for people.")
    aliases: tuple[str, ...] = Field(
        default=(), description="Other column names accepted for it (a CRM export's headers)."
    )

    @model_validator(mode="after")
    def _plain_name(self) -> Any:
        for text in (self.name, *self.aliases):
            if text != text.strip() or not text or LEVEL_SEPARATOR in text:
                raise ValueError(f"column name {text!r} must be trimmed, non-empty and have no '='")
        return self


class NumericFeature(_FeatureBase):
    kind: Literal["numeric"] = "numeric"
    minimum: float = Field(description="Smallest valid value (inclusive).")
    maximum: float = Field(description="Largest valid value (inclusive).")
    unit: str = Field(default="", description="Unit of the values, for people ('years', 'EUR').")
    transform: Literal["log1p"] | None = Field(
        default=None, description="'log1p': the model reads log(1 + value) (skewed counts, money)."
    )
    words: tuple[str, str, str] | None = Field(
        default=None,
        description="How segment names say low, average and high (default 'low <name>', ...).",
    )
    contrast: tuple[str, str] | None = Field(
        default=None,
        description="How names tell two segments apart on it (default 'lower <name>', ...).",
    )

    @model_validator(mode="after")
    def _valid_range(self) -> NumericFeature:
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum)):
            raise ValueError(f"{self.name}: the range must be finite")
        if self.minimum > self.maximum:
            raise ValueError(f"{self.name}: minimum {self.minimum} is above maximum {self.maximum}")
        if self.transform == "log1p" and self.minimum <= -1:
            raise ValueError(f"{self.name}: log1p needs a minimum above -1")
        return self

    def describe_range(self) -> str:
        return f"{format_number(self.minimum)} to {format_number(self.maximum)}"


class CategoricalFeature(_FeatureBase):
    kind: Literal["categorical"] = "categorical"
    levels: tuple[str, ...] = Field(
        min_length=2, description="The valid values, in display order (any letter case is read)."
    )
    encoding: Literal["one_hot", "first_level"] = Field(
        default="one_hot",
        description="'one_hot': one 0/1 indicator column per level. 'first_level': one 0/1 "
        "column, 1 for the first level (bundles from before the schema, gender only).",
    )

    @model_validator(mode="after")
    def _distinct_levels(self) -> CategoricalFeature:
        folded = [level.strip().casefold() for level in self.levels]
        if any(not level for level in folded):
            raise ValueError(f"{self.name}: a level is blank")
        if len(set(folded)) != len(folded):
            raise ValueError(f"{self.name}: levels repeat (letter case is not a difference)")
        if self.encoding == "first_level" and len(self.levels) != 2:
            raise ValueError(f"{self.name}: 'first_level' encodes two levels only")
        return self

    def level_of(self) -> dict[str, str]:
        """Case-folded, trimmed spelling -> the level as declared."""
        return self._level_of

    @cached_property
    def _level_of(self) -> dict[str, str]:
        spelled = {level.strip().casefold(): level for level in self.levels}
        return {**_number_spellings(spelled), **spelled}

    @cached_property
    def code_of(self) -> dict[str, int]:
        """The level as declared -> its code (position), for the model's indicator columns."""
        return {level: code for code, level in enumerate(self.levels)}

    def describe_levels(self) -> str:
        return ", ".join(repr(level) for level in self.levels)

    def encoded_columns(self) -> list[str]:
        if self.encoding == "first_level":
            return [self.name]
        return [f"{self.name}{LEVEL_SEPARATOR}{level}" for level in self.levels]


def _number_spellings(spelled: Mapping[str, str]) -> dict[str, str]:
    """Other spellings of levels that are numbers: a whole-number level read as a float ('20.0'
    for '20': a pandas or Arrow column of codes with a gap is float) and a flag's 0 and 1 for
    False and True (how a CRM and SQLite store one). A declared spelling always wins."""
    others: dict[str, str] = {}
    for folded, level in spelled.items():
        if re.fullmatch(r"-?[1-9][0-9]*|0", folded):
            others[f"{folded}.0"] = level
    if set(spelled) == {"false", "true"}:
        others |= {"0": spelled["false"], "1": spelled["true"]}
        others |= {"0.0": spelled["false"], "1.0": spelled["true"]}
    return others


Feature = Annotated[NumericFeature | CategoricalFeature, Field(discriminator="kind")]


class FeatureSchema(_Frozen):
    """The columns of a model: the features it assigns on, and the attributes it accepts."""

    features: tuple[Feature, ...] = Field(
        min_length=1, description="What the model assigns customers on, in its column order."
    )
    attributes: tuple[Feature, ...] = Field(
        default=(),
        description="Other columns a request may carry: checked like features when present, "
        "echoed, and described per segment, but not used to assign.",
    )
    id_column: Literal["customer_id"] = Field(
        default=ID_COLUMN,
        description="The customer identifier's column, under this name in every answer.",
    )
    id_aliases: tuple[str, ...] = Field(
        default=(), description="Other names accepted for the id column ('CustomerID')."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> FeatureSchema:
        reserved = sorted(RESERVED_NAMES.intersection(self.accepted_names()))
        if reserved:
            raise ValueError(
                f"column name {reserved[0]!r} is reserved: POST /segment bodies use "
                f"{', '.join(sorted(RESERVED_NAMES))} for their layout; rename the column with "
                "--columns"
            )
        seen: set[str] = set()
        for text in self.accepted_names():
            if text in seen:
                raise ValueError(f"column name {text!r} is used twice in the schema")
            seen.add(text)
        return self

    # -- names ---------------------------------------------------------------------------------

    # Derived once per schema (a request reads them): cached_property writes to the instance's
    # dict directly, which a frozen model allows.
    @cached_property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @cached_property
    def columns(self) -> tuple[NumericFeature | CategoricalFeature, ...]:
        """Features, then attributes: every column the schema checks."""
        return (*self.features, *self.attributes)

    @cached_property
    def checked_columns(self) -> tuple[tuple[str, Any, bool], ...]:
        """(name, feature, is it a feature rather than an attribute) of every column, for the
        per-request check."""
        return tuple((f.name, f, f.name in self._feature_set) for f in self.columns)

    @cached_property
    def request_names(self) -> tuple[str, ...]:
        """The id column, then every column the schema checks: what a request may carry."""
        return (self.id_column, *(f.name for f in self.columns))

    @cached_property
    def width(self) -> int:
        """Number of the model's input columns."""
        return len(self.encoded_columns())

    def with_source_names(self, renamed: Mapping[str, str]) -> FeatureSchema:
        """The schema that also accepts the names a source gave its columns (``--columns
        'Tenure=tenure_months'``, source name -> the schema's), as aliases: the export a model
        was trained from can then be scored and posted as it is. A source name the schema
        already accepts, or one a request body reserves, is left out."""
        taken = set(self.accepted_names()) | RESERVED_NAMES
        added: dict[str, list[str]] = {}
        for source, name in renamed.items():
            if not source or source in taken or source.strip() != source:
                continue
            taken.add(source)
            added.setdefault(name, []).append(source)

        # Validated anew (not model_copy, which would keep the cached name index).
        document = self.model_dump()
        for column in (*document["features"], *document["attributes"]):
            column["aliases"] = [*column["aliases"], *added.get(column["name"], ())]
        document["id_aliases"] = [*self.id_aliases, *added.get(self.id_column, ())]
        return type(self).model_validate(document)

    def accepted_names(self) -> list[str]:
        names = [self.id_column, *self.id_aliases]
        for feature in self.columns:
            names += [feature.name, *feature.aliases]
        return names

    @cached_property
    def _name_index(self) -> dict[str, str]:
        mapping: dict[str, str] = dict.fromkeys((self.id_column, *self.id_aliases), ID_COLUMN)
        for feature in self.columns:
            mapping.update(dict.fromkeys((feature.name, *feature.aliases), feature.name))
        return mapping

    def name_of(self) -> dict[str, str]:
        """Every accepted column name (aliases included) -> the schema's name for it."""
        return self._name_index

    def match_headers(self, headers: Sequence[str]) -> tuple[dict[str, int], list[int]]:
        """Which header carries each of the schema's columns (headers trimmed; aliases read),
        and the positions of headers the schema does not know.

        Every table of customers (a CSV or Arrow body, the split layout's columns, a file, a
        database table, a Spark DataFrame) is read through this one rule. Raises
        :class:`ColumnsError` when a column comes under two headers (its name and an alias, or
        twice) or a feature is missing.
        """
        index = self._name_index
        found: dict[str, int] = {}
        unknown: list[int] = []
        problems: list[tuple[int | None, str]] = []
        for position, header in enumerate(headers):
            name = index.get(str(header).strip())
            if name is None:
                unknown.append(position)
            elif name in found:
                first = str(headers[found[name]])
                problems.append(
                    (
                        position,
                        f"columns {quoted(first)} and {quoted(str(header))} both give {name!r}; "
                        "send one",
                    )
                )
            else:
                found[name] = position
        if problems:
            raise ColumnsError(problems)
        missing = [name for name in self.names if name not in found]
        if missing:
            hint = header_hint(missing[0], [str(h) for h in headers])
            message = f"missing column {missing[0]!r}: the model needs {', '.join(self.names)}"
            raise ColumnsError([(None, f"{message} ({hint})" if hint else message)])
        return found, unknown

    def feature(self, name: str) -> NumericFeature | CategoricalFeature:
        for feature in self.columns:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def is_feature(self, name: str) -> bool:
        return name in self._feature_set

    @cached_property
    def _feature_set(self) -> frozenset[str]:
        return frozenset(self.names)

    def encoded_columns(self) -> list[str]:
        """The model's input columns, in order: a number per numeric feature, and the
        indicator columns of each categorical one."""
        columns: list[str] = []
        for feature in self.features:
            if isinstance(feature, NumericFeature):
                columns.append(feature.name)
            else:
                columns += feature.encoded_columns()
        return columns

    def owner_of_columns(self) -> list[str]:
        """For each input column, the feature it encodes (for per-feature explanations)."""
        owners: list[str] = []
        for feature in self.features:
            width = 1 if isinstance(feature, NumericFeature) else len(feature.encoded_columns())
            owners += [feature.name] * width
        return owners

    def example(self) -> dict[str, Any]:
        """One valid customer, for API docs: each feature's middle value or first level."""
        return {feature.name: example_value(feature) for feature in self.features}

    # -- building ------------------------------------------------------------------------------

    def select(self, names: Sequence[str]) -> FeatureSchema:
        """The schema of a model on ``names`` (a catalogue's features, chosen): those features in
        that order, and every other column of the catalogue as an attribute."""
        index = self.name_of()
        chosen = []
        for text in names:
            name = index.get(text)
            if name is None or name == self.id_column:
                known = ", ".join(f.name for f in self.columns)
                raise SchemaError(f"unknown feature {text!r}; choose from {known}")
            chosen.append(name)
        repeated = sorted({n for n in chosen if chosen.count(n) > 1})
        if repeated:
            raise SchemaError(f"feature {repeated[0]!r} is listed more than once")
        return self.replace(
            features=tuple(self.feature(n) for n in chosen),
            attributes=tuple(f for f in self.columns if f.name not in chosen),
        )

    def replace(self, **fields: Any) -> FeatureSchema:
        """A validated copy with ``fields`` changed (not ``model_copy``, which would carry the
        cached properties of this schema over to the new one)."""
        return FeatureSchema(
            **{**{name: getattr(self, name) for name in type(self).model_fields}, **fields}
        )


def example_value(feature: NumericFeature | CategoricalFeature) -> float | str:
    if isinstance(feature, CategoricalFeature):
        return feature.levels[0]
    middle = (feature.minimum + feature.maximum) / 2
    return round(middle) if abs(middle) >= 1 else middle


def format_number(value: float) -> str:
    """Whole numbers with thousands separators up to 1e15, and others from a million with two
    decimals; the rest as ``:g`` (a declared maximum of 1e300 is not written out in 301
    digits)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if 1e6 <= abs(value) < 1e15:
        # Written out: a derived log1p maximum read "2.67335e+07" to a marketer.
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:g}"


def parse_feature_list(text: str) -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")``; an empty list or a repeated name is refused."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise SchemaError("the feature list is empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SchemaError(f"feature {repeated[0]!r} is listed more than once")
    return names


# -- schema files --------------------------------------------------------------------------------

PRESETS_DIR: Final = Path(__file__).parent / "presets"


def load_schema_file(path: Path) -> FeatureSchema:
    """A complete schema from a TOML file (``docs/own-data.md`` shows the format)."""
    return schema_from_document(read_schema_document(path), str(path))


def read_schema_document(path: Path) -> dict[str, Any]:
    """A schema file's tables as they are, before any range or level is derived from data."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{path}: not valid TOML: {exc}") from None


def schema_from_document(document: Mapping[str, Any], where: str) -> FeatureSchema:
    """A schema from ``[[feature]]`` tables (and optionally ``[[attribute]]`` tables,
    ``id_column`` and ``id_aliases``)."""
    check_document_keys(document, where)
    try:
        return FeatureSchema.model_validate(
            {
                "features": list(with_kind(document.get("feature", []))),
                "attributes": list(with_kind(document.get("attribute", []))),
                **{key: document[key] for key in ("id_column", "id_aliases") if key in document},
            }
        )
    except ValidationError as exc:
        raise SchemaError(f"{where}: {describe_validation_error(exc)}") from None


def check_document_keys(document: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(document) - {"feature", "attribute", "id_column", "id_aliases"})
    if unknown:
        raise SchemaError(
            f"{where}: unknown key {unknown[0]!r}; a schema file has [[feature]] tables and "
            "optionally [[attribute]] tables and id_aliases (other names of customer_id)"
        )


# What only a number has: a table that declares one of these is numeric.
NUMERIC_KEYS = frozenset({"minimum", "maximum", "transform", "unit", "words", "contrast"})
# What only a column of levels has: a table that declares one of these is categorical.
CATEGORICAL_KEYS = frozenset({"levels", "encoding"})


def with_kind(tables: Iterable[Any], default: str | None = "numeric") -> Iterable[Any]:
    """Each table with the kind its keys declare, unless it says: levels or an encoding make it
    categorical, a range, unit or transform numeric; any other table gets ``default``. Training
    passes None, leaving the kind of a table of a name for the data to say, as for
    ``--features``."""
    for table in tables:
        if not isinstance(table, dict) or "kind" in table:
            yield table
            continue
        declared = NUMERIC_KEYS & set(table)
        kind = (
            "categorical" if CATEGORICAL_KEYS & set(table) else "numeric" if declared else default
        )
        yield table if kind is None else {"kind": kind, **table}


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("numeric", "categorical"))
    message = validation_message(first)
    return f"{where}: {message}" if where else message


def preset(name: str) -> FeatureSchema:
    """A shipped schema by name (``mall``: the classic study's columns)."""
    path = PRESETS_DIR / f"{name}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
        raise SchemaError(f"no preset {name!r}; the shipped presets are {', '.join(shipped)}")
    return load_schema_file(path)


MALL_PRESET: Final = "mall"
