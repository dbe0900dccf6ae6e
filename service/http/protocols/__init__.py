"""The wire formats the service speaks on one port: its own ``POST /segment``, MLflow's scoring
protocol (``/invocations``) and the Open Inference Protocol (``/v2``).

Each module only decodes bodies into columns, encodes answers and words errors in its protocol's
shape; :mod:`service.http.segment_call` checks and scores for all of them, and the gateway applies
keys, limits, metrics, drift and the request log to all of them alike.
"""
