"""Deciding what each chosen column is: kinds inferred, identifiers and unusable columns refused
with the reason, ranges derived by the documented rule, schema files completed from the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.schema import CategoricalFeature, NumericFeature, SchemaError
from tests.conftest import REPO_ROOT
from training.cli import main as train_main
from training.columns import Numbers, complete_schema, derived_range, plan_columns


def schema_of(frame: pd.DataFrame, features: list[str], schema_file: Path | None = None):  # type: ignore[no-untyped-def]
    return complete_schema(plan_columns(features, schema_file), frame)


def test_kinds_are_inferred_numbers_numeric_text_and_booleans_categorical() -> None:
    frame = pd.DataFrame(
        {
            "spend": [10.5, 20.0, 30.0, 40.0],
            "visits": ["3", "4", " 5", "6"],  # numbers read as text
            "channel": ["online", "Store", "store", "store"],
            "member": [True, False, True, True],
        }
    )
    schema = schema_of(frame, ["spend", "visits", "channel", "member"])
    kinds = [f.kind for f in schema.features]
    assert kinds == ["numeric", "numeric", "categorical", "categorical"]
    channel = schema.feature("channel")
    assert isinstance(channel, CategoricalFeature)
    assert channel.levels == ("online", "store")  # letter case folded to the common spelling
    member = schema.feature("member")
    assert isinstance(member, CategoricalFeature)
    assert member.levels == ("False", "True")


def test_a_mostly_numeric_text_column_is_numeric_and_its_words_become_bad_rows() -> None:
    values = [str(v) for v in range(1, 20)] + ["n/a"]
    schema = schema_of(pd.DataFrame({"visits": values}), ["visits"])
    assert isinstance(schema.feature("visits"), NumericFeature)


def test_a_feature_of_numbers_with_many_placeholders_is_refused_not_made_categorical(
    tmp_path: Path,
) -> None:
    """With 14% '-' an order count became categorical without a word: '12' and '13' unrelated
    levels, and a service that refuses any count training did not see."""
    values = [str(v % 12) if v % 7 else "-" for v in range(100)]
    with pytest.raises(
        SchemaError,
        match=r"column 'orders' is mostly numbers \(85% of its filled cells\), but not all of them "
        r"\(for example '-'\): blank the cells .* kind = \"numeric\" to refuse those rows",
    ):
        schema_of(pd.DataFrame({"orders": values}), ["orders"])
    schema_file = tmp_path / "orders.toml"
    schema_file.write_text('[[feature]]\nname = "orders"\nkind = "numeric"\n')
    declared = schema_of(pd.DataFrame({"orders": values}), ["orders"], schema_file)
    assert isinstance(declared.feature("orders"), NumericFeature)


def test_a_refusal_of_mostly_numbers_names_placeholders_not_missing_words() -> None:
    values = [str(v) for v in range(60)] + ["NA"] * 30 + ["-"] * 10
    with pytest.raises(SchemaError, match=r"\(86% of its filled cells\).*\(for example '-'\)"):
        schema_of(pd.DataFrame({"visits": values}), ["visits"])


def test_missing_words_do_not_count_against_a_column_of_numbers() -> None:
    """'NA' in a third of the cells is missing, not a third of the column's values."""
    values = [str(v) if v % 3 else "NA" for v in range(60)]
    schema = schema_of(pd.DataFrame({"visits": values}), ["visits"])
    assert isinstance(schema.feature("visits"), NumericFeature)


def test_half_words_half_numbers_is_categorical() -> None:
    values = ["none", "1", "2", "some", "few", "many"] * 5  # a third numbers
    schema = schema_of(pd.DataFrame({"kids": values}), ["kids"])
    assert isinstance(schema.feature("kids"), CategoricalFeature)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("row_number", list(range(1, 31)), "looks like an identifier .*without gaps"),
        ("member_id", list(range(100, 400, 10)), "looks like an identifier"),
        ("email", [f"user{n}@example.com" for n in range(30)], "every one of its 30 values"),
        ("city", [f"city {n % 31}" for n in range(62)], "31 different values, more than the 30"),
        ("country", ["FR"] * 25, "single value \\('FR'\\)"),
    ],
)
def test_unusable_columns_are_refused_saying_why(
    column: str, values: list[object], message: str
) -> None:
    with pytest.raises(SchemaError, match=message):
        schema_of(pd.DataFrame({column: values}), [column])


