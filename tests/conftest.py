"""Fixtures shared by every test: isolated environment, generated data, tiny trained bundles."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from segmentation.bundle import Bundle, load_bundle
from segmentation.sources import DataSource
from service.settings import get_settings
from training.sample_data import generate_customers
from training.train import TrainingOptions, train

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tests.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[1]
CLASSIC_CSV = REPO_ROOT.parent / "shared" / "data" / "Mall_Customers.csv"
SAMPLE_CSV = REPO_ROOT / "data" / "sample_customers.csv"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SEGMENT_* variable leaks into or out of a test, and settings are re-read each time."""
    for name in list(os.environ):
        if name.startswith("SEGMENT_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def write_sample_csv(path: Path, rows: int = 300, seed: int = 3) -> Path:
    generate_customers(rows, seed).frame.to_csv(path, index=False)
    return path


@pytest.fixture
def sample_csv(tmp_path: Path) -> Path:
    return write_sample_csv(tmp_path / "customers.csv")


TrainFn = Callable[..., Bundle]


@pytest.fixture
def train_into(tmp_path: Path) -> TrainFn:
    """Train a small model into a models directory; keyword arguments override the options.

    Fixed k=5 and no stability refits unless asked for, to keep the suite fast.
    """

    def run(models_dir: Path | None = None, **overrides: object) -> Bundle:
        data = overrides.pop("data", None) or write_sample_csv(tmp_path / "train.csv")
        settings: dict[str, object] = {"k": 5, "stability_samples": 0, **overrides}
        options = TrainingOptions(
            source=DataSource(str(data)),
            models_dir=models_dir or tmp_path / "models",
            **settings,  # type: ignore[arg-type]
        )
        return train(options)

    return run


@pytest.fixture(scope="session")
def _shared_models() -> dict[str, Path]:
    """Models directories trained once per worker process, by their options; never handed out."""
    return {}


@pytest.fixture
def trained_copy(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, _shared_models: dict[str, Path]
) -> TrainFn:
    """``train_into``'s model without training it again: a copy of one trained with the same
    options earlier in this worker process (the first call trains it), into an empty models
    directory. For tests that need *a* model to work on, not a training run to test.

    Same defaults as ``train_into`` (the 300-row sample written by ``write_sample_csv``, k=5,
    no stability refits); ``data`` cannot be overridden, and the bundle's training source is
    the shared copy's file, not one in the test's ``tmp_path``.
    """

    def run(models_dir: Path | None = None, **overrides: object) -> Bundle:
        assert "data" not in overrides, "trained_copy trains on the default sample only"
        key = repr(sorted(overrides.items()))
        source = _shared_models.get(key)
        if source is None:
            root = tmp_path_factory.mktemp("shared-model")
            settings: dict[str, object] = {"k": 5, "stability_samples": 0, **overrides}
            options = TrainingOptions(
                source=DataSource(str(write_sample_csv(root / "train.csv"))),
                models_dir=root / "models",
                **settings,  # type: ignore[arg-type]
            )
            train(options)
            source = _shared_models[key] = root / "models"
        target = models_dir or tmp_path / "models"
        assert not target.exists() or not any(target.iterdir()), f"{target} is not empty"
        shutil.copytree(source, target, dirs_exist_ok=True)
        return load_bundle(target)

    return run


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory with one current bundle on the default features; shared, read-only."""
    root = tmp_path_factory.mktemp("trained")
    data = write_sample_csv(root / "customers.csv")
    train(TrainingOptions(source=DataSource(str(data)), models_dir=root / "models", k=5))
    return root / "models"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run, started on first use."""
    from tests.postgres import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One real local[2] Spark session for the whole run, started on first use (about 10 s)."""
    from tests.spark import start_spark

    session = start_spark(str(tmp_path_factory.mktemp("spark-warehouse")))
    yield session
    session.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, for every SQL feature: SQLite (embedded) and a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.url(server.create_database())
