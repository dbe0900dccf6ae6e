"""``segment-serve`` / ``python -m service``: serve the model with uvicorn, configured by env."""

from __future__ import annotations

import logging.config
import os
import shutil
import sys

import uvicorn
from pydantic import ValidationError

from service.model.registry import ExtraVersionUnavailable, ModelRegistry
from service.model.reload import SUPERVISOR_PID_ENV
from service.operations.drift import clear_shared_baseline
from service.operations.log_format import logging_config
from service.operations.metrics import prepare_multiprocess_dir
from service.operations.supervisor import Supervisor
from service.settings import describe_settings_error, get_settings

EXIT_BAD_CONFIGURATION = 2
EXIT_STARTUP_FAILURE = 3


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        sys.stderr.write(f"segment-serve: invalid configuration:\n{describe_settings_error(exc)}\n")
        return EXIT_BAD_CONFIGURATION
    try:
        # Checked here too, not only in each worker's start-up: one clear line, no traceback.
        ModelRegistry().load_pinned(settings.models_dir, settings.extra_versions)
    except ExtraVersionUnavailable as exc:
        sys.stderr.write(f"segment-serve: invalid configuration: {exc}\n")
        return EXIT_BAD_CONFIGURATION
    log_config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    workers = settings.worker_count()
    metrics_dir, temporary = None, False
    if workers > 1:
        # Before any worker starts: prometheus-client reads the variable when it is imported.
        metrics_dir, temporary = prepare_multiprocess_dir(settings.metrics_dir)
        clear_shared_baseline(metrics_dir)
    # The factory runs in each worker process, which reads the same SEGMENT_* environment.
    config = uvicorn.Config(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=log_config,
        log_level=settings.log_level,
        access_log=False,  # service.http.request_log writes one line per request instead
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
    )
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            os.environ[SUPERVISOR_PID_ENV] = str(os.getpid())
            Supervisor(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if temporary and metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    if workers == 1 and not server.started:
        return EXIT_STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
