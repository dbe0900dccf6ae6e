"""KServe's Python SDK (InferenceRESTClient, protocol v2) calling the service as it calls a KServe
model server; run in the protocol clients' environment (tests.protocol_clients). Prints one JSON
document of what it got.

    python kserve_infer.py URL SPEC_JSON

SPEC: rows (customers x features), names (the features), columns (per feature: its values as
sent, for a model with categorical features), form ("tensor" or "inputs"), binary.
"""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(url: str, spec: dict) -> dict:
    client = InferenceRESTClient(config=RESTConfig(protocol="v2", retries=0, timeout=30))
    binary = spec["binary"]
    if spec["form"] == "tensor":
        rows = np.array(spec["rows"], dtype=np.float64)
        tensor = InferInput(name="input-0", shape=list(rows.shape), datatype="FP64")
        tensor.set_data_from_numpy(rows, binary_data=binary)
        inputs = [tensor]
    else:
        inputs = []
        for name, values in spec["columns"].items():
            text = isinstance(values[0], str)
            array = np.array(values, dtype=np.object_ if text else np.float64)
            tensor = InferInput(
                name=name, shape=[len(values)], datatype="BYTES" if text else "FP64"
            )
            tensor.set_data_from_numpy(array, binary_data=binary)
            inputs.append(tensor)
    request = InferRequest(model_name="segments", infer_inputs=inputs, request_id="k-1")
    try:
        live = await client.is_server_live(url)
        ready = await client.is_model_ready(url, "segments")
        response = await client.infer(url, request, model_name="segments")
    finally:
        await client.close()
    outputs = {output.name: output.as_numpy() for output in response.outputs}
    return {
        "live": live,
        "ready": ready,
        "id": response.id,
        "segment_id": outputs["segment_id"].tolist(),
        "distance": outputs["distance"].tolist(),
        "segment_name": [
            name.decode() if isinstance(name, bytes) else name for name in outputs["segment_name"]
        ],
        "atypical": outputs["atypical"].tolist(),
    }


print(json.dumps(asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))))
