"""The `podman run` that podman-compose makes of compose.yaml, for deploy/container-test.sh.

``podman-compose --dry-run up`` prints the podman commands compose.yaml becomes without running
them. The container test runs that very ``podman run`` with only its network replaced, as every
other container of the test: the host's network on a loopback port (``--network=host``,
``SEGMENT_HOST``, ``SEGMENT_PORT``), because a published port (``-p``) on a compose network would
change the host's firewall and take the fixed port 8000. Its name is the test's (so the test
removes it), and the host's ``./models`` is the folder the test filled. Everything else, the
user, the read-only root, /tmp, the dropped capabilities, the settings, the mount's ``:ro``, the
image, is compose.yaml's as podman-compose reads it.

Usage: compose_run.py NAME MODELS PORT < dry-run output; prints the arguments after ``podman``,
one per line. Standard library only: it runs on the host's ``python3``.
"""

from __future__ import annotations

import sys

# podman-compose's own networking and naming, replaced by the test's.
REPLACED_WITH_VALUE = (
    "--net",
    "--network",
    "--network-alias",
    "-p",
    "--publish",
    "--name",
    "--pod",
)


def run_arguments(printed: str, name: str, models: str, port: str) -> list[str]:
    runs = [line for line in printed.splitlines() if line.startswith("podman run ")]
    if len(runs) != 1:
        raise SystemExit(f"expected one 'podman run' in podman-compose's dry run, got:\n{printed}")
    # podman-compose joins its arguments with spaces, unquoted; compose.yaml has none in a value.
    words = runs[0].split()[1:]
    kept: list[str] = []
    skip = False
    mounts = 0
    for word in words:
        if skip:
            skip = False
            continue
        option = word.split("=", 1)[0]
        if option in REPLACED_WITH_VALUE:
            skip = "=" not in word
            continue
        if word.endswith("/models:/opt/models:ro"):
            word, mounts = f"{models}:/opt/models:ro", mounts + 1
        kept.append(word)
    if mounts != 1:
        raise SystemExit(f"compose.yaml's ./models mount not found in: {runs[0]}")
    left = [word for word in kept if "${" in word]
    if left:
        raise SystemExit(f"podman-compose left these uninterpolated: {' '.join(left)}")
    network = ["--name", name, "--network=host", "-e", "SEGMENT_HOST=127.0.0.1"]
    network += ["-e", f"SEGMENT_PORT={port}"]
    return [kept[0], *network, *kept[1:]]


if __name__ == "__main__":
    name, models, port = sys.argv[1:4]
    sys.stdout.write("\n".join(run_arguments(sys.stdin.read(), name, models, port)) + "\n")
