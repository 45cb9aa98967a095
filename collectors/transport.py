"""The polite client's rules for sessions that libraries make themselves.

instaloader and yt-dlp send their own HTTP requests. Their sessions are given a
:class:`PoliteAdapter` as transport, so every request they send (each redirect hop included)
passes the same gates as ours: allowed hosts, robots.txt, the per-host rate and concurrency,
backoff honouring ``Retry-After``, the client's connect/read timeouts (a library's longer ones
are shortened to them) and a size cap on every answer's body (:class:`CappedBody`: a library
reads no more of an answer than the polite client would). ``host_map`` moves requests for a site's real hosts onto
a mirror (``--base-url``); a request moved to another host loses its credentials
(:data:`CREDENTIAL_HEADERS`: the login cookies and tokens of the real site never reach the
mirror). A session no rule was bound to refuses to send anything (:class:`RefusingAdapter`), so
a library that makes a session behind our back fails closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from collectors.config import normalize_host
from schemas.errors import FetchError
from schemas.redact import redacted_logger

if TYPE_CHECKING:
    from collectors.http import PoliteClient

log = redacted_logger("collectors.transport")

#: Headers that carry a site's credentials (the login session's cookies, tokens tied to it):
#: dropped from a request :func:`moved` to another host. The session's cookie jar holds them for
#: the real site's hosts only, so the mirror gets no cookie at all (those it sets itself are
#: kept by ``requests`` under the real host too, and dropped the same way).
CREDENTIAL_HEADERS = ("Cookie", "Authorization", "Proxy-Authorization", "X-CSRFToken")


def map_host(url: str, host_map: Mapping[str, str]) -> str:
    """``url`` with its scheme and host replaced by ``host_map[host]`` (a base URL) when mapped.
    A key starting with a dot (``.tiktokcdn.com``) maps that domain and every name under it."""
    parts = urlsplit(url)
    base = _mapped_base(normalize_host(parts.netloc), host_map) if parts.netloc else None
    if not base:
        return url
    target = urlsplit(base)
    prefix = target.path.rstrip("/")
    return urlunsplit(parts._replace(scheme=target.scheme, netloc=target.netloc, path=prefix + parts.path))


def _mapped_base(host: str, host_map: Mapping[str, str]) -> str | None:
    """The base URL ``host`` is mapped to: its own key, else the longest domain key above it."""
    if host in host_map:
        return host_map[host]
    if ":" in host:  # a domain key maps the web ports only, as the allow-list's domains
        return None
    domains = [k for k in host_map if k.startswith(".") and (host == k[1:] or host.endswith(k))]
    return host_map[max(domains, key=len)] if domains else None


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


#: redirect statuses: a hop, not an answer (it neither counts towards a host's block nor clears it)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def page_timeout_error(url: str, seconds: float, got: int) -> FetchError:
    """The ``timeout`` (retryable) of a page that took over ``seconds`` (``http.page_timeout_s``)
    to arrive, ``got`` bytes of it read: the polite client's own pages and libraries' alike."""
    return FetchError(
        f"the page took over {seconds:g}s to arrive ({got} bytes so far)",
        where=url,
        reason="timeout",
        retryable=True,
        hint="the site answers very slowly; rerun later, or raise http.page_timeout_s",
    )


#: the window over which a body must come at least ``min_rate`` bytes/s (:class:`CappedBody`)
RATE_WINDOW_S = 60.0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def bounded_timeout(timeout: Any, connect_s: float, read_s: float) -> tuple[float, float]:
    """``(connect, read)`` seconds of a request's ``timeout`` (a number, a pair, or None), each no
    longer than the client's (instaloader asks for 300 s, yt-dlp for one number for both)."""
    pair = timeout if isinstance(timeout, tuple | list) and len(timeout) == 2 else (timeout, timeout)
    connect, read = (_number(v) for v in pair)
    return (
        connect_s if connect is None or connect <= 0 else min(connect, connect_s),
        read_s if read is None or read <= 0 else min(read, read_s),
    )


