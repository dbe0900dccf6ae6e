"""The Open Inference Protocol's own clients, unchanged, calling a running server:
``tritonclient[http]`` (as it calls Triton) and KServe's ``InferenceRESTClient`` (v2), with JSON
and with binary tensor data, one tensor and one input per feature; every answer checked against
``Pipeline.predict`` on the same rows. The clients run in their own environment
(``tests.protocol_clients``): KServe pins libraries the project does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segmentation.bundle import Bundle
from tests.protocol_clients import run_client
from tests.real_server import start_server

pytestmark = [pytest.mark.e2e, pytest.mark.protocol_clients]

CLIENTS = Path(__file__).parent / "clients"
TRITON = CLIENTS / "triton_infer.py"
KSERVE = CLIENTS / "kserve_infer.py"


def spec(frame: pd.DataFrame, form: str, binary: bool, **more: Any) -> str:
    return json.dumps(
        {
            "rows": frame.to_numpy().tolist() if form == "tensor" else None,
            "names": list(frame.columns),
            "columns": frame.to_dict(orient="list"),
            "form": form,
            "binary": binary,
            **more,
        }
    )


def names_of(bundle: Bundle, ids: list[int]) -> list[str]:
    by_id = {profile.id: profile.name for profile in bundle.metadata.segments}
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    ("form", "binary"), [("tensor", True), ("tensor", False), ("inputs", True), ("inputs", False)]
)
def test_tritonclient(
    server: str,
    bundle: Bundle,
    customers: pd.DataFrame,
    expected: list[int],
    form: str,
    binary: bool,
) -> None:
    rows = customers.to_numpy().tolist()
    got = run_client(TRITON, server, spec(customers, form, binary, rows=rows))
    assert got["segment_id"] == expected
    assert got["segment_name"] == names_of(bundle, expected)
    assert len(got["distance"]) == len(expected)
    assert {type(flag) for flag in got["atypical"]} == {bool}
    assert got["id"] == "t-1"
    assert got["live"] is True
    assert got["ready"] is True
    assert got["server"]["extensions"] == ["binary_tensor_data"]
    assert [i["name"] for i in got["metadata"]["inputs"]] == list(bundle.metadata.features)


def test_tritonclient_reads_the_protocols_error(server: str, customers: pd.DataFrame) -> None:
    rows = customers.to_numpy().tolist()
    rows[4][0] = 150
    got = run_client(TRITON, server, spec(customers, "tensor", True, rows=rows))
    assert got["status"] == "400"
    assert "input 'input-0' row 4 (age): value 150.0 is outside the valid range" in got["error"]


@pytest.mark.parametrize("binary", [True, False])
def test_kserve_client(
    server: str, bundle: Bundle, customers: pd.DataFrame, expected: list[int], binary: bool
) -> None:
    got = run_client(KSERVE, server, spec(customers, "tensor", binary))
    assert got["segment_id"] == expected
    assert got["segment_name"] == names_of(bundle, expected)
    # KServe 0.21's client does not read model_version (InferResponse.from_bytes drops it);
    # the server sends it (test_open_inference_server).
    assert got["id"] == "k-1"
    assert got["live"] is True
    assert got["ready"] is True


@pytest.fixture(scope="module")
def retail_server(retail: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_server(retail.path.parent, tmp_path_factory.mktemp("retail") / "server.log")
    try:
        server.wait_for()
        yield server.url
    finally:
        output = server.stop()
    assert "Traceback" not in output, output


@pytest.mark.parametrize("binary", [True, False])
def test_kserve_client_sends_categories_as_bytes(
    retail_server: str, retail: Bundle, retail_customers: pd.DataFrame, binary: bool
) -> None:
    got = run_client(KSERVE, retail_server, spec(retail_customers, "inputs", binary))
    assert got["segment_id"] == [int(s) for s in retail.pipeline.predict(retail_customers)]
