"""Running a docs example as it would run in the environment the page names (``[serve]``, the
client's), from the dev environment the suite runs in, without installing anything.

The example runs in a child Python where every installed module that the named install would
not bring is unimportable: an example that needs httpx fails here under ``[serve]`` as it would
on a serving host.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

PROJECT = "customer-segmentation"
CLIENT = "segment-client"


@cache
def installed_with(distribution: str, extras: tuple[str, ...] = ()) -> frozenset[str]:
    """The distributions ``pip install distribution[extras]`` brings, itself included."""
    wanted: list[tuple[str, tuple[str, ...]]] = [(distribution, extras)]
    found: set[str] = set()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while wanted:
        name, asked = wanted.pop()
        if (canonicalize_name(name), asked) in seen:
            continue
        seen.add((canonicalize_name(name), asked))
        found.add(canonicalize_name(name))
        for text in metadata.requires(name) or ():
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in asked] or [{"extra": ""}]
            if requirement.marker is None or any(
                requirement.marker.evaluate(env) for env in environments
            ):
                wanted.append((requirement.name, tuple(sorted(requirement.extras))))
    return frozenset(found)


def foreign_modules(distributions: frozenset[str]) -> list[str]:
    """Top-level modules installed here that none of ``distributions`` provides."""
    provided = metadata.packages_distributions()
    ours = {"segmentation", "service", "training", "scoring", "spark_engine", "segment_client"}
    blocked = []
    for module, owners in provided.items():
        if module.startswith("_") or module in ours:
            continue
        if not {canonicalize_name(owner) for owner in owners} & distributions:
            blocked.append(module)
    if canonicalize_name(CLIENT) not in distributions:
        blocked.append("segment_client")
    if canonicalize_name(PROJECT) not in distributions:
        blocked += sorted(ours - {"segment_client"})
    return sorted(blocked)


def run_python(code: str, distributions: frozenset[str], folder: Path) -> str:
    """Run ``code`` where only ``distributions`` (and the standard library) can be imported;
    returns what it printed."""
    prelude = (
        "import sys\n"
        f"for _name in {foreign_modules(distributions)!r}:\n"
        "    sys.modules[_name] = None\n"
        "del _name\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 0, f"{code}\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout
