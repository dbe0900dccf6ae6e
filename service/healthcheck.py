"""``python -m service.healthcheck``: exit 0 when the local server answers /health/live.

Container images need a health probe that does not depend on curl being installed, and a probe
that times out on a busy node gets a healthy container restarted. So this one uses only the
standard library and ``service.defaults``: it reads SEGMENT_PORT as the server does, and a port
the server would refuse fails the probe with the reason.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from service.defaults import DEFAULT_PORT, PORT_VARIABLE


def main() -> int:
    text = os.environ.get(PORT_VARIABLE, "").strip() or str(DEFAULT_PORT)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        sys.stderr.write(f"healthcheck: {PORT_VARIABLE}={text!r} is not a port (1 to 65535)\n")
        return 1
    url = f"http://127.0.0.1:{int(text)}/health/live"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"healthcheck: {url}: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
