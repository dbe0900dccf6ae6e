"""tritonclient[http] calling the service as it calls a Triton server; run in the protocol
clients' environment (tests.protocol_clients). Prints one JSON document of what it got.

    python triton_infer.py URL SPEC_JSON

SPEC: rows (customers x features), names (the features), form ("tensor": one [n, features]
FP64 tensor; "inputs": one input per feature), binary (the binary tensor extension both ways),
headers (an API key, say).
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, spec = sys.argv[1], json.loads(sys.argv[2])
headers = spec.get("headers")
binary = spec["binary"]
client = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
rows = np.array(spec["rows"], dtype=np.float64)
if spec["form"] == "tensor":
    inputs = [httpclient.InferInput("input-0", list(rows.shape), "FP64")]
    inputs[0].set_data_from_numpy(rows, binary_data=binary)
else:
    inputs = []
    for at, name in enumerate(spec["names"]):
        tensor = httpclient.InferInput(name, [len(rows)], "FP64")
        tensor.set_data_from_numpy(np.ascontiguousarray(rows[:, at]), binary_data=binary)
        inputs.append(tensor)
outputs = [
    httpclient.InferRequestedOutput(name, binary_data=binary)
    for name in ("segment_id", "distance", "segment_name", "atypical")
]
try:
    result = client.infer("segments", inputs, outputs=outputs, request_id="t-1", headers=headers)
except InferenceServerException as error:
    print(json.dumps({"error": error.message(), "status": error.status()}))
    sys.exit(0)
print(
    json.dumps(
        {
            "live": client.is_server_live(headers=headers),
            "ready": client.is_model_ready("segments", headers=headers),
            "server": client.get_server_metadata(headers=headers),
            "metadata": client.get_model_metadata("segments", headers=headers),
            "id": result.get_response()["id"],
            "segment_id": result.as_numpy("segment_id").tolist(),
            "distance": result.as_numpy("distance").tolist(),
            # bytes from binary data, text from JSON, as tritonclient hands BYTES back
            "segment_name": [
                name.decode() if isinstance(name, bytes) else name
                for name in result.as_numpy("segment_name")
            ],
            "atypical": result.as_numpy("atypical").tolist(),
        }
    )
)
