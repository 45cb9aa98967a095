"""Which hosts a source's client may reach (kept apart from the client, so sources import it cheaply)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from collectors.config import normalize_host


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts a source may talk to: exact ``host[:port]`` names and name suffixes."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    any_host: bool = False

    @classmethod
    def of(
        cls, hosts: Iterable[str] = (), suffixes: Iterable[str] = (), any_host: bool = False
    ) -> HostPolicy:
        return cls(frozenset(normalize_host(h) for h in hosts), tuple(s.lower() for s in suffixes), any_host)

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if self.any_host:
            return True
        netloc = normalize_host(parts.netloc)
        return (
            netloc in self.hosts
            or parts.hostname.lower() in self.hosts
            or any(parts.hostname.lower().endswith(s) for s in self.suffixes)
        )
