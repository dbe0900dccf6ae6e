"""Starting Spark: a clear error without Java, the executors' Python, --spark-conf parsing."""

from __future__ import annotations

import os
import sys
import tomllib

import pytest

from spark_engine import session
from spark_engine.session import SparkSetupError, get_session, parse_spark_conf
from tests.conftest import REPO_ROOT


def test_without_java_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    with pytest.raises(SparkSetupError, match="apt-get install -y openjdk-17-jre-headless"):
        get_session("test", "local[1]")


@pytest.mark.spark
def test_local_executors_run_this_python(spark: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON")
    get_session("segment-tests", "local[2]")
    assert os.environ["PYSPARK_PYTHON"] == sys.executable


def test_spark_conf_items() -> None:
    assert parse_spark_conf(["a.b=1", " c = x=y "]) == {"a.b": "1", "c": "x=y"}
    with pytest.raises(ValueError, match="'nokey' is not of the form key=value"):
        parse_spark_conf(["nokey"])
    assert session.DEFAULT_CONF["spark.sql.execution.arrow.maxRecordsPerBatch"] == "100000"


def test_pyspark_is_only_in_the_spark_and_dev_installs() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert [d for d in extras["spark"] if d.startswith("pyspark")]
    for name in ("serve", "train", "db"):
        assert not [d for d in extras[name] if "spark" in d], name
    assert not [d for d in project["dependencies"] if "spark" in d]
    constraints = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    assert [line for line in constraints if line.startswith("pyspark==")]
