"""The BentoML peer for ``make bench-peers``: the fitted pipeline behind a minimal BentoML 1.4
service, as its docs show one (run inside the throwaway venv, not the project's)."""

import os

import bentoml
import joblib
import pandas as pd


@bentoml.service(workers=1)
class SegmentPeer:
    def __init__(self) -> None:
        self.pipeline = joblib.load(os.environ["PEER_MODEL_FILE"])
        self.features = os.environ["PEER_FEATURES"].split(",")

    @bentoml.api
    def predict(self, split: dict) -> list[int]:  # type: ignore[type-arg]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        return [int(s) for s in self.pipeline.predict(frame[self.features])]
