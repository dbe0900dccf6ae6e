"""The application file for ``spark-submit``: ``submit.py score|train [options]``.

spark-submit runs a Python file, not a console script; this one hands its arguments to
``segment-score`` or ``segment-train`` with ``--engine spark``, on the session spark-submit
started (its master, resources and ``--conf`` settings). See docs/spark.md.
"""

import sys

from scoring.cli import main as score
from training.cli import main as train

COMMANDS = {"score": score, "train": train}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: submit.py score|train [segment-score or segment-train options]")
    sys.exit(COMMANDS[sys.argv[1]](["--engine", "spark", *sys.argv[2:]]))
