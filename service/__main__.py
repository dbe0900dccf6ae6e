"""``segment-serve`` / ``python -m service``: serve the model with uvicorn, configured by env.

The command takes no arguments but ``--help``: every setting is a ``SEGMENT_*`` variable. Any
other argument is refused (exit code 2) rather than ignored, naming the variable an option
stands for (``--port 8852``: ``SEGMENT_PORT``), so a server never listens where nobody asked.
What uvicorn or the metrics folder would otherwise report as a traceback or a bare errno (a
host that does not resolve, a port in use, a file given as a folder) is checked first and
refused the same way: exit code 2, one line naming the variable and its value.
"""

from __future__ import annotations

import argparse
import errno
import logging.config
import os
import shlex
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from service.defaults import ENV_PREFIX, PORT_VARIABLE
from service.model.registry import ExtraVersionUnavailable, ModelRegistry
from service.model.reload import SUPERVISOR_PID_ENV
from service.operations.drift import clear_shared_baseline
from service.operations.log_format import logging_config
from service.operations.metrics import MULTIPROCESS_ENV, prepare_multiprocess_dir
from service.operations.supervisor import Supervisor
from service.settings import (
    SETTINGS_PAGE,
    Settings,
    authentication_summary,
    client_key_refusal,
    describe_settings_error,
    get_settings,
    unknown_variable_warnings,
)

logger = logging.getLogger("service.start")
HOST_VARIABLE = f"{ENV_PREFIX}HOST"

EXIT_BAD_CONFIGURATION = 2
EXIT_STARTUP_FAILURE = 3


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


def listen_problem(host: str, port: int, workers: int) -> str | None:
    """Why the server could not listen on ``host``:``port``, or None, found by binding (and
    closing) the socket uvicorn will: its own failure names neither the variable nor the value.

    One worker binds every address the host resolves to, as asyncio does; several share one
    socket, IPv6 only for a host written with ':', as uvicorn's supervisor does.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if workers == 1:
        family = socket.AF_UNSPEC
    try:
        addresses = socket.getaddrinfo(
            host or None, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return (
            f"{HOST_VARIABLE} {host!r} cannot be resolved ({exc.strerror}): give a name or "
            "address of this machine, such as 127.0.0.1, or 0.0.0.0 for every interface"
        )
    if workers > 1:
        addresses = addresses[:1]  # the one socket.bind((host, port)) would take
    bound, unavailable = 0, None
    for address_family, kind, protocol, _, address in addresses:
        with socket.socket(address_family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if address_family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                # asyncio skips an address it cannot assign (a disabled family, say).
                if exc.errno != errno.EADDRNOTAVAIL or workers > 1:
                    return _bind_problem(host, port, exc)
                unavailable = exc
            else:
                bound += 1
    return _bind_problem(host, port, unavailable) if unavailable and not bound else None


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{PORT_VARIABLE} {port} on {HOST_VARIABLE} {host!r}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where}: the address is already in use (another server?): stop it, or choose "
            f"another {PORT_VARIABLE}"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{HOST_VARIABLE} {host!r} is not an address of this machine ({exc.strerror}): give "
            "one of its addresses, such as 127.0.0.1, or 0.0.0.0 for every interface"
        )
    if exc.errno == errno.EACCES:
        return (
            f"{where}: permission denied (ports below 1024 need privileges): choose a "
            f"{PORT_VARIABLE} from 1024 up"
        )
    return f"{where}: cannot listen there ({exc.strerror})"


def metrics_dir_problem(configured: Path | None, exc: OSError) -> str:
    """The folder prepare_multiprocess_dir could not use, named by where it came from."""
    inherited = os.environ.get(MULTIPROCESS_ENV)
    if configured is not None:
        where = f"{ENV_PREFIX}METRICS_DIR {configured}"
    elif inherited:
        where = f"{MULTIPROCESS_ENV} {inherited} (from the environment)"
    else:
        where = "a temporary folder for the workers' metrics"
    folder = configured or (Path(inherited) if inherited else None)
    if folder is not None and folder.exists() and not folder.is_dir():
        reason = "it is a file, not a folder"
    else:
        reason = exc.strerror or type(exc).__name__
        if exc.filename and Path(exc.filename) != folder:
            reason += f": {exc.filename}"
    return (
        f"{where}: cannot hold the workers' metrics files ({reason}); set "
        f"{ENV_PREFIX}METRICS_DIR to a folder the service may write, or leave it unset for a "
        "temporary one"
    )


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
    log_config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    for warning in unknown_variable_warnings(os.environ):
        logger.warning(warning)
    workers = settings.worker_count()
    problem = client_key_refusal(settings, os.environ) or listen_problem(
        settings.host, settings.port, workers
    )
    if problem:
        sys.stderr.write(f"segment-serve: invalid configuration: {problem}\n")
        return EXIT_BAD_CONFIGURATION
    try:
        # Checked here too, not only in each worker's start-up: one clear line, no traceback.
        ModelRegistry().load_pinned(settings.models_dir, settings.extra_versions)
    except ExtraVersionUnavailable as exc:
        sys.stderr.write(f"segment-serve: invalid configuration: {exc}\n")
        return EXIT_BAD_CONFIGURATION
    metrics_dir, temporary = None, False
    if workers > 1:
        # Before any worker starts: prometheus-client reads the variable when it is imported.
        try:
            metrics_dir, temporary = prepare_multiprocess_dir(settings.metrics_dir)
            # The first write there: a folder that cannot be written fails here.
            clear_shared_baseline(metrics_dir)
        except OSError as exc:
            problem = metrics_dir_problem(settings.metrics_dir, exc)
            sys.stderr.write(f"segment-serve: invalid configuration: {problem}\n")
            return EXIT_BAD_CONFIGURATION
    # Said once, by this process: whoever reads the log sees whether the service is open.
    open_service = not settings.configured_api_keys()
    logger.log(logging.WARNING if open_service else logging.INFO, authentication_summary(settings))
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
