"""Record every network attempt outside loopback (a socket audit hook), for tests that assert
a command never leaves the machine behind the polite client's back."""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import threading
from collections.abc import Iterator
from typing import Any

_LOCK = threading.Lock()
_ACTIVE: list[list[str]] = []
_INSTALLED = False


def _loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    text = str(host).strip("[]")
    if text in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE or event not in ("socket.getaddrinfo", "socket.connect", "socket.gethostbyname"):
        return
    if event == "socket.connect":
        addr = args[1]
        host = addr[0] if isinstance(addr, tuple) and addr else None
    else:
        host = args[0]
    if not _loopback(host):
        for seen in _ACTIVE:
            seen.append(f"{event} {host!r}")


@contextlib.contextmanager
def network_attempts() -> Iterator[list[str]]:
    """``with network_attempts() as seen:`` - ``seen`` lists each non-loopback lookup or
    connection made inside (the hook stays installed, idle, for the rest of the process)."""
    global _INSTALLED
    with _LOCK:
        if not _INSTALLED:
            sys.addaudithook(_hook)
            _INSTALLED = True
    seen: list[str] = []
    _ACTIVE.append(seen)
    try:
        yield seen
    finally:
        _ACTIVE.remove(seen)
