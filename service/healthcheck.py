"""``python -m service.healthcheck``: exit 0 when the local server answers /health/live.

Container images need a health probe that does not depend on curl being installed; this one
uses only the standard library and the same settings as the server, so it follows SEGMENT_PORT.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from service.settings import get_settings


def main() -> int:
    port = get_settings().port
    url = f"http://127.0.0.1:{port}/health/live"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"healthcheck: {url}: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
