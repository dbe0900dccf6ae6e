"""Hidden working files and folders that get the permissions of what they will become.

``tempfile.mkstemp`` and ``mkdtemp`` create owner-only entries (0600, 0700) whatever the umask,
because they are meant for secrets. A bundle folder, ``CURRENT`` or a scored file renamed from
one of them kept those modes, so a service or a colleague running under another user could not
read what training or scoring wrote. These create the entry exclusively under a random name, as
the ``tempfile`` functions do, but with the modes ``mkdir`` and ``open`` use (0777, 0666), which
the process's umask then narrows as it does for every other file.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

_ATTEMPTS = 100


def fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, empty folder in ``parent`` named ``prefix`` and random characters."""
    for _ in range(_ATTEMPTS):
        path = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            path.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no unused name found", str(parent / prefix))


def fresh_file(parent: Path, prefix: str, suffix: str = "") -> tuple[int, Path]:
    """A new, empty file in ``parent``, open for writing: its descriptor and path."""
    for _ in range(_ATTEMPTS):
        path = parent / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return handle, path
    raise FileExistsError(errno.EEXIST, "no unused name found", str(parent / prefix))
