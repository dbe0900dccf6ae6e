"""The Open Inference Protocol ("v2", as KServe, Triton and MLServer speak it), REST: the infer
call's wire format, the model's metadata, and errors as the protocol words them.

A request carries either one input per feature, named as the bundle's schema names it (or an
alias), numeric features in any numeric datatype and categorical ones as ``BYTES``, each of shape
``[n]`` or ``[n, 1]``; or, for a model whose features are all numeric, one numeric tensor of
shape ``[n, features]`` in the schema's order, under any name. (A model with a categorical
feature cannot take its levels in a numeric tensor: such a request is refused with a 400 that
says to send one input per feature.) The answer's outputs are ``segment_id`` (INT64),
``distance`` (FP64), ``segment_name`` (BYTES) and ``atypical`` (BOOL), or those the request
lists in ``outputs`` (``runner_up_segment_id``, ``margin`` and ``confidence`` too, on request),
with the request's ``id``.

The binary tensor data extension is read and written: with an
``Inference-Header-Content-Length`` header, the body is that many bytes of JSON followed by the
inputs whose ``parameters`` give a ``binary_data_size``, in order; outputs asked for with
``"binary_data": true`` (or every output, with the request parameter ``binary_data_output``)
are answered the same way. This is what tritonclient and KServe's client send for speed.

Errors are ``{"error": "..."}``, a bad request a 400, naming the input and row.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any, ClassVar

import msgspec
import numpy as np
import pyarrow as pa
from fastapi.responses import JSONResponse

from segmentation.assigner import EXPLANATION_COLUMNS, Scored
from segmentation.metadata import VERSION_PATTERN
from segmentation.schema import CategoricalFeature, FeatureSchema, NumericFeature
from segmentation.validation import Column, RowProblem
from service.http.asgi import Scope, header
from service.http.batches import Batch, Decoded, check_size
from service.http.errors import ApiError, InvalidRequest, MalformedRequest, NotFound
from service.http.json_body import bad_ids
from service.http.segment_call import Encoded
from service.model.segment_model import SegmentModel

V2_PREFIX = "/v2"
INFER_ROUTE = "/v2/models/{model_name}/infer"
VERSIONED_INFER_ROUTE = "/v2/models/{model_name}/versions/{model_version}/infer"
INFERENCE_HEADER = b"inference-header-content-length"
JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
HEALTH_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})
EXTENSIONS = ("binary_tensor_data",)
PLATFORM = "customer-segmentation_kmeans"

# Little-endian element types of the binary extension, by the protocol's datatype name.
NUMERIC_DATATYPES = {
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
# Every output a request may ask for, with its datatype; the first four by default.
OUTPUTS = {
    "segment_id": "INT64",
    "distance": "FP64",
    "segment_name": "BYTES",
    "atypical": "BOOL",
    "runner_up_segment_id": "INT64",
    "margin": "FP64",
    "confidence": "FP64",
}
DEFAULT_OUTPUTS = tuple(OUTPUTS)[:4]
_EXPLAINED = frozenset(EXPLANATION_COLUMNS)
_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


class _Input(msgspec.Struct, gc=False):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] = {}
    data: list[Any] | None = None


class _Output(msgspec.Struct, gc=False):
    name: str
    parameters: dict[str, Any] = {}


class _Request(msgspec.Struct, gc=False):
    inputs: list[_Input]
    id: str | None = None
    parameters: dict[str, Any] = {}
    outputs: list[_Output] | None = None


_REQUEST = msgspec.json.Decoder(_Request)
_ENCODER = msgspec.json.Encoder()


def infer_route(path: str) -> tuple[str, dict[str, str]] | None:
    """The infer route's template and path parameters, if ``path`` is one."""
    match = _INFER.fullmatch(path)
    if match is None:
        return None
    name, version = match.groups()
    if version is None:
        return INFER_ROUTE, {"model_name": name}
    return VERSIONED_INFER_ROUTE, {"model_name": name, "model_version": version}


def start_infer(scope: Scope, params: dict[str, str]) -> InferCall:
    served = scope["app"].state.settings.model_name
    check_model_name(params["model_name"], served)
    version = params.get("model_version")
    if version is not None:
        check_version(version)
    declared = header(scope, INFERENCE_HEADER)
    json_length = None
    if declared is not None:
        if not declared.strip().isdigit():
            raise MalformedRequest(
                f"Inference-Header-Content-Length: {declared.decode('latin-1')!r} is not a "
                "number of bytes"
            )
        json_length = int(declared)
    return InferCall(served, version, json_length)


def check_model_name(asked: str, served: str) -> None:
    if asked != served:
        raise NotFound(f"model {asked!r} is not served here; the model is {served!r}")


