"""The HTTP service: loads a verified bundle once and assigns customers to its segments.

``settings`` (configuration), ``app`` (factory and lifespan), ``healthcheck`` (the container's
probe, which imports no ML library). Three layers below them:

- ``http``: routes, request parsing, schemas, one error shape mapped to status codes, middleware
  (API keys, body limit, request log) and the OpenAPI document;
- ``model``: the loaded model that does the scoring, the registry of served versions, reload;
- ``operations``: worker supervision, Prometheus metrics, drift monitoring, the JSON log format.
"""
