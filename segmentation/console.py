"""What the command lines print while they work: ``program: message`` log lines and progress.

``segment-train``, ``segment-names`` and ``segment-score`` share it, so every command reports
progress the same way: a bar on a terminal, plain log lines anywhere else (CI, a pipe, a file).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import NoReturn, ParamSpec, TextIO

from tqdm import tqdm

logger = logging.getLogger(__name__)
# The packages whose loggers a command line prints; library users configure logging themselves.
CLI_LOGGERS = ("training", "scoring", "segmentation", "spark_engine")
LOG_EVERY_SECONDS = 5.0
P = ParamSpec("P")


class Progress:
    """Counts work done on one step; ``total`` may be unknown (rows of a file being read)."""

    def __init__(
        self, step: str, total: int | None = None, unit: str = "rows", stream: TextIO | None = None
    ) -> None:
        self.step = step
        self.total = total
        self.unit = unit
        self.done = 0
        stream = stream or sys.stderr
        interactive = stream.isatty() and logger.isEnabledFor(logging.INFO)
        self._bar = (
            tqdm(desc=step, total=total, unit=unit, unit_scale=True, file=stream, leave=False)
            if interactive
            else None
        )
        self._started = self._last_log = time.monotonic()

    def advance(self, amount: int = 1, detail: str | None = None) -> None:
        self.done += amount
        if self._bar is not None:
            self._bar.update(amount)
            if detail:
                self._bar.set_postfix_str(detail)
            return
        now = time.monotonic()
        if detail or now - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = now
            of = f"/{self.total:,}" if self.total else ""
            logger.info(
                "%s: %s%s %s%s",
                self.step,
                f"{self.done:,}",
                of,
                self.unit,
                f" ({detail})" if detail else "",
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
        if kind is None:
            elapsed = time.monotonic() - self._started
            logger.info("%s: done, %s %s in %.1fs", self.step, f"{self.done:,}", self.unit, elapsed)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time, so redirections are respected."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def configure_logging(program: str, *, quiet: bool) -> None:
    """Progress and warnings as plain ``program: message`` lines on stderr."""
    for name in CLI_LOGGERS:
        package_logger = logging.getLogger(name)
        package_logger.setLevel(logging.WARNING if quiet else logging.INFO)
        handler = next((h for h in package_logger.handlers if isinstance(h, _StderrHandler)), None)
        if handler is None:
            handler = _StderrHandler()
            package_logger.addHandler(handler)
            package_logger.propagate = False
        handler.setFormatter(logging.Formatter(f"{program}: %(message)s"))


def add_spark_arguments(
    parser: argparse.ArgumentParser, engine_help: str
) -> argparse._ArgumentGroup:
    """--engine and the Spark session's options, the same for every command that runs on Spark;
    returns the group, for a command's own Spark options."""
    spark = parser.add_argument_group(
        "on Apache Spark (needs the [spark] extra and Java 17; see docs/spark.md)"
    )
    spark.add_argument("--engine", choices=("local", "spark"), default="local", help=engine_help)
    spark.add_argument(
        "--master",
        help="Spark master (default: local[*], or the cluster's under spark-submit/Databricks)",
    )
    spark.add_argument(
        "--spark-conf",
        action="append",
        metavar="KEY=VALUE",
        help="a Spark setting, repeatable, e.g. spark.executor.memory=4g",
    )
    return spark


def ends_quietly_on_closed_pipe(main: Callable[P, int]) -> Callable[P, int]:
    """A command's ``main`` that ends as Unix tools do when its reader goes away
    (``segment-train ... | head``): no traceback, killed by SIGPIPE (exit status 141 in a shell).

    Python ignores SIGPIPE and raises BrokenPipeError instead, on a write or on the final flush;
    every command line wraps its ``main`` in this, so all of them behave the same.
    """

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            code = main(*args, **kwargs)
            sys.stdout.flush()  # inside the try: a closed pipe often shows only here
        except BrokenPipeError:
            _end_as_if_killed_by_sigpipe()
        return code

    return run


def _end_as_if_killed_by_sigpipe() -> NoReturn:
    # Whatever is still buffered would fail again at exit; send it nowhere instead.
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # a stream without a descriptor (a test's capture)
            continue
    sigpipe = getattr(signal, "SIGPIPE", None)
    if sigpipe is not None:
        signal.signal(sigpipe, signal.SIG_DFL)
        os.kill(os.getpid(), sigpipe)
    raise SystemExit(128 + (sigpipe or 13))
