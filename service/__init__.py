"""The HTTP service: loads a verified bundle once and assigns customers to its segments.

Modules: ``settings`` (configuration), ``app`` (factory and lifespan), ``model`` (the loaded
model object that does the scoring, and its reload), ``schemas`` (request and response bodies),
``errors`` (one error shape, mapped to status codes in one place), ``routes`` (thin HTTP
handlers). Operations: ``auth`` and ``api_keys`` (API keys), ``body_limit``, ``request_log`` and
``log_format`` (JSON request logs), ``metrics`` (Prometheus, one or many workers), ``drift``,
``reload`` (POST /admin/reload and SIGHUP in a worker) and ``supervisor`` (SIGHUP with several
workers). See OPERATIONS.md beside this file.
"""
