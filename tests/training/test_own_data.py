"""Training on a retailer's own table: any numeric and categorical columns, from the command line
to a bundle the service, segment-score and the report read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer

from scoring.cli import main as score_main
from segmentation.bundle import load_bundle
from segmentation.metadata import METADATA_FILE, REPORT_FILE
from segmentation.nearest_centroid import CentroidScorer
from segmentation.schema import CategoricalFeature, NumericFeature
from segmentation.validation import check_columns
from training.cli import main as train_main
from training.sample_retail import generate_retail_customers

FEATURES = "tenure_months,orders_per_year,average_basket,channel,loyalty_tier"


@pytest.fixture
def retail_csv(tmp_path: Path) -> Path:
    path = tmp_path / "retail.csv"
    generate_retail_customers(300, seed=4).frame.to_csv(path, index=False)
    return path


def train_cli(models: Path, *arguments: str) -> int:
    return train_main(
        ["--models-dir", str(models), "--quiet", "--stability-samples", "0", *arguments]
    )


def test_a_table_with_categorical_columns_trains_and_scores(
    retail_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    assert train_cli(models, "--data", str(retail_csv), "--features", FEATURES, "--k", "4") == 0
    bundle = load_bundle(models)
    schema = bundle.metadata.feature_schema
    assert schema.names == FEATURES.split(",")
    channel = schema.feature("channel")
    assert isinstance(channel, CategoricalFeature)
    assert channel.levels == ("both", "online", "store")
    assert isinstance(bundle.scaler, ColumnTransformer)
    # The numbers the service scores with give the pipeline's labels.
    frame = pd.read_csv(retail_csv)
    expected = bundle.pipeline.predict(frame[schema.names])
    rows = check_columns(frame, schema).feature_matrix()
    assert (CentroidScorer.from_numbers(bundle.numbers).assign(rows).segment_ids == expected).all()
    # Profiles describe each segment's levels; drift has the training shares of each level.
    profile = bundle.metadata.segments[0]
    assert set(profile.levels) == {"channel", "loyalty_tier"}
    assert sum(s.share for s in profile.levels["channel"].values()) == pytest.approx(1.0)
    assert set(profile.features) == {"tenure_months", "orders_per_year", "average_basket"}
    assert "channel=online" in profile.centroid
    assert set(bundle.metadata.feature_levels) == {"channel", "loyalty_tier"}
    report = (bundle.path / REPORT_FILE).read_text()
    assert "loyalty_tier: " in report
    # segment-score reads the same table with the same schema.
    capsys.readouterr()
    output = tmp_path / "scored.csv"
    assert (
        score_main(
            ["--models-dir", str(models), "--data", str(retail_csv), "--output", str(output)]
        )
        == 0
    )
    assert pd.read_csv(output)["segment_id"].tolist() == expected.tolist()


def test_k_auto_trains_on_a_table_with_two_categorical_columns(tmp_path: Path) -> None:
    # Two categorical columns' indicators leave the split test's pooled covariance without
    # spread in some directions: on this sample the ninth round's regrouping first stopped
    # training with scikit-learn's "'tied precision' should be symmetric, positive-definite".
    path = tmp_path / "retail.csv"
    generate_retail_customers(300, seed=5).frame.to_csv(path, index=False)
    models = tmp_path / "models"
    assert train_cli(models, "--data", str(path), "--features", FEATURES, "--k", "auto") == 0
    metadata = load_bundle(models).metadata
    assert metadata.k_selection.mode == "auto"
    assert 2 <= metadata.k_selection.chosen_k == metadata.k <= 10


def test_a_level_difference_is_the_same_distance_whatever_the_levels(
    retail_csv: Path, tmp_path: Path
) -> None:
    """One-hot 0/1 indicators: two customers who differ only in one categorical feature are
    sqrt(2) apart in the model's space, for a rare level as for a common one."""
    models = tmp_path / "models"
    assert train_cli(models, "--data", str(retail_csv), "--features", FEATURES, "--k", "3") == 0
    bundle = load_bundle(models)
    scorer = CentroidScorer.from_numbers(bundle.numbers)
    schema = bundle.metadata.feature_schema
    base = {"tenure_months": 20, "orders_per_year": 5, "average_basket": 40, "loyalty_tier": "Gold"}
    rows = pd.DataFrame([{**base, "channel": level} for level in ("online", "store", "both")])
    scaled = scorer.scale_rows(check_columns(rows, schema).feature_matrix())
    for first, second in ((0, 1), (0, 2), (1, 2)):
        assert np.linalg.norm(scaled[first] - scaled[second]) == pytest.approx(np.sqrt(2))


