"""The baseline: the straightforward way to serve the pipeline with FastAPI.

A pydantic body model, a synchronous route (FastAPI runs it in its thread pool) and
``Pipeline.predict`` on a one-row DataFrame, with the bundle's pipeline loaded by joblib. Issue 6
measures the service against it, so it is deliberately plain: no tuning of any kind.

    BENCH_MODELS_DIR=DIR uvicorn bench.baseline_app:create_app --factory --workers 1
"""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

from segmentation.metadata import MODEL_FILE, current_version

MODELS_DIR_ENV = "BENCH_MODELS_DIR"


class Customer(BaseModel):
    customer_id: str | int | None = None
    age: float
    annual_income: float
    spending_score: float


class Assignment(BaseModel):
    customer_id: str | int | None
    segment_id: int


def create_app() -> FastAPI:
    models_dir = Path(os.environ[MODELS_DIR_ENV])
    pipeline = joblib.load(models_dir / current_version(models_dir) / MODEL_FILE)
    app = FastAPI(title="Baseline segmentation")

    @app.post("/segment")
    def segment(customer: Customer) -> Assignment:
        frame = pd.DataFrame(
            [
                {
                    "age": customer.age,
                    "annual_income": customer.annual_income,
                    "spending_score": customer.spending_score,
                }
            ]
        )
        segment_id = int(pipeline.predict(frame)[0])
        return Assignment(customer_id=customer.customer_id, segment_id=segment_id)

    @app.get("/health/ready")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app
