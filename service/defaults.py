"""The few settings facts the health probe needs, without pydantic: the variables' prefix and
the port. ``service.settings`` builds on them; the probe reads them alone, so it starts in a
blink even on a busy node."""

from __future__ import annotations

from typing import Final

ENV_PREFIX: Final = "SEGMENT_"
DEFAULT_PORT: Final = 8000
PORT_VARIABLE: Final = f"{ENV_PREFIX}PORT"
