"""Draw the README's picture: the default model's segments, from its bundle's stored sample.

``make docs-picture`` trains the default model on the shipped sample (into a temporary folder)
and runs this with that folder, so the picture always shows what ``make run`` serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from segmentation.metadata import REPORT_SAMPLE_FILE, current_version, read_metadata
from training.report import scatter_figure


def main(models_dir: Path, output: Path) -> None:
    bundle_dir = models_dir / current_version(models_dir)
    metadata = read_metadata(bundle_dir)
    sample = pd.read_csv(bundle_dir / REPORT_SAMPLE_FILE)
    figure = scatter_figure(metadata, sample)
    figure.savefig(output, format="png", dpi=80, metadata={"Software": None})


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