def test_whole_numbers_all_different_but_with_gaps_are_a_measure() -> None:
    spend = [12, 40, 7, 300, 55, 21, 18, 90, 64, 33, 81, 19, 5, 77, 46, 29, 61, 88, 14, 150]
    schema = schema_of(pd.DataFrame({"spend": spend}), ["spend"])
    assert isinstance(schema.feature("spend"), NumericFeature)


@pytest.mark.parametrize(
    ("values", "transform", "expected"),
    [
        ([10, 20, 50], None, (0, 90)),  # width 40 on each side, not below 0
        ([-5.0, 5.0], None, (-15.0, 15.0)),
        ([0.5, 1.5], None, (0.0, 2.5)),
        ([0, 99], "log1p", (0, 9999)),  # on the log scale: log1p(99) doubled
    ],
)
def test_ranges_not_declared_are_widened_by_their_width(
    values: list[float], transform: str | None, expected: tuple[float, float]
) -> None:
    low, high = derived_range(Numbers.of(np.array(values, dtype=float)), transform)
    assert low == pytest.approx(expected[0])
    assert high == pytest.approx(expected[1], rel=1e-9)


def test_a_schema_file_is_completed_from_the_data(tmp_path: Path) -> None:
    path = tmp_path / "features.toml"
    path.write_text(
        """
[[feature]]
name = "spend"
transform = "log1p"
unit = "EUR"

[[feature]]
name = "tier"
kind = "categorical"

[[feature]]
name = "region"
levels = ["North", "South"]
""",
        encoding="utf-8",
    )
    frame = pd.DataFrame(
        {"spend": [5.0, 100.0], "tier": ["Gold", "Bronze"], "region": ["North", "North"]}
    )
    schema = schema_of(frame, ["spend", "tier", "region"], path)
    spend, tier, region = schema.features
    assert isinstance(spend, NumericFeature)
    assert spend.unit == "EUR"
    assert spend.minimum == 0
    assert isinstance(tier, CategoricalFeature)
    assert tier.levels == ("Bronze", "Gold")
    # Declared levels are kept, even one no training customer has.
    assert isinstance(region, CategoricalFeature)
    assert region.levels == ("North", "South")
    assert schema_of(frame, ["tier"], path).names == ["tier"]


def test_a_schema_table_of_a_name_only_has_its_kind_derived_as_for_features(
    tmp_path: Path,
) -> None:
    """docs/own-data.md: anything a schema file leaves out is derived. A table with only a name
    (and a description) was made numeric, and a column of words refused as 'no number to
    derive its range from'."""
    path = tmp_path / "features.toml"
    path.write_text(
        """
[[feature]]
name = "channel"
description = "Where the customer buys"

[[feature]]
name = "visits"

[[feature]]
name = "spend"
unit = "EUR"

[[attribute]]
name = "region"
""",
        encoding="utf-8",
    )
    frame = pd.DataFrame(
        {
            "channel": ["web", "store", "web", "store"],
            "visits": [1, 4, 2, 8],
            "spend": ["5", "20", "x", "15"],  # a unit says numbers: 'x' is a bad row, not a level
            "region": ["North", "South", "North", "East"],
        }
    )
    schema = complete_schema(plan_columns(None, path), frame)
    channel, visits, spend = schema.features
    assert isinstance(channel, CategoricalFeature)
    assert channel.levels == ("store", "web")
    assert channel.description == "Where the customer buys"
    assert isinstance(visits, NumericFeature)
    assert isinstance(spend, NumericFeature)
    assert isinstance(schema.attributes[0], CategoricalFeature)


def test_a_schema_table_with_an_encoding_is_categorical_with_levels_from_the_data(
    tmp_path: Path,
) -> None:
    """Only a column of levels has an encoding: a store code written as digits, declared with
    ``encoding`` and no levels, was made numeric by its digits and refused for its key."""
    path = tmp_path / "features.toml"
    path.write_text("[[feature]]\nname = 'store'\nencoding = 'one_hot'\n", encoding="utf-8")
    frame = pd.DataFrame({"store": [3, 1, 2, 3, 1]})
    (store,) = complete_schema(plan_columns(None, path), frame).features
    assert isinstance(store, CategoricalFeature)
    assert store.levels == ("1", "2", "3")


