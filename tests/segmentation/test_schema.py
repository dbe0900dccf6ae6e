"""The feature schema: the preset, schema files, selection, the model's input columns, and the
schema older bundles are read with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.metadata import legacy_schema
from segmentation.schema import (
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
    SchemaError,
    format_number,
    load_schema_file,
    parse_feature_list,
    preset,
)
from segmentation.validation import check_columns, encode
from tests.schemas import MALL


def test_the_mall_preset_is_the_studys_columns_with_their_headers_as_aliases() -> None:
    assert MALL.names == ["age", "annual_income", "spending_score"]
    assert [f.name for f in MALL.attributes] == ["gender"]
    assert MALL.name_of()["Annual Income (k$)"] == "annual_income"
    assert MALL.name_of()["CustomerID"] == "customer_id"
    age = MALL.feature("age")
    assert isinstance(age, NumericFeature)
    assert (age.minimum, age.maximum, age.unit) == (0, 120, "years")


def test_select_makes_the_chosen_columns_features_and_the_rest_attributes() -> None:
    schema = MALL.select(["Gender", "age"])
    assert schema.names == ["gender", "age"]
    assert [f.name for f in schema.attributes] == ["annual_income", "spending_score"]
    assert schema.encoded_columns() == ["gender=Female", "gender=Male", "age"]
    assert schema.owner_of_columns() == ["gender", "gender", "age"]
    assert schema.width == 3


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["age", "height"], "unknown feature 'height'; choose from age, annual_income"),
        (["age", "Age"], "feature 'age' is listed more than once"),
        (["customer_id"], "unknown feature 'customer_id'"),
    ],
)
def test_select_refuses_unknown_and_repeated_features(names: list[str], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        MALL.select(names)


@pytest.mark.parametrize(("text", "message"), [("", "empty"), ("a, b, a", "'a' is listed")])
def test_feature_lists_are_parsed_strictly(text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_feature_list(text)
    assert parse_feature_list(" a, b ,c") == ("a", "b", "c")


def test_older_bundles_read_gender_as_one_female_column() -> None:
    schema = legacy_schema(["age", "gender"])
    gender = schema.feature("gender")
    assert isinstance(gender, CategoricalFeature)
    assert gender.encoding == "first_level"
    assert schema.encoded_columns() == ["age", "gender"]
    frame = pd.DataFrame({"age": [30, 40], "gender": ["female", "Male"]})
    matrix = check_columns(frame, schema).feature_matrix()
    assert matrix.tolist() == [[30.0, 1.0], [40.0, 0.0]]


def test_log1p_and_one_hot_encode_the_models_input() -> None:
    schema = FeatureSchema(
        features=(
            NumericFeature(name="monetary", minimum=0, maximum=1e6, transform="log1p"),
            CategoricalFeature(name="channel", levels=("online", "store", "both")),
        )
    )
    matrix = encode({"monetary": np.array([0.0, 99.0]), "channel": np.array([2, 0])}, schema)
    np.testing.assert_allclose(matrix, [[0.0, 0, 0, 1], [np.log1p(99.0), 1, 0, 0]])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "features.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_schema_file_declares_kinds_ranges_units_transforms_and_levels(tmp_path: Path) -> None:
    schema = load_schema_file(
        write(
            tmp_path,
            """
id_aliases = ["Client"]

[[feature]]
name = "monetary"
description = "Net spend"
minimum = 0
maximum = 100000
unit = "EUR"
transform = "log1p"

