"""Request and response examples for /docs, the schema of the hand-validated POST body, and
the API-key requirement of each operation when keys are configured.

The POST /segment body is the current model's: its fields, ranges, levels and examples come from
the served bundle's feature schema, and the document is rebuilt when a reload changes the model
(one document per version, swapped with the model, never a mix of two)."""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.http.arrow_body import ARROW_STREAM
from service.http.errors import AUTH_RESPONSES, ERROR_RESPONSES
from service.http.schemas import NamesEdit, SplitRequest
from service.model.segment_model import SegmentModel

_REF_TEMPLATE = "#/components/schemas/{model}"

SEGMENT_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": _REF_TEMPLATE.format(model="SegmentRequest")},
            # The served model's own examples are added when the document is built.
        },
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "A header line, then one customer per line; the model's column "
                "names or their aliases; other columns are echoed.",
            },
        },
        ARROW_STREAM: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "An Arrow IPC stream with the model's feature columns (numbers; "
                "categorical ones as text), optionally customer_id; other columns are ignored.",
            }
        },
    },
}

# PUT /admin/names reads its body itself (to word errors as the names file's fields).
_NAMES_EDIT = NamesEdit.model_json_schema(ref_template=_REF_TEMPLATE)
NAMES_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": _REF_TEMPLATE.format(model="NamesEdit")},
            "example": {
                "segments": [{"id": 0, "name": "Budget regulars", "action": "Loyalty points"}],
                "version": "20261206T052900Z-6a112abb",
            },
        }
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key as a bearer token.",
    },
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def install_openapi(app: FastAPI, max_batch: int, open_paths: frozenset[str] | None = None) -> None:
    """Add the POST /segment body schema of the current model, which FastAPI cannot see, to the
    components, with the configured batch limit; with ``open_paths`` (keys configured), mark
    every other operation as needing a key."""
    built: dict[str | None, dict[str, Any]] = {}

    def build() -> dict[str, Any]:
        model: SegmentModel | None = app.state.model_registry.model
        version = model.version if model is not None else None
        schema = built.get(version)
        if schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            names_edit = dict(_NAMES_EDIT)
            components.update(names_edit.pop("$defs", {}))
            components["NamesEdit"] = names_edit
            if model is not None:
                body = model.request_adapter(max_batch).json_schema(ref_template=_REF_TEMPLATE)
                components.update(body.pop("$defs", {}))
                components["SegmentObjects"] = body
                _model_examples(schema, model)
            else:
                components["SegmentObjects"] = {
                    "type": "object",
                    "description": "No model is loaded: the fields are the model's features.",
                }
            components["SplitRequest"] = split_request_schema(max_batch, components)
            components["SegmentRequest"] = {
                "title": "SegmentRequest",
                "anyOf": [
                    {"$ref": _REF_TEMPLATE.format(model="SegmentObjects")},
                    {"$ref": _REF_TEMPLATE.format(model="SplitRequest")},
                ],
            }
            _document_body_limit(schema)
            if open_paths is not None:
                _require_keys(schema, open_paths)
            built.clear()  # only the current model's document is kept
            built[version] = schema
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _model_examples(document: dict[str, Any], model: SegmentModel) -> None:
    """Request examples made of the model's own fields: one customer, a batch, the split
    layout and a CSV, each with typical values (training medians, first levels)."""
    schema = model.schema
    one = {schema.id_column: "C-1001", **model.example_customer()}
    two = {schema.id_column: "C-1002", **model.example_customer()}
    columns = list(one)
    examples = {
        "one customer": {"summary": "One customer", "value": one},
        "batch": {"summary": "A batch of customers", "value": {"customers": [one, two]}},
        "split layout": {
            "summary": "Columns once, then rows (pandas orient='split', MLflow's dataframe_split)",
            "value": {"columns": columns, "data": [list(one.values()), list(two.values())]},
        },
    }
    name_of = schema.name_of()
    aliases = {
        next((a for a, n in name_of.items() if n == name and a != name), name): value
        for name, value in one.items()
    }
    if aliases != one:
        examples["other column names"] = {
            "summary": "One customer, under the other names the model accepts (a CRM export's)",
            "value": aliases,
        }
    body = document["paths"]["/segment"]["post"]["requestBody"]["content"]
    body["application/json"]["examples"] = examples
    lines = [",".join(columns), *(",".join(str(v) for v in c.values()) for c in (one, two))]
    body["text/csv"]["example"] = "\n".join(lines) + "\n"
    _answer_examples(document, model, one)


def _answer_examples(
    document: dict[str, Any], model: SegmentModel, customer: dict[str, Any]
) -> None:
    """The 200 answers, as this model gives them for the example customer (its real segment,
    distance, explanation and profile): no other model's fields."""
    frame = pd.DataFrame([customer])
    scored = model.assigner.score(model.assigner.check_table(frame).rows)
    ids = [customer[model.schema.id_column]]
    content = document["paths"]["/segment"]["post"]["responses"]["200"]["content"]
    content["application/json"]["examples"] = {
        "customer objects": {"value": orjson.loads(model.respond(ids, scored, explain=True))},
        "split layout": {
            "value": orjson.loads(model.respond_split(ids, None, scored, explain=True))
        },
    }
    sent = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
    content["text/csv"]["example"] = model.csv_answer(sent, scored, explain=False).decode()


def split_request_schema(max_batch: int, components: dict[str, Any]) -> dict[str, Any]:
    """The split layout's schema with the configured batch limit."""
    schema = SplitRequest.model_json_schema(ref_template=_REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    schema["properties"]["data"]["maxItems"] = max_batch
    return schema


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": _REF_TEMPLATE.format(model="ErrorResponse")}}
        },
    }


def _document_body_limit(schema: dict[str, Any]) -> None:
    """The body limit applies before routing, so every operation that takes a body has a 413."""
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            if method in {"post", "put", "patch"}:
                responses = operation.setdefault("responses", {})
                responses.setdefault("413", _error_response(ERROR_RESPONSES[413]["description"]))


def _require_keys(schema: dict[str, Any], open_paths: frozenset[str]) -> None:
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in schema["paths"].items():
        if path in open_paths:
            continue
        for operation in operations.values():
            operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
            responses = operation.setdefault("responses", {})
            for status, response in AUTH_RESPONSES.items():
                responses.setdefault(str(status), _error_response(response["description"]))