def test_a_schema_file_names_only_its_features(tmp_path: Path) -> None:
    path = tmp_path / "features.toml"
    path.write_text("[[feature]]\nname = 'spend'\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"unknown feature 'visits'; .* has spend"):
        plan_columns(["visits"], path)


def test_the_studys_columns_keep_the_preset_other_tables_are_inferred() -> None:
    assert plan_columns(None, None).feature_names == ["age", "annual_income", "spending_score"]
    classic = plan_columns(["Age", "gender"], None)
    assert classic.where == "the classic study's preset"
    assert classic.feature_names == ["age", "gender"]
    assert plan_columns(["age", "visits"], None).where == "the data"


def test_a_retailers_age_and_income_with_its_own_gender_codes_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A retailer's table with the study's names picks the preset: its gender coded F/M/D was
    refused on every row as not 'Female' or 'Male', though gender was no feature (and
    --drop-invalid would have dropped them all), and the study's spending score was offered
    as an attribute of a model whose data had none."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "customer_id": range(1, 301),
            "age": rng.integers(18, 80, 300),
            "annual_income": rng.integers(20, 140, 300),
            "gender": rng.choice(["F", "M", "D"], 300),
        }
    )
    schema = schema_of(frame, ["age", "annual_income"])
    assert [a.name for a in schema.attributes] == ["gender"]
    gender = schema.attributes[0]
    assert isinstance(gender, CategoricalFeature)
    assert gender.levels == ("D", "F", "M")
    assert "mall" not in gender.description
    # As a feature too, its levels are the data's.
    chosen = schema_of(frame, ["age", "gender"]).feature("gender")
    assert isinstance(chosen, CategoricalFeature)
    assert chosen.levels == ("D", "F", "M")
    # The study's own table keeps its columns, gender's levels as before.
    study = pd.read_csv(REPO_ROOT / "data" / "sample_customers.csv").rename(
        columns=plan_columns(None, None).name_of()
    )
    classic = schema_of(study, ["age", "annual_income"])
    assert [a.name for a in classic.attributes] == ["spending_score", "gender"]
    assert classic.attributes[1].levels == ("Female", "Male")  # type: ignore[union-attr]
    # A column of one value of its own (a women's retailer, all 'F') tells nothing as an
    # attribute: left out, not every row refused as not 'Female' or 'Male'.
    only_f = frame.assign(gender="F")
    assert schema_of(only_f, ["age", "annual_income"]).attributes == ()
    # End to end: the command trains on it.
    path = tmp_path / "retail.csv"
    frame.to_csv(path, index=False)
    models = tmp_path / "models"
    arguments = ["--data", str(path), "--features", "age,annual_income", "--k", "3"]
    arguments += ["--models-dir", str(models), "--stability-samples", "0", "--quiet"]
    assert train_main(arguments) == 0, capsys.readouterr().err


def test_the_old_gender_encoding_is_for_reading_old_bundles_only(tmp_path: Path) -> None:
    path = tmp_path / "features.toml"
    path.write_text(
        "[[feature]]\nname = 'gender'\nlevels = ['Female', 'Male']\nencoding = 'first_level'\n",
        encoding="utf-8",
    )
    frame = pd.DataFrame({"gender": ["Female", "Male"]})
    with pytest.raises(SchemaError, match="encoding 'first_level' only reads bundles"):
        schema_of(frame, ["gender"], path)


def test_a_name_ending_in_id_letters_is_not_an_identifier_but_a_constant_is_refused() -> None:
    paid = [12, 40, 7, 300, 55, 21, 18, 90, 64, 33, 81, 19, 5, 77, 46, 29, 61, 88, 14, 150]
    schema = schema_of(pd.DataFrame({"amount_paid": paid}), ["amount_paid"])
    assert isinstance(schema.feature("amount_paid"), NumericFeature)
    with pytest.raises(SchemaError, match=r"'member_id' looks like an identifier"):
        schema_of(pd.DataFrame({"member_id": paid}), ["member_id"])
    with pytest.raises(SchemaError, match=r"'visits' has a single value \(5\)"):
        schema_of(pd.DataFrame({"visits": [5] * 30}), ["visits"])
