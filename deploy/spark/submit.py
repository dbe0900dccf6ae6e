"""The application file for ``spark-submit``: ``submit.py score|train [options]``.

spark-submit runs a Python file, not a console script; this one hands its arguments to
``segment-score`` or ``segment-train`` with ``--engine spark``, on the session spark-submit
started (its master, resources and ``--conf`` settings). See docs/spark.md.

Only the chosen command is imported: scoring needs the package's base dependencies alone (what
docs/spark.md's packed environment holds), training also its ``[train]`` extra.
"""

import importlib
import sys

COMMANDS = {"score": "scoring.cli", "train": "training.cli"}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: submit.py score|train [segment-score or segment-train options]")
    command = importlib.import_module(COMMANDS[sys.argv[1]]).main
    sys.exit(command(["--engine", "spark", *sys.argv[2:]]))
