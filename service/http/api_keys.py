"""What counts as an acceptable API key; checked once, at start-up, by the settings.

Kept free of web-framework imports so that reading the settings (the container health check
does) stays cheap.
"""

from __future__ import annotations

import re

MIN_KEY_LENGTH = 16

# Words that mark a value someone meant to replace; compared without case or punctuation.
_PLACEHOLDER_WORDS = (
    "changeme",
    "placeholder",
    "replaceme",
    "secret",
    "password",
    "example",
    "dummy",
    "yourkey",
    "yourapikey",
    "apikeyhere",
)
_TEMPLATE = re.compile(r"^<.*>$|\$\{|\{\{|%\(")
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")


def api_key_problem(key: str) -> str | None:
    """Why ``key`` must not be accepted as an API key, or None; the key itself is never quoted."""
    if not key:
        return "is empty: give a key, or unset the variable to run without auth"
    if _TEMPLATE.search(key):
        return "is an unfilled template placeholder"
    folded = re.sub(r"[^a-z0-9]", "", key.lower())
    if any(word in folded for word in _PLACEHOLDER_WORDS):
        return "looks like a placeholder, not a generated key"
    if not _HEADER_SAFE.fullmatch(key):
        return "must be printable ASCII without spaces, to travel in an HTTP header"
    if len(key) < MIN_KEY_LENGTH:
        return (
            f"is {len(key)} characters long; use at least {MIN_KEY_LENGTH}, e.g. from "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if len(set(key)) < 6:
        return "is too repetitive to be a real key"
    return None
