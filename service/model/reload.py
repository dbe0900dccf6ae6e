"""Zero-downtime reload of the model, from ``POST /admin/reload`` or a SIGHUP.

The new bundle is loaded and verified while the old model keeps serving, then swapped in (see
``ModelRegistry.reload``). With several workers each worker holds its own model: a SIGHUP to the
supervisor is forwarded to every worker, and a worker that receives ``POST /admin/reload`` asks
the supervisor to do that, so one call reloads the whole server. That signal reaches the asking
worker too, which does not reload (nor count) it again when it still serves the version named;
a SIGHUP an operator sends is a reload whatever is served, as with one worker.

The workers of one supervisor share a record of the version the service serves (in the
multiprocess folder), so a worker started in place of one that died can serve it when the bundle
CURRENT names was refused (``ModelRegistry.load``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Literal

from service.model.registry import ModelRegistry, ReloadOutcome, ServedRecord
from service.operations.metrics import SERVED_VERSION_FILE, Metrics
from service.settings import Settings

# Set by the supervisor for its workers: a worker only signals a parent that says it is one.
SUPERVISOR_PID_ENV = "_SEGMENT_SUPERVISOR_PID"
# Seconds a worker that asked for the signal to every worker waits for its own (it comes within
# milliseconds, or not at all when the supervisor finds the worker busy).
OWN_SIGNAL_WAIT = 5.0

Trigger = Literal["api", "signal"]

logger = logging.getLogger(__name__)


class Reloader:
    def __init__(self, registry: ModelRegistry, settings: Settings, metrics: Metrics) -> None:
        self.registry = registry
        self.settings = settings
        self.metrics = metrics
        self._tasks: set[asyncio.Task[ReloadOutcome]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Until when the supervisor's signal to every worker, asked for by this one, is awaited
        # (time.monotonic): a deadline, not a flag, since the supervisor skips a worker that is
        # busy, and a flag left set would swallow the next SIGHUP an operator sends.
        self._own_signal_until = 0.0
        if metrics.multiprocess_dir is not None and _supervisor() is not None:
            # Before the lifespan loads the model: a worker replacing one that died reads it.
            registry.record = ServedRecord(metrics.multiprocess_dir / SERVED_VERSION_FILE)

    async def reload(self, trigger: Trigger) -> ReloadOutcome:
        own_signal = trigger == "signal" and time.monotonic() < self._own_signal_until
        if trigger == "signal":
            self._own_signal_until = 0.0
        outcome = await self.registry.reload(
            self.settings.models_dir, self.settings.model_version, unless_serving=own_signal
        )
        if outcome.skipped:
            logger.info(
                "model reload (%s) not needed: this worker asked for it, and already serves %s",
                trigger,
                outcome.version,
                extra={"model_version": outcome.version, "trigger": trigger},
            )
            return outcome
        self.metrics.record_reload(trigger, outcome.ok)
        if outcome.ok:
            self.metrics.serving(outcome.version, outcome.previous_version)
            logger.info(
                "model reloaded (%s): serving %s, was %s",
                trigger,
                outcome.version,
                outcome.previous_version,
                extra={"model_version": outcome.version, "trigger": trigger},
            )
        else:
            logger.error(
                "model reload (%s) refused, still serving %s: %s",
                trigger,
                outcome.version or "no model",
                outcome.reason,
                extra={"model_version": outcome.version, "trigger": trigger},
            )
        return outcome

    def ask_other_workers(self) -> bool:
        """Ask the supervisor to forward a SIGHUP to every worker; False without one."""
        supervisor = _supervisor()
        if supervisor is None:
            return False
        self._own_signal_until = time.monotonic() + OWN_SIGNAL_WAIT
        os.kill(supervisor, signal.SIGHUP)
        return True

    def install_signal_handler(self) -> bool:
        """Reload on SIGHUP; False where signals cannot be handled (not the main thread)."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        self._loop = loop
        return True

    def remove_signal_handler(self) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGHUP)
            self._loop = None

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload("signal"))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)


def _supervisor() -> int | None:
    """The pid of the supervisor this process is a worker of, if it is one."""
    supervisor = os.environ.get(SUPERVISOR_PID_ENV, "")
    if not supervisor.isdigit() or int(supervisor) != os.getppid():
        return None
    return int(supervisor)
