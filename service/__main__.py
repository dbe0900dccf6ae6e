"""``segment-serve`` / ``python -m service``: serve the model with uvicorn, configured by env.

The command takes no arguments but ``--help``: every setting is a ``SEGMENT_*`` variable. Any
other argument is refused (exit code 2) rather than ignored, naming the variable an option
stands for (``--port 8852``: ``SEGMENT_PORT``), so a server never listens where nobody asked.
"""

from __future__ import annotations

import argparse
import logging.config
import os
import shlex
import shutil
import sys
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from service.defaults import ENV_PREFIX
from service.model.registry import ExtraVersionUnavailable, ModelRegistry
from service.model.reload import SUPERVISOR_PID_ENV
from service.operations.drift import clear_shared_baseline
from service.operations.log_format import logging_config
from service.operations.metrics import prepare_multiprocess_dir
from service.operations.supervisor import Supervisor
from service.settings import Settings, describe_settings_error, get_settings

EXIT_BAD_CONFIGURATION = 2
EXIT_STARTUP_FAILURE = 3
# The docs page that lists every setting (the table is generated from ``Settings``).
SETTINGS_PAGE = "docs/operations.md#settings"


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="segment-serve",
        description="Serve the current model bundle over HTTP with uvicorn: POST /segment, "
        "MLflow's /invocations, the Open Inference Protocol v2, health checks, metrics and the "
        "web page at /ui.",
        epilog="It takes no other arguments: it is configured by SEGMENT_* environment "
        "variables, read once at start-up, such as SEGMENT_MODELS_DIR (default: models), "
        "SEGMENT_HOST (127.0.0.1), SEGMENT_PORT (8000) and SEGMENT_WORKERS (1); for example "
        f"SEGMENT_PORT=8080 segment-serve. Every setting is listed in {SETTINGS_PAGE} "
        "(Operations, Settings).",
    )


def refusal(arguments: Sequence[str]) -> str:
    """Why ``arguments`` are refused, naming the variable each option stands for."""
    variables: dict[str, tuple[str, str]] = {}
    for at, argument in enumerate(arguments):
        option, equals, value = argument.partition("=")
        name = option.lstrip("-").replace("-", "_").lower()
        if not option.startswith("--") or name not in Settings.model_fields:
            continue
        following = arguments[at + 1] if at + 1 < len(arguments) else ""
        if not equals and not following.startswith("-"):
            value = following
        variables[f"{ENV_PREFIX}{name.upper()}"] = (option, value)
    message = (
        f"no arguments are taken (got {shlex.join(arguments)}): settings come from SEGMENT_* "
        "environment variables, read at start-up"
    )
    if variables:
        named = ", ".join(f"{variable} for {option}" for variable, (option, _) in variables.items())
        example = " ".join(f"{k}={shlex.quote(v or '...')}" for k, (_, v) in variables.items())
        message += f"; set {named} ({example} segment-serve)"
    return f"{message}. Every setting is listed in {SETTINGS_PAGE} (and segment-serve --help)"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments:
        parser = build_parser()
        _, others = parser.parse_known_args(arguments)  # --help: the usage, exit code 0
        parser.error(refusal(others or arguments))
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