def check_version(version: str) -> None:
    if not VERSION_PATTERN.fullmatch(version):
        raise NotFound(f"model version {version!r} is not a valid bundle version")


def v2_refusal(error: ApiError) -> JSONResponse:
    """``{"error": "..."}``: the protocol's error body; a bad request (422 here) is a 400."""
    status = 400 if error.status_code == 422 else error.status_code
    return JSONResponse({"error": error.message}, status_code=status, headers=error.headers)


@dataclass
class InferCall:
    """One infer request; what the answer must carry (id, outputs) is read with the body."""

    model_name: str
    version: str | None
    json_length: int | None  # the binary extension's header, when sent
    protocol: ClassVar[str] = "v2"
    marks_invalid_rows: ClassVar[bool] = False
    request_id: str | None = None
    outputs: list[tuple[str, bool]] = field(default_factory=list)  # (name, binary)

    def decode(self, body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
        document, blobs = self._split_body(body)
        try:
            request = _REQUEST.decode(document)
        except msgspec.ValidationError as exc:
            raise MalformedRequest(f"the inference request is not valid: {exc}") from None
        except msgspec.DecodeError as exc:
            raise MalformedRequest(f"malformed JSON: {exc}") from None
        self.request_id = request.id
        self.outputs = _requested_outputs(request)
        if not request.inputs:
            raise _bad("inputs: the request has no input")
        data = _input_data(request.inputs, blobs)
        name_of = schema.name_of()
        if len(request.inputs) == 1 and request.inputs[0].name not in name_of:
            return _matrix(request.inputs[0], data[0], schema, max_batch)
        return _per_feature(request.inputs, data, schema, max_batch)

    def encode(self, model: SegmentModel, batch: Batch, scored: Scored) -> Encoded:
        names = [name for name, _ in self.outputs]
        columns = model.assigner.output_columns(scored, explain=bool(_EXPLAINED & set(names)))
        count = len(batch)
        outputs: list[dict[str, Any]] = []
        blobs: list[bytes] = []
        for name, binary in self.outputs:
            datatype = OUTPUTS[name]
            tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [count]}
            values = columns[name]
            if binary:
                blob = _binary(model, name, datatype, values, scored)
                tensor["parameters"] = {"binary_data_size": len(blob)}
                blobs.append(blob)
            else:
                tensor["data"] = values.tolist()
            outputs.append(tensor)
        answer: dict[str, Any] = {"model_name": self.model_name, "model_version": model.version}
        if self.request_id is not None:
            answer["id"] = self.request_id
        answer["outputs"] = outputs
        document = _ENCODER.encode(answer)
        if not blobs:
            return Encoded(document, JSON)
        length = str(len(document)).encode("ascii")
        return Encoded(b"".join([document, *blobs]), OCTET_STREAM, ((INFERENCE_HEADER, length),))

    def _split_body(self, body: bytes) -> tuple[bytes, memoryview]:
        if not body.strip():
            raise MalformedRequest('the request body is empty: send {"inputs": [...]}')
        if self.json_length is None:
            return body, memoryview(b"")
        if self.json_length > len(body):
            raise MalformedRequest(
                f"Inference-Header-Content-Length: {self.json_length} bytes of JSON were "
                f"announced, but the body is {len(body)} bytes"
            )
        view = memoryview(body)
        return bytes(view[: self.json_length]), view[self.json_length :]


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message)


def _requested_outputs(request: _Request) -> list[tuple[str, bool]]:
    binary_default = bool(request.parameters.get("binary_data_output", False))
    if request.outputs is None:
        return [(name, binary_default) for name in DEFAULT_OUTPUTS]
    unknown = [o.name for o in request.outputs if o.name not in OUTPUTS]
    if unknown:
        raise _bad(
            f"outputs: unknown output {unknown[0]!r}; this model answers {', '.join(OUTPUTS)}"
        )
    return [
        (o.name, bool(o.parameters.get("binary_data", binary_default))) for o in request.outputs
    ]


def _input_data(inputs: list[_Input], blobs: memoryview) -> list[list[Any] | memoryview]:
    """Each input's data: its JSON array (flattened) or its slice of the binary part."""
    data: list[list[Any] | memoryview] = []
    offset = 0
    for tensor in inputs:
        size = tensor.parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(blobs):
                raise _bad(
                    f"input {tensor.name!r}: binary_data_size {size!r} does not fit the "
                    f"{len(blobs) - offset} binary bytes left in the body"
                )
            data.append(blobs[offset : offset + size])
            offset += size
        elif tensor.data is None:
            raise _bad(f"input {tensor.name!r}: no data (and no binary_data_size)")
        else:
            values = tensor.data
            if values and type(values[0]) is list:  # nested as the shape: row-major
                values = [value for row in values for value in row]
            data.append(values)
    if offset != len(blobs):
        raise MalformedRequest(
            f"the body has {len(blobs) - offset} binary bytes that no input's "
            "binary_data_size claims"
        )
    return data


