"""The HTTP layer: routes, request parsing, schemas, errors, middleware and OpenAPI."""
