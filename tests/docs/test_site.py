"""The documentation site builds strictly, and its reference tables come from the code."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from service.defaults import ENV_PREFIX
from service.settings import Settings
from tests.conftest import REPO_ROOT


def reference_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "reference_hook", REPO_ROOT / "docs" / "hooks" / "reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_builds_with_no_warning(tmp_path: Path) -> None:
    """--strict turns every broken link, anchor or missing page into a failure."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    operations = (tmp_path / "operations" / "index.html").read_text()
    assert "<td><code>SEGMENT_DRIFT_MIN_OBSERVATIONS</code></td>" in operations  # a table row


def test_the_settings_table_lists_every_setting_once() -> None:
    table = reference_hook().settings_table()
    for name, field in Settings.model_fields.items():
        variable = f"`{ENV_PREFIX}{name.upper()}`"
        assert table.count(variable) == 1, variable
        assert field.description, f"{name} needs a description for the docs"
        assert field.description.replace("|", "\\|") in table


def test_the_cli_reference_lists_every_option_of_every_command() -> None:
    hook = reference_hook()
    reference = hook.cli_reference()
    for name, parser in hook.commands():
        assert f"## `{name}`" in reference
        for action in parser._actions:
            for option in action.option_strings:
                assert re.search(rf"{re.escape(option)}\b", reference), (name, option)


def test_the_readme_is_a_front_door_whose_links_resolve() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 10_240
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not t.startswith("http")]
    assert local, "the README links to the docs"
    for target in local:
        assert (REPO_ROOT / target).is_file(), target


def test_a_page_can_show_one_command_and_an_unknown_one_is_refused() -> None:
    hook = reference_hook()
    page = hook.expand("before\n\n<!-- cli-reference segment-names -->\n\nafter\n")
    assert "usage: segment-names" in page
    assert "usage: segment-names template" in page
    assert page.endswith("<!-- /cli-reference -->\n\nafter\n")
    assert hook.expand(page) == page  # generated once, the table is replaced, not repeated
    stale = page.replace("usage: segment-names template", "usage: old")
    assert hook.expand(stale) == page
    with pytest.raises(ValueError, match="segment-nope"):
        hook.expand("<!-- cli-reference segment-nope -->\n")


def test_the_committed_reference_tables_are_what_the_code_generates() -> None:
    """The tables are in the Markdown, as GitHub shows it; after changing a setting or an
    option, `make docs-reference` rewrites them."""
    hook = reference_hook()
    assert hook.stale_pages() == [], "run: make docs-reference"
    pages = {p.name: p.read_text() for p in (REPO_ROOT / "docs").rglob("*.md")}
    assert "| `SEGMENT_DRIFT_MIN_OBSERVATIONS` | integer | `500` |" in pages["operations.md"]
    assert "usage: segment-score" in pages["cli.md"]
    assert "usage: segment-train" in pages["training.md"]
    for name, text in pages.items():
        openings = re.findall(r"^<!-- (settings-table|cli-reference)\b", text, re.M)
        closings = re.findall(r"^<!-- /(settings-table|cli-reference) -->", text, re.M)
        assert openings == closings, name  # every marker has its table


def test_the_site_builds_with_mkdocs_alone(tmp_path: Path) -> None:
    """`make docs` installs only the docs extra: the build must not import the project or the
    libraries it needs (each is made unimportable here)."""
    blocked = ["numpy", "pandas", "sklearn", "pydantic", "pydantic_settings", "pyarrow"]
    blocked += ["segmentation", "service", "training", "scoring", "spark_engine"]
    script = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from mkdocs.__main__ import cli\n"
        f"cli(['build', '--strict', '--site-dir', {str(tmp_path)!r}])\n"
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SEGMENT_DRIFT_MIN_OBSERVATIONS" in (tmp_path / "operations" / "index.html").read_text()


def test_make_docs_installs_the_docs_extra_only() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^docs: (.*)$", makefile, re.M)
    assert recipe is not None
    assert recipe[1].split() == ["$(VENV)/.installed-docs"]
    installs = re.search(r"^\$\(VENV\)/\.installed-docs:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert installs is not None
    assert "$(PIP_INSTALL) -c constraints.txt $$($(DOCS_EXTRA))" in installs[1]
    assert "-e" not in installs[1].split()  # not the project, nor its dev and Spark extras
    extra = re.search(r"^DOCS_EXTRA = (.*)$", makefile, re.M)
    assert extra is not None
    assert '["optional-dependencies"]["docs"]' in extra[1]
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert [re.split(r"[<>=\[]", d)[0] for d in extras["docs"]] == ["mkdocs", "mkdocs-material"]
