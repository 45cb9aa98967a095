"""Turn untrusted ids from sites into safe file names, or refuse them."""

from __future__ import annotations

import re

MAX_NAME = 128
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_safe_name(value: str, *, what: str = "id") -> str:
    """Return ``value`` if it is safe as one path component, else raise ``ValueError``.

    Refused: empty, longer than 128, NUL, ``/`` or ``\\``, ``..``, leading dot or dash,
    anything outside ``[A-Za-z0-9._-]``.
    """
    if not value or len(value) > MAX_NAME:
        raise ValueError(f"{what} must be 1..{MAX_NAME} characters, got {len(value)}")
    if "\x00" in value or "/" in value or "\\" in value or ".." in value or not _SAFE.match(value):
        raise ValueError(
            f"{what} {value!r} is not a safe file name (allowed: letters, digits, '.', '_', '-')"
        )
    return value
