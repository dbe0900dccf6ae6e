"""docs/spark.md's cluster routes, run on this machine: the wheel built by the page's own line,
the page's spark-submit commands with only what names a cluster replaced (``--master yarn`` by
``local[2]``, ``--deploy-mode cluster`` left out, the cluster's paths by local ones, its
metastore by a Derby one in a scratch folder), and the Databricks job's wheel task run as
Databricks runs one: the wheel's entry point, called with the task's parameters.

So the package name, the wheel's file name, the application file, the entry points and every
argument the page shows are proven; YARN's and Databricks' own machinery is not (there is none
here).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyspark
import pytest
from pyspark.sql import SparkSession

from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, page_section
from tests.shell import paste
from training.sample_data import generate_customers

pytestmark = pytest.mark.spark

PAGE = REPO_ROOT / "docs" / "spark.md"
SUBMIT = REPO_ROOT / "deploy" / "spark" / "submit.py"


def cluster_section() -> str:
    return page_section(PAGE, "On a cluster: spark-submit")


def commands(block: str) -> list[str]:
    """A block's command lines: continuations joined, comments left out."""
    lines = block.replace("\\\n", " ").splitlines()
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip()]


# What names the cluster: its master and deploy mode, and the metastore its catalog tables are
# in (a cluster's Spark configuration sets it; here the test's --conf does).
CLUSTER_OPTIONS = ("--master", "--deploy-mode")
CLUSTER_CONF = ("spark.sql.catalogImplementation=", "spark.sql.warehouse.dir=")


def without_the_cluster(words: list[str], paths: dict[str, str]) -> list[str]:
    """``words`` without the cluster's options, and its paths and their local stand-ins
    masked alike: what must be the same on the page and in the run."""
    kept: list[str] = []
    pairs = iter(range(len(words)))
    for index in pairs:
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if word in CLUSTER_OPTIONS or (word == "--conf" and following.startswith(CLUSTER_CONF)):
            next(pairs, None)
            continue
        kept.append("<path>" if word in paths or word in paths.values() else word)
    return kept


def localized(words: list[str], master: str, paths: dict[str, str]) -> list[str]:
    """The page's command on a local master: --deploy-mode left out, the cluster's paths
    replaced; asserted to differ from the page in nothing else."""
    run: list[str] = []
    pairs = iter(range(len(words)))
    for index in pairs:
        word = words[index]
        if word in CLUSTER_OPTIONS:
            next(pairs, None)
            run += ["--master", master] if word == "--master" else []
            continue
        run.append(paths.get(word, word))
    assert without_the_cluster(words, paths) == without_the_cluster(run, paths)
    return run


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the page's first line builds (``.`` is the checkout), in a scratch folder."""
    [packed, _] = blocks(cluster_section(), "sh")
    first = packed.splitlines()[0]
    command, comment = first.split("#")
    assert command.split() == ["pip", "wheel", "--no-deps", "-w", "dist", "."]
    folder = tmp_path_factory.mktemp("wheel")
    paste(command.replace(" .", f" {shlex.quote(str(REPO_ROOT))}"), folder)
    [built] = (folder / "dist").glob("*.whl")
    assert f"dist/{built.name}" == comment.strip()  # the file name the page uses throughout
    return built


def entry_points(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(name).decode()
    section = text.split("[console_scripts]")[1].split("\n[")[0]
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition("=") for line in section.splitlines())
        if key.strip()
    }


def scratch_folder(tmp_path: Path, wheel: Path) -> Path:
    """A folder laid out as the page's commands expect: dist/ with the wheel, and the
    application file at deploy/spark/submit.py."""
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / wheel.name).write_bytes(wheel.read_bytes())
    (tmp_path / "deploy" / "spark").mkdir(parents=True)
    (tmp_path / "deploy" / "spark" / "submit.py").write_bytes(SUBMIT.read_bytes())
    return tmp_path


def hive_conf(folder: Path) -> list[str]:
    """The cluster's metastore, here Derby's in ``folder`` (the current directory)."""
    return [
        "--conf",
        "spark.sql.catalogImplementation=hive",
        "--conf",
        f"spark.sql.warehouse.dir={folder / 'warehouse'}",
    ]


