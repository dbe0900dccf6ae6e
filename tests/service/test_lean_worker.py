"""A serving worker loads a model without scikit-learn, SciPy or anything only training needs.

Those libraries are about 90 MiB of a worker's memory; the service scores with the numbers in
the bundle's metadata, so it must not import them, even indirectly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, TrainFn

TRAINING_ONLY = ("sklearn", "scipy", "joblib", "matplotlib", "sqlalchemy", "training")


def test_a_worker_serving_a_model_imports_nothing_only_training_needs(
    trained_copy: TrainFn, tmp_path: Path
) -> None:
    bundle = trained_copy(tmp_path / "models", k=3)
    worker = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from service.app import create_app\n"
        "from service.model.registry import ModelRegistry\n"
        "registry = ModelRegistry()\n"
        f"registry.load(Path({str(tmp_path / 'models')!r}), None)\n"
        "assert registry.model is not None, registry.reason\n"
        "create_app()\n"
        "print(json.dumps([registry.model.version,"
        f" sorted(m for m in {TRAINING_ONLY!r} if m in sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", worker], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [bundle.metadata.version, []]