def _elements(tensor: _Input) -> int:
    if any(type(size) is not int or size < 0 for size in tensor.shape):
        raise _bad(f"input {tensor.name!r}: shape {tensor.shape} is not a list of sizes")
    return int(np.prod(tensor.shape, dtype=np.int64))


def _matrix(
    tensor: _Input, data: list[Any] | memoryview, schema: FeatureSchema, max_batch: int
) -> Decoded:
    """One ``[n, features]`` numeric tensor, columns in the schema's order."""
    names = schema.names
    width = len(names)
    categorical = [f.name for f in schema.features if isinstance(f, CategoricalFeature)]
    if categorical:
        raise _bad(
            f"input {tensor.name!r}: one [n, {width}] tensor can only carry a model whose "
            f"features are all numbers, and {categorical[0]!r} is categorical; send one input "
            f"per feature ({', '.join(names)}), categorical ones as BYTES (or, if "
            f"{tensor.name!r} was meant as a feature, name it as the model does)"
        )
    dtype = NUMERIC_DATATYPES.get(tensor.datatype)
    if dtype is None:
        raise _bad(
            f"input {tensor.name!r}: datatype {tensor.datatype} is not numeric; send FP64 or "
            "FP32 values"
        )
    if len(tensor.shape) != 2 or tensor.shape[1] != width:
        raise _bad(
            f"input {tensor.name!r}: shape {tensor.shape} is not [n, {width}]: one row per "
            f"customer, one column per feature in order ({', '.join(names)}); or send one "
            "input per feature, named as the model names them"
        )
    count = _elements(tensor) // width
    if not count:
        raise _bad(f"input {tensor.name!r}: the request has no customer (shape {tensor.shape})")
    check_size(count, max_batch, field=tensor.name)
    columns: dict[str, Column]
    if isinstance(data, memoryview):
        matrix = _numbers(tensor, data, dtype, count * width).reshape(count, width)
        columns = {
            name: pa.array(np.ascontiguousarray(matrix[:, at])) for at, name in enumerate(names)
        }
    else:
        _check_length(tensor, data, count * width)
        columns = {name: data[at::width] for at, name in enumerate(names)}

    def field_of(problem: RowProblem) -> str:
        return f"input {tensor.name!r} row {problem.row} ({problem.column})"

    return Decoded(columns, count, "split", field_of, json_types=True)


def _per_feature(
    inputs: list[_Input], data: list[list[Any] | memoryview], schema: FeatureSchema, max_batch: int
) -> Decoded:
    name_of = schema.name_of()
    columns: dict[str, Column] = {}
    sent_as: dict[str, str] = {}
    counts: set[int] = set()
    for tensor, values in zip(inputs, data, strict=True):
        name = name_of.get(tensor.name)
        if name is None:
            raise _bad(
                f"input {tensor.name!r} is not one of the model's columns; send one input per "
                f"feature ({', '.join(schema.names)}), or one [n, {len(schema.names)}] tensor "
                "alone"
            )
        if name in columns:
            raise _bad(f"input {tensor.name!r}: {sent_as[name]!r} already gives {name!r}; send one")
        if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise _bad(f"input {tensor.name!r}: shape {tensor.shape} is not [n] or [n, 1]")
        count = _elements(tensor)
        counts.add(count)
        columns[name] = _column(tensor, name, values, schema, count)
        sent_as[name] = tensor.name
    missing = [name for name in schema.names if name not in columns]
    if missing:
        raise _bad(
            f"missing input {missing[0]!r}: the model needs {', '.join(schema.names)}, one "
            "input each"
        )
    if len(counts) != 1:
        sizes = ", ".join(f"{sent_as[n]} {len(c)}" for n, c in columns.items())
        raise _bad(f"inputs: every input must hold one value per customer; they hold {sizes}")
    (count,) = counts
    if not count:
        raise _bad("inputs: the request has no customer (shape [0])")
    check_size(count, max_batch, field="inputs")
    ids = columns.get(schema.id_column)
    id_list = ids if isinstance(ids, list) else None

    def field_of(problem: RowProblem) -> str:
        return f"input {sent_as.get(problem.column, problem.column)!r} row {problem.row}"

    return Decoded(
        columns,
        count,
        "split",
        field_of,
        customer_ids=id_list,
        found=bad_ids(id_list, lambda row: f"input {sent_as[schema.id_column]!r} row {row}"),
        json_types=True,
    )


