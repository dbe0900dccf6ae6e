"""``segment-serve`` / ``python -m service``: serve the model with uvicorn, configured by env."""

from __future__ import annotations

import logging

import uvicorn

from service.settings import get_settings


def main() -> int:
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    # The factory runs in each worker process, which reads the same SEGMENT_* environment.
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.worker_count(),
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