[[feature]]
name = "tier"
levels = ["Bronze", "Silver", "Gold"]
""",
        )
    )
    monetary, tier = schema.features
    assert isinstance(monetary, NumericFeature)
    assert monetary.transform == "log1p"
    assert monetary.unit == "EUR"
    assert monetary.description == "Net spend"
    assert isinstance(tier, CategoricalFeature)
    assert tier.levels == ("Bronze", "Silver", "Gold")
    assert schema.name_of()["Client"] == "customer_id"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[feature]]\nname = 'a'\nminimum = 5\nmaximum = 1\n", "minimum 5.0 is above maximum"),
        ("[[feature]]\nname = 'a'\nlevels = ['x', 'X']\n", "levels repeat"),
        ("[[feature]]\nname = 'a'\nlevels = ['x']\n", "at least 2 items"),
        (
            "[[feature]]\nname = 'a'\nminimum = -5\nmaximum = 1\ntransform = 'log1p'\n",
            "log1p needs a minimum above -1",
        ),
        ("[[feature]]\nname = 'a'\nminimum = 0\nmaximum = 1\nunits = 'x'\n", "units"),
        ("colour = 'red'\n", "unknown key 'colour'"),
        ("[[feature]]\nname = 'a=b'\nminimum = 0\nmaximum = 1\n", "have no '='"),
        ("not toml [", "not valid TOML"),
        (
            "[[feature]]\nname = 'a'\nminimum = 0\nmaximum = 1\n"
            "[[feature]]\nname = 'a'\nminimum = 0\nmaximum = 1\n",
            "'a' is used twice",
        ),
    ],
)
def test_bad_schema_files_are_refused_naming_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(SchemaError, match=message):
        load_schema_file(write(tmp_path, text))


def test_a_missing_schema_file_and_preset_are_named(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="file not found"):
        load_schema_file(tmp_path / "nothing.toml")
    with pytest.raises(SchemaError, match="no preset 'shop'; the shipped presets are mall"):
        preset("shop")


def test_an_invalid_rows_level_code_sets_no_indicator() -> None:
    schema = MALL.select(["gender", "age"])
    matrix = encode({"gender": np.array([0, -1, 1]), "age": np.array([30.0, 31.0, 32.0])}, schema)
    assert matrix[:, :2].tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]


def test_a_sources_own_names_become_aliases_unless_taken_or_reserved() -> None:
    renamed = {
        "Client": "customer_id",
        "Years": "age",
        "Yrs": "age",
        "Income": "annual_income",  # already an alias? no: "Annual Income (k$)" is
        "spending_score": "spending_score",  # its own name
        "Age": "annual_income",  # another column's alias: left out
        "customers": "spending_score",  # a request body's own key: left out
        " Pad": "gender",  # not as a header is written after trimming
        "Sex": "gender",  # an attribute
        "order_date": "order_date",  # not a column of the schema
    }
    schema = MALL.with_source_names(renamed)
    assert schema.id_aliases == (*MALL.id_aliases, "Client")
    aliases = {column.name: column.aliases for column in schema.columns}
    before = {column.name: column.aliases for column in MALL.columns}
    assert aliases == {
        "age": (*before["age"], "Years", "Yrs"),
        "annual_income": (*before["annual_income"], "Income"),
        "spending_score": before["spending_score"],
        "gender": (*before["gender"], "Sex"),
    }
    # Still a valid schema: every accepted name once.
    assert len(set(schema.accepted_names())) == len(schema.accepted_names())
    assert type(schema).model_validate(schema.model_dump()) == schema
    assert MALL.with_source_names({}) == MALL


@pytest.mark.parametrize(
    ("minimum", "maximum", "described"),
    [
        (0, 1_000_000, "0 to 1,000,000"),
        (-0.5, 2.25, "-0.5 to 2.25"),
        (0, 1e300, "0 to 1e+300"),  # was written out in 301 digits in every range error
        (-1e20, 1e15, "-1e+20 to 1e+15"),
    ],
)
def test_a_range_is_described_in_few_characters(
    minimum: float, maximum: float, described: str
) -> None:
    feature = NumericFeature(name="basket", minimum=minimum, maximum=maximum)
    assert feature.describe_range() == described


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (590, "590"),
        (1_000_000, "1,000,000"),
        (26_733_487.406923074, "26,733,487.41"),  # a derived log1p maximum, not 2.67335e+07
        (2_500_000.5, "2,500,000.5"),
        (12.3456, "12.3456"),
        (1e300, "1e+300"),
    ],
)
def test_numbers_in_messages_are_written_out(value: float, text: str) -> None:
    assert format_number(value) == text
