"""The documentation site builds strictly, and its reference tables come from the code."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
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
    assert "SEGMENT_DRIFT_MIN_OBSERVATIONS" in operations
    assert "<!-- settings-table -->" not in operations


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


def test_a_page_can_show_one_command_and_an_unknown_one_fails_the_build() -> None:
    hook = reference_hook()
    page = hook.expand("before\n\n<!-- cli-reference segment-names -->\n\nafter")
    assert "usage: segment-names" in page
    assert "usage: segment-names template" in page
    assert "<!-- cli-reference" not in page
    with pytest.raises(ValueError, match="segment-nope"):
        hook.expand("<!-- cli-reference segment-nope -->")
