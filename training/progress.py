"""Progress for long training runs: a bar on a terminal, plain log lines anywhere else."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

logger = logging.getLogger("training")
LOG_EVERY_SECONDS = 5.0


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