def test_a_schema_file_sets_transforms_units_and_level_order(
    retail_csv: Path, tmp_path: Path
) -> None:
    schema_file = tmp_path / "features.toml"
    schema_file.write_text(
        '[[feature]]\nname = "average_basket"\nunit = "EUR"\ntransform = "log1p"\n'
        '[[feature]]\nname = "loyalty_tier"\nlevels = ["Bronze", "Silver", "Gold"]\n',
        encoding="utf-8",
    )
    models = tmp_path / "models"
    arguments = ["--data", str(retail_csv), "--schema", str(schema_file), "--k", "3"]
    assert train_cli(models, *arguments) == 0
    metadata = json.loads(next(models.glob("*/" + METADATA_FILE)).read_text())
    basket, tier = metadata["feature_schema"]["features"]
    assert basket["transform"] == "log1p"
    assert basket["unit"] == "EUR"
    assert tier["levels"] == ["Bronze", "Silver", "Gold"]
    assert metadata["scorer"]["features"] == [
        "average_basket",
        "loyalty_tier=Bronze",
        "loyalty_tier=Silver",
        "loyalty_tier=Gold",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--features", "customer_id,channel"], "'customer_id' looks like an identifier"),
        (["--features", "channel,nothing"], "missing required column 'nothing'"),
        (["--features", "region,channel,region"], "'region' is listed more than once"),
        (["--features", "tenure_months", "--schema", "missing.toml"], "file not found"),
    ],
)
def test_unusable_feature_choices_fail_with_the_reason(
    retail_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    models = tmp_path / "models"
    try:
        code = train_cli(models, "--data", str(retail_csv), *arguments)
    except SystemExit as exc:  # argparse's own refusals
        code = int(str(exc.code))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not models.exists() or not any(models.iterdir())


@pytest.mark.parametrize("typo", ["1e+300", "1e+160", "1.7e+308"])
def test_a_value_too_large_to_standardise_is_a_named_row_not_a_crash(
    retail_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], typo: str
) -> None:
    """Such a value made the scaler's variance overflow: a traceback from K-Means ('Input X
    contains NaN'), an empty segment's IndexError, or a range 'not finite' naming no row."""
    frame = pd.read_csv(retail_csv)
    frame["average_basket"] = frame["average_basket"].astype(object)
    frame.loc[4, "average_basket"] = typo
    data = tmp_path / "typo.csv"
    frame.to_csv(data, index=False)
    arguments = ("--data", str(data), "--features", FEATURES, "--k", "3")
    assert train_cli(tmp_path / "refused", *arguments) == 2
    err = capsys.readouterr().err
    assert f"column 'average_basket', row 5 (line 6): value {typo} is outside" in err
    assert "Traceback" not in err
    assert train_cli(tmp_path / "models", *arguments, "--drop-invalid") == 0
    kept = load_bundle(tmp_path / "models").metadata
    assert kept.training_data.rows == len(frame) - 1
    basket = kept.feature_schema.feature("average_basket")
    assert isinstance(basket, NumericFeature)
    assert basket.maximum < 1e6


