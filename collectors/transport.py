"""The polite client's rules for sessions that libraries make themselves.

instaloader and yt-dlp send their own HTTP requests. Their sessions are given a
:class:`PoliteAdapter` as transport, so every request they send (each redirect hop included)
passes the same gates as ours: allowed hosts, robots.txt, the per-host rate and concurrency,
and backoff honouring ``Retry-After``. ``host_map`` moves requests for a site's real hosts onto
a mirror (``--base-url``); a request moved to another host loses its credentials
(:data:`CREDENTIAL_HEADERS`: the login cookies and tokens of the real site never reach the
mirror). A session no rule was bound to refuses to send anything (:class:`RefusingAdapter`), so
a library that makes a session behind our back fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from collectors.config import normalize_host
from schemas.errors import FetchError

if TYPE_CHECKING:
    from collectors.http import PoliteClient

log = logging.getLogger("collectors.transport")

#: Headers that carry a site's credentials (the login session's cookies, tokens tied to it):
#: dropped from a request :func:`moved` to another host. The session's cookie jar holds them for
#: the real site's hosts only, so the mirror gets no cookie at all (those it sets itself are
#: kept by ``requests`` under the real host too, and dropped the same way).
CREDENTIAL_HEADERS = ("Cookie", "Authorization", "Proxy-Authorization", "X-CSRFToken")


def map_host(url: str, host_map: Mapping[str, str]) -> str:
    """``url`` with its scheme and host replaced by ``host_map[host]`` (a base URL) when mapped."""
    parts = urlsplit(url)
    base = host_map.get(normalize_host(parts.netloc)) if parts.netloc else None
    if not base:
        return url
    target = urlsplit(base)
    prefix = target.path.rstrip("/")
    return urlunsplit(parts._replace(scheme=target.scheme, netloc=target.netloc, path=prefix + parts.path))


def moved(request: requests.PreparedRequest, url: str) -> requests.PreparedRequest:
    """A copy of ``request`` sent to ``url``. When the host changes it keeps none of the
    :data:`CREDENTIAL_HEADERS` (they were attached for the original host), and its ``Host``
    header, if set, names the new one."""
    new = request.copy()
    new.url = url
    netloc = urlsplit(url).netloc
    if normalize_host(netloc) != normalize_host(urlsplit(request.url or "").netloc):
        dropped = [name for name in CREDENTIAL_HEADERS if new.headers.pop(name, None) is not None]
        if dropped:
            log.debug("%s: %s not sent to another host", url, ", ".join(dropped))
    if "Host" in new.headers:
        new.headers["Host"] = netloc
    return new


class PoliteAdapter(HTTPAdapter):
    """A requests transport that sends through the polite client's rules.

    ``retry``: retry the statuses of ``http.retry_statuses`` (429, 5xx) with the client's
    backoff, honouring ``Retry-After``; the last answer is returned to the library, which
    decides what it means. Without it the adapter only gates (for libraries that retry
    themselves). ``host_map``: hosts whose requests go to another base URL instead, without
    their cookies and other credentials (:func:`moved`).
    """

    def __init__(
        self, client: PoliteClient, *, host_map: Mapping[str, str] | None = None, retry: bool = True
    ) -> None:
        super().__init__(max_retries=0)
        self.client = client
        self.host_map = {normalize_host(k): v for k, v in (host_map or {}).items()}
        self.retry = retry
        self.sent: list[str] = []  # every URL this adapter put on the wire, in order

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        url = map_host(request.url or "", self.host_map)
        if url != request.url:
            request = moved(request, url)  # a mirror: the real site's credentials stay behind
        cfg = self.client.cfg
        if timeout is None:
            timeout = (cfg.connect_timeout_s, cfg.read_timeout_s)
        attempts = cfg.max_retries + 1 if self.retry else 1
        for attempt in range(attempts):
            if self.client.stop.is_set():
                raise FetchError("collection interrupted", where=url, reason="interrupted", retryable=True)
            self.client.admit(url)
            with self.client.turn(url):
                self.sent.append(url)
                resp = super().send(request, stream=stream, timeout=timeout, **kwargs)
            if resp.status_code not in cfg.retry_statuses or attempt == attempts - 1:
                return resp
            delay = self.client.backoff(
                attempt, resp.headers.get("Retry-After"), url, date=resp.headers.get("Date")
            )
            log.info("retrying %s in %.2fs after HTTP %s", url, delay, resp.status_code)
            resp.close()
            self.client.count_retry()
            self.client.hold(delay, url)  # the run stops or winds down (first Ctrl-C): interrupted
        raise AssertionError("unreachable")  # pragma: no cover


class RefusingAdapter(HTTPAdapter):
    """The transport of a session no polite client was bound to: it sends nothing."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise FetchError(
            "request outside the polite client refused (a library session not bound to it)",
            where=request.url or "?",
            reason="host_not_allowed",
            hint="every network request must go through the collectors' polite client",
        )


def bind(session: requests.Session, adapter: HTTPAdapter) -> requests.Session:
    """Make ``adapter`` the only transport of ``session`` (for every scheme); returns it."""
    session.adapters.clear()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def adapter_of(session: requests.Session) -> HTTPAdapter | None:
    """The polite (or refusing) transport bound to ``session``, if any."""
    adapter = session.adapters.get("https://")
    return adapter if isinstance(adapter, PoliteAdapter | RefusingAdapter) else None
