"""The parent of several worker processes: uvicorn's supervisor, with SIGHUP meaning "reload".

uvicorn's own supervisor answers SIGHUP by replacing every worker. A replacement that finds a
bad bundle would start without a model and answer 503, which is what a reload must never do;
so here SIGHUP is forwarded to the workers, and each reloads in place, keeping its model if the
new bundle is refused.
"""

from __future__ import annotations

import logging
import os
import signal

from uvicorn.supervisors import Multiprocess

logger = logging.getLogger(__name__)


class Supervisor(Multiprocess):
    def handle_hup(self) -> None:
        logger.info("SIGHUP: asking every worker to reload the model")
        for process in self.processes:
            # A worker still starting has no handler yet (SIGHUP would end it); it loads the
            # current bundle on its own as it starts.
            if process.pid is not None and process.is_ready(timeout=1):
                os.kill(process.pid, signal.SIGHUP)