def test_a_declared_range_too_wide_to_standardise_is_refused_by_name(
    retail_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(retail_csv)
    frame.loc[4, "average_basket"] = 1e300
    data = tmp_path / "typo.csv"
    frame.to_csv(data, index=False)
    schema = tmp_path / "wide.toml"
    schema.write_text('[[feature]]\nname = "average_basket"\nminimum = 0\nmaximum = 1e300\n')
    models = tmp_path / "models"
    arguments = ("--data", str(data), "--schema", str(schema), "--k", "3")
    assert train_cli(models, *arguments) == 2
    assert (
        "segment-train: error: feature 'average_basket' cannot be standardised: its largest "
        "value, 1e+300, is too large to square in floating point; keep its values within 1e+100"
    ) in capsys.readouterr().err
    assert not models.exists() or not any(models.iterdir())


def test_na_is_a_level_in_a_column_of_words_and_missing_in_a_column_of_numbers(
    retail_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pandas read 'NA' (North America) as missing: training refused a third of the customers,
    or dropped them with --drop-invalid, while segment-score, which reads every cell as text,
    scored them all. R and spreadsheets also write NA for a missing number; that stays missing."""
    frame = pd.read_csv(retail_csv)
    frame["region"] = np.resize(["EU", "NA", "APAC"], len(frame))
    frame["orders_per_year"] = frame["orders_per_year"].astype(object)
    frame.loc[frame.index % 5 == 0, "orders_per_year"] = "NA"  # 20%: more than a typo's share
    data = tmp_path / "na.csv"
    frame.to_csv(data, index=False)
    features = ("--features", "tenure_months,orders_per_year,average_basket,region", "--k", "3")
    assert train_cli(tmp_path / "refused", "--data", str(data), *features) == 2
    err = capsys.readouterr().err
    assert "column 'orders_per_year', row 1 (line 2): missing value (60 problems in 300" in err
    assert "region" not in err
    models = tmp_path / "models"
    assert train_cli(models, "--data", str(data), *features, "--drop-invalid") == 0
    metadata = load_bundle(models).metadata
    assert metadata.training_data.rows == 240
    region = metadata.feature_schema.feature("region")
    assert isinstance(region, CategoricalFeature)
    assert region.levels == ("APAC", "EU", "NA")
    assert isinstance(metadata.feature_schema.feature("orders_per_year"), NumericFeature)
    scorable = frame[frame["orders_per_year"] != "NA"]
    scorable.to_csv(tmp_path / "scorable.csv", index=False)
    out = tmp_path / "scored.csv"
    assert (
        score_main(
            [
                "--models-dir",
                str(models),
                "--input",
                str(tmp_path / "scorable.csv"),
                "--output",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    scored = pd.read_csv(out, keep_default_na=False)
    assert len(scored) == 240
    assert scored.groupby("segment_id").size().to_dict() == {
        s.id: s.size for s in metadata.segments
    }


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (
            lambda frame, path: frame.to_csv(path, index=False, sep=";"),
            "found columns: customer_id;tenure_months;orders_per_year;average_basket;channel;"
            "loyalty_tier;region (the header is one column: the file looks separated by "
            "semicolons; save it separated by commas)",
        ),
        (
            lambda frame, path: frame.assign(region="Zürich").to_csv(
                path, index=False, encoding="cp1252"
            ),
            "not UTF-8 text: save it as UTF-8 (in Excel, 'CSV UTF-8'",
        ),
    ],
    ids=["semicolons", "windows-1252"],
)
def test_an_export_in_another_dialect_says_how_to_save_it(
    retail_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    write: Any,
    message: str,
) -> None:
    """Excel's regional CSV: 'missing column' listing one column, or a byte 'in position 1'."""
    path = tmp_path / "export.csv"
    write(pd.read_csv(retail_csv), path)
    features = "tenure_months,orders_per_year,average_basket,region"
    assert train_cli(tmp_path / "models", "--data", str(path), "--features", features) == 2
    assert message in capsys.readouterr().err
