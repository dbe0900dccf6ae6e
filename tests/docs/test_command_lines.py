"""The make, install and benchmark lines the pages show, where running them here is the suite
itself (`make test`), an install, or a benchmark of many minutes: each make line names a target
whose recipe, as `make -n` prints it, runs what the line's comment says; each install line names
what the project defines and its Makefile installs; the benchmark's lines parse with its own
options."""

from __future__ import annotations

import re
import subprocess
import tomllib

from bench.k_selection import build_parser
from tests.conftest import REPO_ROOT
from tests.docs.conftest import blocks, page_section

# What each target's recipe must run, for the pages' claims about it.
RECIPES = {
    "run": ["segment-train --data data/sample_customers.csv --models-dir", "segment-serve"],
    "test": ["ruff check .", "mypy", "pytest -n 2 --dist loadfile"],
    "test-fast": ['pytest -n 2 --dist loadfile -m "not e2e and not spark_slow and not packaging"'],
    "docs": ["mkdocs build --strict"],
    "bench-k": ["python -m bench.k_selection"],
}


def shown_make_lines() -> list[tuple[str, str]]:
    """(target, the line's comment) for every ``make TARGET`` line of a block."""
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    found = []
    for page in pages:
        for language in ("sh", "bash"):
            for block in blocks(page.read_text(), language):
                for line in block.splitlines():
                    if match := re.match(r"^make ([\w-]+)\s*(?:#\s*(.*))?$", line):
                        found.append((match[1], match[2] or ""))
    return found


def dry_run(target: str) -> str:
    done = subprocess.run(
        ["make", "-n", target, "MODELS_DIR=models"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_make_line_runs_the_recipe_the_page_describes() -> None:
    lines = shown_make_lines()
    assert {target for target, _ in lines} == set(RECIPES)
    for target in RECIPES:
        recipe = dry_run(target)
        for command in RECIPES[target]:
            assert command in recipe, (target, command)
    # docs/spark.md's comment says which tests test-fast leaves out
    [expression] = [
        found
        for target, comment in lines
        if target == "test-fast"
        for found in re.findall(r'-m "[^"]+"', comment)
    ]
    assert expression in dry_run("test-fast")
    # The pytest line beside it: markers the suite declares (it runs with --strict-markers).
    markers = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"
    ]["markers"]
    declared = {marker.split(":")[0] for marker in markers}
    [tests_block] = blocks(page_section(REPO_ROOT / "docs" / "spark.md", "Tests"), "sh")
    for expression in re.findall(r'-m "([^"]+)"', tests_block):
        assert set(re.findall(r"\b(?!not\b|and\b|or\b)\w+", expression)) <= declared


def test_the_spark_install_lines_name_the_extra_and_what_make_installs() -> None:
    [install] = blocks(page_section(REPO_ROOT / "docs" / "spark.md", "Install"), "sh")
    pip, apt = (line.split("#")[0].split() for line in install.splitlines())
    assert pip == ["pip", "install", "'.[spark]'"]
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert [re.split(r"[<>=]", d)[0] for d in extras["spark"]] == ["pyspark"]
    assert re.search(r"^pyspark==", (REPO_ROOT / "constraints.txt").read_text(), re.M)
    assert apt[:3] == ["apt-get", "install", "-y"]
    spark_deps = re.search(
        r"^spark-deps:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M
    )
    assert spark_deps is not None
    assert f"apt-get install -y -qq {apt[3]}" in spark_deps[1]


def test_the_client_install_line_installs_the_client_distribution() -> None:
    [install] = blocks((REPO_ROOT / "clients" / "python" / "README.md").read_text(), "bash")
    words = install.split("#")[0].split()
    assert words[:2] == ["pip", "install"]
    folder = REPO_ROOT / words[2]
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == "segment-client"
    # the dev install is this same install (editable), so the client tests run what it installs
    assert f"-e {words[2].removeprefix('./')}" in (REPO_ROOT / "Makefile").read_text()


def test_the_benchmark_lines_parse_as_the_benchmark_reads_them() -> None:
    """Each line's options, as `python -m bench.k_selection` reads them (a run takes minutes)."""
    [block] = blocks((REPO_ROOT / "docs" / "k-selection.md").read_text(), "bash")
    runs = [line.split("#")[0].split() for line in block.splitlines()[1:]]
    assert runs
    assert all(words[:3] == [".venv/bin/python", "-m", "bench.k_selection"] for words in runs)
    parser = build_parser()
    for words in runs:
        parser.parse_args(words[3:])  # exits (SystemExit) on an option it does not know
    assert build_parser().parse_args(["--seed", "11"]).seed == 11
