"""Which hosts a source's client may reach (kept apart from the client, so sources import it cheaply)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from collectors.config import normalize_host

# characters that parsers disagree on inside an authority: urllib3 ends it at a backslash
# (urlsplit does not), urlsplit drops tabs/newlines, whitespace has no place in a host name
_BAD_IN_AUTHORITY = re.compile(r"[\\\s\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _authority(url: str) -> str:
    """The raw text between ``scheme://`` and the first ``/``, ``?`` or ``#`` (urlsplit's cut)."""
    rest = url.split("//", 1)[1] if "//" in url else ""
    return re.split(r"[/?#]", rest, maxsplit=1)[0]


def _transport_agrees(url: str, parts: SplitResult) -> bool:
    """True when urllib3 (what requests connects with) reads the same host and port as urlsplit."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        target = parse_url(url)
        port = parts.port
    except (LocationParseError, ValueError):
        return False
    host = (target.host or "").lower().strip("[]")
    return host == (parts.hostname or "").lower() and target.port == port


#: ports a host listed without one may be reached on (a name on the list means its web site)
STANDARD_PORTS = (None, 80, 443)


def _suffix(entry: str) -> str:
    """A suffix entry as a domain (``fbcdn.net`` and ``.fbcdn.net`` alike): it matches that
    domain and the names under it, never a look-alike such as ``evilfbcdn.net``."""
    return entry.strip().lower().lstrip(".")


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts a source may talk to: exact ``host[:port]`` names and domain suffixes.

    A host listed with a port allows that port only; one listed without a port, and every
    suffix, allow the standard web ports (none given, 80, 443) only.
    """

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    any_host: bool = False

    @classmethod
    def of(
        cls, hosts: Iterable[str] = (), suffixes: Iterable[str] = (), any_host: bool = False
    ) -> HostPolicy:
        return cls(frozenset(normalize_host(h) for h in hosts), tuple(_suffix(s) for s in suffixes), any_host)

    def allows(self, url: str) -> bool:
        """True when ``url`` is http(s) and its host is on the list. The host checked is the one
        the transport connects to: a URL that urlsplit and urllib3 read differently
        (``http://EVIL\\@ALLOWED/``), or with a backslash, whitespace or control character in its
        authority or a control character anywhere, is refused."""
        if url != url.strip() or _CONTROL.search(url) or _BAD_IN_AUTHORITY.search(_authority(url)):
            return False
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if not _transport_agrees(url, parts):
            return False
        if self.any_host:
            return True
        if normalize_host(parts.netloc) in self.hosts:
            return True
        if parts.port not in STANDARD_PORTS:
            return False
        host = parts.hostname.lower()
        return host in self.hosts or any(host == s or host.endswith("." + s) for s in self.suffixes if s)