def _declared_length(resp: requests.Response) -> int | None:
    value = (resp.headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() else None


class CappedBody:
    """A response's body (urllib3's raw response) that gives out at most ``cap`` bytes (counted
    decoded, so a compressed bomb is cut off too) and, with ``deadline_s``, arrives within that
    many seconds in all, however it trickles in. Past either it raises :class:`FetchError`
    (``too_large``, or ``timeout``: retryable) naming ``url``. Everything else is the raw
    response's own (:meth:`__getattr__`)."""

    def __init__(
        self, raw: Any, cap: int, url: str, *, deadline_s: float | None = None, min_rate: float = 0.0
    ) -> None:
        self._raw = raw
        self._cap = cap
        self._url = url
        self._deadline_s = deadline_s
        self._deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self._got = 0
        self._min_rate = min_rate
        self._window_start, self._window_got = time.monotonic(), 0

    def _count(self, data: bytes) -> bytes:
        self._got += len(data)
        if self._got > self._cap:
            self._raw.close()
            raise FetchError(
                f"response exceeds the {self._cap}-byte cap",
                where=self._url,
                reason="too_large",
                hint="raise http.max_page_bytes (pages) or http.max_body_bytes (media) if it is legitimate",
            )
        if self._min_rate > 0 and data:
            self._check_rate(len(data))
        if self._deadline is not None and data and time.monotonic() > self._deadline:
            self._raw.close()
            raise page_timeout_error(self._url, self._deadline_s or 0.0, self._got)
        return data

    def _check_rate(self, n: int) -> None:
        """Raise ``timeout`` (retryable) when the body came slower than ``min_rate`` bytes/s over
        a whole window of :data:`RATE_WINDOW_S` (as the polite client's own downloads)."""
        self._window_got += n
        elapsed = time.monotonic() - self._window_start
        if elapsed < RATE_WINDOW_S:
            return
        if self._window_got < self._min_rate * elapsed:
            self._raw.close()
            raise FetchError(
                f"slower than {self._min_rate:g} bytes/s for {RATE_WINDOW_S:g}s (after {self._got} bytes)",
                where=self._url,
                reason="timeout",
                retryable=True,
                hint="the site answers very slowly; rerun later to resume, or lower http.min_rate_bytes_s",
            )
        self._window_start, self._window_got = time.monotonic(), 0

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        """The raw response's ``read``, counted."""
        return self._count(self._raw.read(amt, *args, **kwargs))

    def read1(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        """The raw response's ``read1``, counted."""
        return self._count(self._raw.read1(amt, *args, **kwargs))

    def stream(self, amt: int | None = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        """The raw response's ``stream`` (what ``requests`` reads a body with), counted."""
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            yield self._count(chunk)

    def read_chunked(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        """The raw response's ``read_chunked``, counted."""
        for chunk in self._raw.read_chunked(amt, decode_content=decode_content):
            yield self._count(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def capped(
    resp: requests.Response,
    cap: int,
    *,
    method: str = "GET",
    deadline_s: float | None = None,
    refuse_declared: bool = True,
    min_rate: float = 0.0,
) -> requests.Response:
    """``resp`` whose body gives out at most ``cap`` bytes (:class:`CappedBody`); with
    ``refuse_declared``, an answer that declares more (``Content-Length``; not to a HEAD) is
    refused at once, ``too_large`` (without, only what is read counts: a reader may stop early)."""
    declared = _declared_length(resp)
    if refuse_declared and method.upper() != "HEAD" and declared is not None and declared > cap:
        resp.close()
        raise FetchError(
            f"response of {declared} bytes exceeds the {cap}-byte cap",
            where=resp.url,
            reason="too_large",
            hint="raise http.max_page_bytes (pages) or http.max_body_bytes (media) if it is legitimate",
        )
    resp.raw = CappedBody(resp.raw, cap, resp.url, deadline_s=deadline_s, min_rate=min_rate)
    return resp


class PoliteAdapter(HTTPAdapter):
    """A requests transport that sends through the polite client's rules.

    ``retry``: retry the statuses of ``http.retry_statuses`` (429, 5xx) with the client's
    backoff, honouring ``Retry-After``; the last answer is returned to the library, which
    decides what it means. Without it the adapter only gates (for libraries that retry
    themselves). Either way a busy answer returned with a ``Retry-After`` pauses its host that
    long (capped at ``http.retry_after_max_s``), so the library's own retry waits for it. ``host_map``: hosts whose requests go to another base URL instead, without
    their cookies and other credentials (:func:`moved`). ``cap``: the most bytes of an answer's
    body the library may read (default ``http.max_page_bytes``: instaloader's API answers);
    ``page``: the answer is a page, read within ``http.page_timeout_s`` in all; ``min_rate``: a
    body slower than this many bytes/s over a minute fails ``timeout`` (0: no floor). ``check``:
    called with each final answer (``url``, the response) before the library reads it; it may
    raise :class:`FetchError` to fail the request at once (instaloader's HTML-instead-of-JSON). A library's
    timeout longer than the client's connect/read timeouts is shortened to them.
    """

    def __init__(
        self,
        client: PoliteClient,
        *,
        host_map: Mapping[str, str] | None = None,
        retry: bool = True,
        cap: int | None = None,
        page: bool = True,
        min_rate: float = 0.0,
        check: Callable[[str, requests.Response], None] | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self.client = client
        self.host_map = {normalize_host(k): v for k, v in (host_map or {}).items()}
        self.retry = retry
        self.cap = cap or client.cfg.max_page_bytes
        self.page = page
        self.min_rate = min_rate
        #: called with each final answer (not a redirect) before the library gets it: it may
        #: raise :class:`FetchError` to fail the request at once, past the library's own retries
        self.check = check
        self.sent: list[str] = []  # every URL this adapter put on the wire, in order

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        url = map_host(request.url or "", self.host_map)
        if url != request.url:
            request = moved(request, url)  # a mirror: the real site's credentials stay behind
        cfg = self.client.cfg
        timeout = bounded_timeout(timeout, cfg.connect_timeout_s, cfg.read_timeout_s)
        attempts = cfg.max_retries + 1 if self.retry else 1
        for attempt in range(attempts):
            if self.client.stop.is_set():
                raise FetchError("collection interrupted", where=url, reason="interrupted", retryable=True)
            self.client.admit(url)
            self.client.refuse_if_blocked(url, url)  # the host blocks this client (block_after)
            with self.client.turn(url):
                self.sent.append(url)
                resp = super().send(request, stream=stream, timeout=timeout, **kwargs)
            status = resp.status_code
            if status not in cfg.retry_statuses or attempt == attempts - 1:
                if status in cfg.retry_statuses:
                    # the library retries itself (yt-dlp, instaloader): the host pauses as asked
                    # (Retry-After; a 429/503 without one: the backoff's delay), and its next
                    # request, and every other thread's, waits for that in the gate
                    self.client.busy(
                        attempt, status, url, resp.headers.get("Retry-After"), resp.headers.get("Date")
                    )
                if status not in _REDIRECTS and (status == 429 or status not in cfg.retry_statuses):
                    # as the client's own answers: a 403, or a 429 handed back past the retries,
                    # counts towards the host's block (http.block_after); any other answer clears it
                    self.client.note_answer(url, refused=status in (403, 429))
                deadline = cfg.page_timeout_s if self.page else None
                resp = capped(
                    resp,
                    self.cap,
                    method=request.method or "GET",
                    deadline_s=deadline,
                    min_rate=self.min_rate,
                )
                if self.check is not None and status not in _REDIRECTS:
                    self.check(url, resp)
                return resp
            delay = self.client.busy(
                attempt, status, url, resp.headers.get("Retry-After"), resp.headers.get("Date")
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