def run(words: list[str], folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_", "PYSPARK"))}
    environment["PATH"] = f"{Path(sys.executable).parent}:{environment['PATH']}"
    environment.update(env)
    return subprocess.run(
        words, cwd=folder, env=environment, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.packaging  # two new JVMs with a Derby metastore: about 95 s
def test_the_wheel_only_command_with_a_local_master(
    wheel: Path, trained_models: Path, tmp_path: Path
) -> None:
    [_, wheel_only] = blocks(cluster_section(), "sh")
    [command] = commands(wheel_only)
    page = shlex.split(command)
    assert page[:5] == ["spark-submit", "--master", "yarn", "--py-files", f"dist/{wheel.name}"]
    folder = scratch_folder(tmp_path, wheel)
    paths = {"/shared/models": str(trained_models)}
    words = localized(page, "local[2]", paths)
    words[1:1] = hive_conf(folder)
    assert without_the_cluster(page, paths) == without_the_cluster(words, paths)
    # The wheel, not this checkout's editable install, is what the driver imports: spark-submit
    # puts --py-files on the driver's PYTHONPATH, ahead of site-packages.
    probe = run(
        ["python3", "-c", "import scoring.cli; print(scoring.cli.__file__)"],
        folder,
        PYTHONPATH=str(folder / "dist" / wheel.name),
    )
    assert probe.stdout.startswith(str(folder / "dist" / wheel.name)), probe
    # The customers table in the (Derby) metastore, as the cluster's would hold it.
    customers = generate_customers(300, 41).frame
    customers.to_parquet(folder / "customers.parquet")
    setup = run(
        [
            "python3",
            "-c",
            "from pyspark.sql import SparkSession\n"
            "s = SparkSession.builder.master('local[1]').enableHiveSupport()"
            f".config('spark.sql.warehouse.dir', {str(folder / 'warehouse')!r}).getOrCreate()\n"
            "s.sql('CREATE DATABASE crm')\n"
            's.sql("CREATE TABLE crm.customers USING parquet LOCATION '
            f"'{folder / 'customers.parquet'}'\")\n"
            "s.stop()\n",
        ],
        folder,
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    done = run(words, folder)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scored 300 customers with " in done.stdout
    written = pd.read_parquet(folder / "warehouse" / "crm.db" / "customer_segments")
    assert len(written) == 300
    assert list(written.columns)[-4:] == ["segment_id", "segment_name", "distance", "atypical"]


def databricks_job() -> dict[str, object]:
    [job] = blocks(page_section(PAGE, "On Databricks: a job"), "json")
    loaded = json.loads(job)
    assert isinstance(loaded, dict)
    return loaded


def test_the_databricks_task_runs_the_wheels_entry_point_with_its_parameters(
    wheel: Path,
    spark: SparkSession,
    trained_models: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = databricks_job()
    [task] = job["tasks"]  # type: ignore[index]
    wheel_task = task["python_wheel_task"]
    [library] = task["libraries"]
    assert library["whl"].rsplit("/", 1)[1] == wheel.name
    distribution = wheel.name.split("-")[0]
    assert wheel_task["package_name"] == distribution
    target = entry_points(wheel)[wheel_task["entry_point"]]
    assert target == "scoring.cli:main"
    [cluster] = job["job_clusters"]  # type: ignore[index]
    assert cluster["job_cluster_key"] == task["job_cluster_key"]
    # The cluster's Unity Catalog (catalog `main`) and volume, here the session's catalog and a
    # local folder; every other parameter as the page writes it.
    values = {
        "/Volumes/main/crm/models": str(trained_models),
        "main.crm.customers": "spark_catalog.crm.customers",
        "main.crm.customer_segments": "spark_catalog.crm.customer_segments",
    }
    parameters = [values.get(word, word) for word in wheel_task["parameters"]]
    assert [w for w in parameters if w not in values.values()] == [
        w for w in wheel_task["parameters"] if w not in values
    ]
    # What a Databricks cluster sets: the command then uses the running session as it is.
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    customers = generate_customers(200, 42).frame
    spark.sql("CREATE DATABASE IF NOT EXISTS crm")
    spark.createDataFrame(customers).write.mode("overwrite").saveAsTable("crm.customers")
    module, _, function = target.partition(":")
    entry = getattr(__import__(module, fromlist=[function]), function)
    # A wheel task calls the entry point with the parameters as the command line.
    monkeypatch.setattr(sys, "argv", [wheel_task["entry_point"], *parameters])
    try:
        with pytest.raises(SystemExit) as exited:
            sys.exit(entry())
        assert exited.value.code == 0
        assert spark.table("crm.customer_segments").count() == len(customers)
    finally:
        spark.sql("DROP TABLE IF EXISTS crm.customer_segments")
        spark.sql("DROP TABLE IF EXISTS crm.customers")
    assert "scored 200 customers with " in capsys.readouterr().out
    conf = cluster["new_cluster"]["spark_conf"]
    assert conf == {"spark.sql.execution.arrow.maxRecordsPerBatch": "100000"}


@pytest.mark.packaging
def test_the_packed_environment_commands_with_a_local_master(
    wheel: Path, trained_models: Path, tmp_path: Path
) -> None:
    """Every line of the block as written (the wheel line by the fixture), from a new virtual
    environment with the wheel and its base dependencies from the package index, then
    spark-submit on local[2]; the archives unpacked into the current directory first, as YARN
    localises them for a cluster-mode driver, so the page's relative paths resolve alike."""
    [packed, _] = blocks(cluster_section(), "sh")
    _, venv, install, pack, tar_models, submit = commands(packed)
    assert venv == "python3.11 -m venv segenv"
    folder = scratch_folder(tmp_path, wheel)
    (folder / "constraints.txt").write_bytes((REPO_ROOT / "constraints.txt").read_bytes())
    paste("\n".join([venv, install, pack]), folder)
    assert tar_models == "tar czf models.tar.gz -C /path/to models"
    paste(tar_models.replace("/path/to", str(trained_models.parent)), folder)
    assign, *page = shlex.split(submit)
    assert assign == "PYSPARK_PYTHON=./environment/bin/python"
    customers = generate_customers(300, 43).frame
    customers.to_parquet(folder / "customers.parquet")
    paths = {
        "hdfs:///crm/customers.parquet": str(folder / "customers.parquet"),
        "hdfs:///crm/scored.parquet": str(folder / "scored.parquet"),
    }
    words = localized(page, "local[2]", paths)
    for archive, name in (("segenv.tar.gz", "environment"), ("models.tar.gz", "models")):
        (folder / name).mkdir()
        paste(f"tar xzf {archive} -C {name}", folder)
    # A cluster's Spark installation is SPARK_HOME; pip's spark-submit would otherwise look for
    # it with PYSPARK_PYTHON, the packed environment's Python, which has no pyspark (on YARN
    # Spark ships pyspark to it, as spark-submit does here from SPARK_HOME/python/lib).
    spark_home = str(Path(pyspark.__file__).parent)
    done = run(words, folder, PYSPARK_PYTHON="./environment/bin/python", SPARK_HOME=spark_home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scored 300 customers with " in done.stdout
    assert len(pd.read_parquet(folder / "scored.parquet")) == 300
