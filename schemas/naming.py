"""Turn untrusted ids from sites into safe file names, or refuse them."""

from __future__ import annotations

import re

MAX_NAME = 128
#: The whole name (matched with ``fullmatch``: ``$`` would also accept a final newline).
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def has_control_char(value: str) -> bool:
    """Whether ``value`` holds a NUL, newline, tab or any other C0/C1 control character."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)


def check_safe_name(value: str, *, what: str = "id") -> str:
    """Return ``value`` if it is safe as one path component, else raise ``ValueError``.

    Refused: empty, longer than 128, NUL or any other control character (a trailing newline
    too), ``/`` or ``\\``, ``..``, leading dot or dash, anything outside ``[A-Za-z0-9._-]``.
    """
    if not value or len(value) > MAX_NAME:
        raise ValueError(f"{what} must be 1..{MAX_NAME} characters, got {len(value)}")
    if has_control_char(value):
        raise ValueError(f"{what} {value!r} holds a control character (a newline, NUL, ...)")
    if "/" in value or "\\" in value or ".." in value or not _SAFE.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not a safe file name (allowed: letters, digits, '.', '_', '-')"
        )
    return value
