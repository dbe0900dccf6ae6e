"""``segment-serve`` / ``python -m service``: serve the model with uvicorn, configured by env."""

from __future__ import annotations

import uvicorn

from service.app import create_app
from service.settings import get_settings


def main() -> int:
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