def _column(
    tensor: _Input, name: str, values: list[Any] | memoryview, schema: FeatureSchema, count: int
) -> Column:
    """One input's values as a column: a number's as numbers, a category's as text."""
    datatype = tensor.datatype
    numeric = datatype in NUMERIC_DATATYPES
    if name == schema.id_column:
        if datatype != "BYTES" and not datatype.startswith(("INT", "UINT")):
            raise _bad(
                f"input {tensor.name!r}: datatype {datatype}, but {name!r} is the customer "
                "id: send BYTES or an integer type"
            )
    elif isinstance(schema.feature(name), NumericFeature):
        if not numeric:
            raise _bad(
                f"input {tensor.name!r}: datatype {datatype}, but {name!r} is a number: send "
                "FP64, FP32 or an integer type"
            )
    elif datatype != "BYTES":
        raise _bad(
            f"input {tensor.name!r}: datatype {datatype}, but {name!r} is a category: "
            "send its levels as BYTES"
        )
    if not isinstance(values, memoryview):
        _check_length(tensor, values, count)
        return values
    if datatype == "BYTES":
        return _strings(tensor, values, count)
    numbers = _numbers(tensor, values, NUMERIC_DATATYPES[datatype], count)
    if name == schema.id_column:
        return numbers.astype(np.int64).tolist()
    return pa.array(numbers)


def _check_length(tensor: _Input, values: list[Any] | memoryview, count: int) -> None:
    if len(values) != count:
        raise _bad(
            f"input {tensor.name!r}: shape {tensor.shape} holds {count} values, but data has "
            f"{len(values)}"
        )


def _numbers(tensor: _Input, blob: memoryview, dtype: str, count: int) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    if len(blob) != count * size:
        raise _bad(
            f"input {tensor.name!r}: {len(blob)} binary bytes, but shape {tensor.shape} of "
            f"{tensor.datatype} needs {count * size}"
        )
    numbers = np.frombuffer(blob, dtype=dtype)
    # Arrow's checks read integers and floats of 32 and 64 bits; anything else is widened.
    return numbers if numbers.dtype.itemsize >= 4 else numbers.astype(np.float64)


def _strings(tensor: _Input, blob: memoryview, count: int) -> list[str]:
    """BYTES elements as the extension lays them out: a 4-byte little-endian length, then
    the bytes, for each."""
    values: list[str] = []
    position = 0
    for row in range(count):
        if position + 4 > len(blob):
            raise _bad(f"input {tensor.name!r}: the binary data ends before element {row}")
        (length,) = struct.unpack_from("<I", blob, position)
        position += 4
        try:
            values.append(bytes(blob[position : position + length]).decode("utf-8"))
        except UnicodeDecodeError:
            raise _bad(f"input {tensor.name!r} row {row}: not UTF-8 text") from None
        position += length
    if position != len(blob):
        raise _bad(
            f"input {tensor.name!r}: {len(blob) - position} binary bytes after {count} elements"
        )
    return values


def _binary(model: SegmentModel, name: str, datatype: str, values: Any, scored: Scored) -> bytes:
    if datatype == "BYTES":
        encoded = _bytes_elements(model.assigner.segment_names)
        # Names are per centroid row; ids may have gaps once a segment is retired.
        return b"".join([encoded[i] for i in scored.assignments.positions.tolist()])
    if datatype == "BOOL":
        return np.asarray(values, dtype=np.bool_).tobytes()
    return np.asarray(values, dtype=NUMERIC_DATATYPES[datatype]).tobytes()


@lru_cache(maxsize=16)
def _bytes_elements(names: tuple[str, ...]) -> tuple[bytes, ...]:
    """Each segment name as one BYTES element (its length, then its UTF-8), once per model."""
    texts = [name.encode("utf-8") for name in names]
    return tuple(struct.pack("<I", len(text)) + text for text in texts)


# ---------------------------------------------------------------------------------------------
# metadata


def server_metadata() -> dict[str, Any]:
    return {
        "name": "customer-segmentation",
        "version": metadata.version("customer-segmentation"),
        "extensions": list(EXTENSIONS),
    }


def model_metadata(name: str, models: list[SegmentModel]) -> dict[str, Any]:
    """The model's metadata: its inputs from the (first listed) bundle's schema."""
    schema = models[0].schema
    inputs = [
        {
            "name": feature.name,
            "datatype": "FP64" if isinstance(feature, NumericFeature) else "BYTES",
            "shape": [-1],
        }
        for feature in schema.features
    ]
    return {
        "name": name,
        "versions": [model.version for model in models],
        "platform": PLATFORM,
        "inputs": inputs,
        "outputs": [
            {"name": output, "datatype": datatype, "shape": [-1]}
            for output, datatype in OUTPUTS.items()
        ],
    }
